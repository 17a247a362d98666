package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// daemonSubcommand runs the node service in the foreground. The service is its own binary,
// installed beside this one (cmd/ndp-announce-daemon): its metrics library costs every process
// that links it about a millisecond of start-up, which ADD must not pay.
const (
	daemonSubcommand = "daemon"
	daemonBinary     = "ndp-announce-daemon"
)

// daemonSubcommandMain replaces this process with the service's binary when args ask for it; it
// returns only if that fails.
func daemonSubcommandMain(args []string) (int, bool) {
	if len(args) < 2 || args[1] != daemonSubcommand {
		return 0, false
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ndp-announce daemon: cannot find this binary:", err)
		return 1, true
	}
	bin := filepath.Join(filepath.Dir(self), daemonBinary)
	err = syscall.Exec(bin, append([]string{bin}, args[2:]...), os.Environ())
	fmt.Fprintf(os.Stderr, "ndp-announce daemon: cannot run %s (install it beside %s): %v\n", bin, self, err)
	return 1, true
}
