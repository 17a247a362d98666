// Package nstest holds the testing.TB helpers that the root tests of
// pkg/iface, pkg/l2disco and pkg/sysctl share: throwaway network namespaces,
// netlink handles into them, and reading (with internal/lab), setting and
// watching a peer's neighbour entries. The labs those tests build (a bridge,
// a peer, containers) are internal/lab's. It is for tests only; nothing
// outside a _test.go file imports it.
//
// Every helper fails the test itself (t.Fatalf) and removes what it created
// with t.Cleanup, also when the test fails.
package nstest
