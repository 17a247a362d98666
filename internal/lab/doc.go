// Package lab is the test lab of ndp-announce in Go, the counterpart of
// test/integration/lab.bash: what the root tests, the benchmarks and the
// lab's helper binary (test/labtool) share to build network namespaces and
// clean up after them. It is for tests and test tools only.
//
// StopStragglers is the one implementation of "stop whatever still runs in
// the lab's namespaces": lab.bash calls it through `labtool stragglers`.
package lab
