package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/ndp-announce/ndp-announce/internal/lab"
)

func stragglersMain(args []string) int {
	fs := flag.NewFlagSet("labtool stragglers", flag.ContinueOnError)
	grace := fs.Duration("grace", 2*time.Second, "time between SIGTERM and SIGKILL")
	if err := fs.Parse(args); err != nil {
		usage()
	}
	found := lab.StopStragglers(fs.Args(), *grace)
	for _, f := range found {
		fmt.Fprintf(os.Stderr, "labtool stragglers: still running, stopped: %s\n", f)
	}
	if len(found) > 0 {
		return 1
	}
	return 0
}
