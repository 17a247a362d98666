// Package lab is the test lab of ndp-announce in Go, the counterpart of
// test/integration/lab.bash: the root tests of pkg/iface and pkg/l2disco,
// the benchmarks (test/bench) and the lab's helper binary (test/labtool)
// build their network namespaces with it and clean up after them with it.
// It is for tests and test tools only.
//
// New builds a "host" netns with a Linux bridge and, when asked, a "peer"
// netns plugged into it: a real Linux stack whose neighbour cache
// (NetNS.Neigh, over netlink) is what announcements must fix. Containers
// are namespaces of their own (AddContainer), given their interface by the
// real bridge plugin or by Plug, a veth from the bridge. Namespaces are
// named "<tag>-<id>-..." under RunDir, so nsenter, cnidriver and the
// plugins open them by path like a runtime's. Close stops whatever still
// runs in them (StopStragglers, also what lab.bash runs through `labtool
// stragglers`) and removes them; ForTest does both for a root test.
package lab
