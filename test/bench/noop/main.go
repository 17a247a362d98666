// Command bench-noop is the floor of the benchmarks: a chained CNI plugin that does nothing but what
// every chained plugin must do, through the same skel as ndp-announce. ADD reads its config from
// stdin, parses prevResult and prints it back in the config's version; DEL, CHECK, GC and STATUS
// succeed. `make bench` builds it into .tools/bin, and P2 and P3 chain it after bridge, so that
// "ADD added over the no-op plugin" is what ndp-announce's own steps cost, without the exec, Go
// runtime start and libcni bookkeeping that any chained Go plugin pays.
package main

import (
	"encoding/json"
	"fmt"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

func main() {
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add:    cmdAdd,
		Del:    func(*skel.CmdArgs) error { return nil },
		Check:  func(*skel.CmdArgs) error { return nil },
		GC:     func(*skel.CmdArgs) error { return nil },
		Status: func(*skel.CmdArgs) error { return nil },
	}, version.PluginSupports("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"), "bench-noop: a chained CNI plugin that passes prevResult through")
}

func cmdAdd(args *skel.CmdArgs) error {
	conf := &types.NetConf{}
	if err := json.Unmarshal(args.StdinData, conf); err != nil {
		return types.NewError(types.ErrDecodingFailure, fmt.Sprintf("network config: %v", err), "")
	}
	if err := version.ParsePrevResult(conf); err != nil {
		return err
	}
	if conf.PrevResult == nil {
		return types.NewError(types.ErrInvalidNetworkConfig, "prevResult is required: bench-noop is chained after a plugin that makes the interface", "")
	}
	return types.PrintResult(conf.PrevResult, conf.CNIVersion)
}
