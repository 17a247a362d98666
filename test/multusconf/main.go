// Command multusconf prints the configuration Multus would run for a pod of a deploy/multus
// example: the selected NetworkAttachmentDefinition's spec.config with the pod's cni-args in every
// plugin's args.cni (internal/multus), and the interface the pod asks for. The bats lab runs it.
//
//	multusconf FILE POD   # prints the config JSON, then a line "interface NAME"
package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/ndp-announce/ndp-announce/internal/multus"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: multusconf FILE POD")
		os.Exit(64)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "multusconf:", err)
		os.Exit(1)
	}
}

func run(file, pod string) error {
	ex, err := multus.Read(file)
	if err != nil {
		return err
	}
	for _, sel := range ex.Selections {
		if sel.Pod != pod {
			continue
		}
		conf, err := ex.Delegate(sel)
		if err != nil {
			return err
		}
		fmt.Printf("%s\ninterface %s\n", bytes.TrimSpace(conf), sel.Interface)
		return nil
	}
	return fmt.Errorf("%s: no pod %s with a network selection", file, pod)
}
