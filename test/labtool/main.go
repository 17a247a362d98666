// Command labtool gives test/integration/lab.bash (and so bats and make demo)
// what the Go code already does, instead of a second copy in shell:
//
//	labtool wait [-timeout 5s] [-host-netns PATH] NETNS IFNAME COND...
//	    waits with pkg/iface until every COND holds for IFNAME in NETNS:
//	    link-up, bridge-port (its veth peer in the host netns forwards),
//	    mcast-route. Exit 0 when all are met; 1, with what each wait saw, when
//	    one gave up or was skipped (the lab expects every one it asks for).
//	labtool stragglers [-grace 2s] NETNS...
//	    stops every process that runs in one of the namespaces (SIGTERM, then
//	    SIGKILL after the grace period) and prints one line per process on
//	    stderr. Exit 0 when there was none, 1 when any was found: a leak.
//
// `make deps` builds it into .tools/bin.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "wait":
		os.Exit(waitMain(os.Args[2:]))
	case "stragglers":
		os.Exit(stragglersMain(os.Args[2:]))
	}
	usage()
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: labtool wait [-timeout D] [-host-netns PATH] NETNS IFNAME COND...")
	fmt.Fprintln(os.Stderr, "       labtool stragglers [-grace D] NETNS...")
	os.Exit(64)
}
