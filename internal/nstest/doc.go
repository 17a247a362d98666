// Package nstest holds the helpers that the root tests of pkg/iface,
// pkg/l2disco and pkg/sysctl share: throwaway network namespaces, netlink
// handles into them, and reading, setting and watching a peer's neighbour
// entries. It is for tests only; nothing outside a _test.go file imports it.
//
// Every helper fails the test itself (t.Fatalf) and removes what it created
// with t.Cleanup, also when the test fails. A test's own topology (which
// namespaces, links and addresses) stays in its package.
package nstest
