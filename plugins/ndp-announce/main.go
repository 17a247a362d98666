// Command ndp-announce is a chained CNI plugin that makes a recycled pod IP reachable the moment ADD
// returns: it sends unsolicited ARP and IPv6 Neighbour Advertisements once the interface can be heard,
// so that peers replace the previous owner's MAC in their neighbour caches.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/ndp-announce/ndp-announce/pkg/announcer"
	"github.com/ndp-announce/ndp-announce/pkg/installer"
)

// Version is stamped by the Makefile (-ldflags -X main.Version=...).
var Version = "dev"

// supportedVersions are the CNI spec versions ndp-announce speaks; 0.3.0 is the first with chaining.
var supportedVersions = version.PluginSupports("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")

func main() {
	// Logs are in UTC; it also spares every ADD reading /etc/localtime.
	time.Local = time.UTC
	// The background announcer is this binary re-executed with an argument runtimes never pass.
	if len(os.Args) > 1 && os.Args[1] == announcer.Subcommand {
		os.Exit(announcer.Main(os.Args[2:]))
	}
	if code, ok := daemonSubcommandMain(os.Args); ok {
		os.Exit(code)
	}
	if len(os.Args) > 1 && installer.IsCommand(os.Args[1]) {
		os.Exit(installer.Main(os.Args[1], os.Args[2:], installer.Env{
			Version: Version, ValidatePluginConfig: validatePluginConfig}))
	}
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add:    cmdAdd,
		Del:    cmdDel,
		Check:  cmdCheck,
		GC:     cmdGC,
		Status: cmdStatus,
	}, supportedVersions, fmt.Sprintf("ndp-announce %s: announces a container's addresses with ARP and IPv6 NA after bridge", Version))
}
