package sysctl

import (
	"fmt"

	"github.com/containernetworking/plugins/pkg/ns"
)

// Apply sets entries on interface ifname inside the network namespace at
// netnsPath, in order, writing only values that differ, and returns one
// Change per entry. Nothing is written unless every knob exists; if a write
// fails, what was already written is restored (best effort) and the error
// names the entry.
func Apply(netnsPath, ifname string, entries []Entry) ([]Change, error) {
	if err := CheckIfName(ifname); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, nil
	}
	var changes []Change
	err := inNetNS(netnsPath, func() error {
		var err error
		changes, err = newTree(DefaultRoot).apply(ifname, entries)
		return err
	})
	return changes, err
}

// Revert undoes what Apply did inside the network namespace at netnsPath:
// each written change gets its previous value back, newest first. A caller
// whose next step failed uses it so that a failed ADD leaves the interface as
// it found it.
func Revert(netnsPath string, changes []Change) error {
	written := false
	for _, c := range changes {
		written = written || c.Written
	}
	if !written {
		return nil
	}
	return inNetNS(netnsPath, func() error { return newTree(DefaultRoot).restore(changes) })
}

// Verify checks, inside the network namespace at netnsPath, that every
// entry's knob on ifname holds the configured value (for CNI CHECK). A
// value that differs is reported with errors.Is(err, ErrMismatch).
func Verify(netnsPath, ifname string, entries []Entry) error {
	if err := CheckIfName(ifname); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	return inNetNS(netnsPath, func() error {
		return newTree(DefaultRoot).verify(ifname, entries)
	})
}

// inNetNS runs fn on an OS thread switched into the netns: /proc/sys/net
// resolves against the calling thread's namespace, so fn must not start
// goroutines or hand the file work to another thread.
func inNetNS(netnsPath string, fn func() error) error {
	target, err := ns.GetNS(netnsPath)
	if err != nil {
		return fmt.Errorf("sysctl: opening network namespace %s: %w", netnsPath, err)
	}
	defer target.Close()
	return target.Do(func(ns.NetNS) error { return fn() })
}
