// Command ndp-announce-daemon is the node service (pkg/daemon); `ndp-announce daemon ARGS` runs it.
//
// It is a binary of its own so that the plugin, run once per ADD, does not pay the Prometheus
// client's package initialisation (about 1.2 ms per exec measured here) that only the service needs.
package main

import (
	"os"
	"time"

	"github.com/ndp-announce/ndp-announce/pkg/daemon"
)

func main() {
	time.Local = time.UTC
	os.Exit(daemon.Main(os.Args[1:], os.Stderr))
}
