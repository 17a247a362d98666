package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/ndp-announce/ndp-announce/pkg/iface"
)

// waits are the conditions `labtool wait` knows, by their command-line name.
var waits = map[string]func(context.Context, iface.Target) iface.WaitResult{
	"link-up":     iface.WaitLinkUp,
	"bridge-port": iface.WaitBridgePort,
	"mcast-route": iface.WaitMcastRoute,
}

func waitMain(args []string) int {
	fs := flag.NewFlagSet("labtool wait", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 5*time.Second, "how long all the waits may take together")
	host := fs.String("host-netns", "", "the host netns path (where a veth's bridge port is); default: labtool's own")
	if err := fs.Parse(args); err != nil || fs.NArg() < 3 {
		usage()
	}
	t := iface.Target{NetNS: fs.Arg(0), IfName: fs.Arg(1), HostNetNS: *host}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	failed := 0
	for _, cond := range fs.Args()[2:] {
		wait, ok := waits[cond]
		if !ok {
			fmt.Fprintf(os.Stderr, "labtool wait: unknown condition %q (link-up, bridge-port, mcast-route)\n", cond)
			return 64
		}
		if r := wait(ctx, t); !r.Met || r.Skipped != "" {
			fmt.Fprintf(os.Stderr, "labtool wait: %s: %s\n", t, r)
			failed++
		}
	}
	if failed > 0 {
		return 1
	}
	return 0
}
