package lab

import (
	"os"
	"testing"
)

// ForTest builds a lab for a root test: it skips t unless it runs as root
// (as root, here and in CI, it runs for real), fails t if the lab cannot be
// built, and closes the lab when t ends, failing t if a process was still
// running in it or a namespace could not be removed.
func ForTest(t testing.TB, o Options) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	l, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}
