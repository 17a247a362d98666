package sysctl

import (
	"fmt"

	"github.com/containernetworking/plugins/pkg/ns"
)

// NetNS is an open network namespace that runs a function on a thread
// inside it; ns.NetNS is one. /proc/sys/net resolves against the calling
// thread's namespace, so the function must not start goroutines.
type NetNS interface {
	Do(func(ns.NetNS) error) error
}

// Apply sets entries on interface ifname inside the network namespace at
// netnsPath, in order, writing only values that differ, and returns one
// Change per entry. Nothing is written unless every knob exists; if a write
// fails, what was already written is restored (best effort) and the error
// names the entry.
func Apply(netnsPath, ifname string, entries []Entry) ([]Change, error) {
	var changes []Change
	err := withPath(netnsPath, func(n NetNS) (err error) {
		changes, err = ApplyIn(n, ifname, entries)
		return err
	})
	return changes, err
}

// ApplyIn is Apply in a namespace the caller has open already.
func ApplyIn(n NetNS, ifname string, entries []Entry) ([]Change, error) {
	if err := CheckIfName(ifname); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, nil
	}
	var changes []Change
	err := n.Do(func(ns.NetNS) error {
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
	if !anyWritten(changes) {
		return nil
	}
	return withPath(netnsPath, func(n NetNS) error { return RevertIn(n, changes) })
}

// RevertIn is Revert in a namespace the caller has open already.
func RevertIn(n NetNS, changes []Change) error {
	if !anyWritten(changes) {
		return nil
	}
	return n.Do(func(ns.NetNS) error { return newTree(DefaultRoot).restore(changes) })
}

func anyWritten(changes []Change) bool {
	for _, c := range changes {
		if c.Written {
			return true
		}
	}
	return false
}

// Verify checks, inside the network namespace at netnsPath, that every
// entry's knob on ifname holds the configured value (for CNI CHECK). A
// value that differs is reported with errors.Is(err, ErrMismatch).
func Verify(netnsPath, ifname string, entries []Entry) error {
	return withPath(netnsPath, func(n NetNS) error { return VerifyIn(n, ifname, entries) })
}

// VerifyIn is Verify in a namespace the caller has open already.
func VerifyIn(n NetNS, ifname string, entries []Entry) error {
	if err := CheckIfName(ifname); err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	return n.Do(func(ns.NetNS) error {
		return newTree(DefaultRoot).verify(ifname, entries)
	})
}

// withPath opens the namespace at netnsPath for fn.
func withPath(netnsPath string, fn func(NetNS) error) error {
	target, err := ns.GetNS(netnsPath)
	if err != nil {
		return fmt.Errorf("sysctl: opening network namespace %s: %w", netnsPath, err)
	}
	defer target.Close()
	return fn(target)
}
