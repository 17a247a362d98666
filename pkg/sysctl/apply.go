package sysctl

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Change records what Apply did for one entry, so a caller can log it or
// undo it.
type Change struct {
	Entry    Entry
	Path     string // the knob's file, e.g. /proc/sys/net/ipv6/conf/eth0/disable_ipv6
	Previous string // value before Apply, as the kernel printed it, trailing newline removed
	Written  bool   // false when the value was already right
	Skipped  bool   // an Optional entry whose knob does not exist: nothing read or written
}

// tree is a sysctl directory tree: /proc/sys/net in production, a temp
// directory in tests. It does no namespace switching: the caller runs it on
// a thread that is in the right netns.
type tree struct {
	root string
	// writeFile replaces a knob's value. Tests swap it to make writes fail,
	// which file modes cannot do when the tests run as root.
	writeFile func(path, value string) error
}

func newTree(root string) tree { return tree{root: root, writeFile: writeKnob} }

type target struct {
	entry Entry
	path  string
	skip  bool // Optional and absent
}

// apply writes entries in order, each only if its value differs. Every
// target is checked before anything is written, so a missing knob changes
// nothing. A failed write restores, newest first, what was already written.
func (t tree) apply(ifname string, entries []Entry) ([]Change, error) {
	targets, err := t.resolve(ifname, entries)
	if err != nil {
		return nil, err
	}
	changes := make([]Change, 0, len(targets))
	for i, tg := range targets {
		if tg.skip {
			changes = append(changes, Change{Entry: tg.entry, Path: tg.path, Skipped: true})
			continue
		}
		// Read just before writing, not all up front: when a list sets the
		// same knob twice, the second entry must compare against the first
		// entry's value, and restoring newest first ends at the original.
		prev, err := readKnob(tg.path)
		if err != nil {
			return nil, t.rollback(changes, atEntry(i, fmt.Errorf("sysctl %s on %s: %w", quote(tg.entry.label()), quote(ifname), err)))
		}
		c := Change{Entry: tg.entry, Path: tg.path, Previous: prev}
		if !sameValue(prev, tg.entry.Value) {
			if err := t.writeFile(tg.path, tg.entry.Value); err != nil {
				return nil, t.rollback(changes, atEntry(i, writeError(tg, ifname, err)))
			}
			c.Written = true
		}
		changes = append(changes, c)
	}
	return changes, nil
}

// rollback restores written changes, newest first, and returns cause with
// any restore failure appended: the caller must learn that the interface is
// left half-configured.
func (t tree) rollback(changes []Change, cause error) error {
	if err := t.restore(changes); err != nil {
		return fmt.Errorf("%w (and %w)", cause, err)
	}
	return cause
}

// restore writes back the previous value of every written change, newest
// first, going on past failures and reporting them all.
func (t tree) restore(changes []Change) error {
	var failed []string
	for i := len(changes) - 1; i >= 0; i-- {
		c := changes[i]
		if !c.Written {
			continue
		}
		if err := t.writeFile(c.Path, c.Previous); err != nil {
			failed = append(failed, fmt.Sprintf("restoring %s to %q: %v", c.Path, c.Previous, err))
		}
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

// verify checks that every knob holds its configured value. When a list
// sets a knob more than once the last entry is what apply leaves in place,
// so only that one is checked.
func (t tree) verify(ifname string, entries []Entry) error {
	targets, err := t.resolve(ifname, entries)
	if err != nil {
		return err
	}
	last := make(map[string]int, len(targets))
	for i, tg := range targets {
		last[tg.path] = i
	}
	var errs []error
	for i, tg := range targets {
		if last[tg.path] != i || tg.skip {
			continue
		}
		have, err := readKnob(tg.path)
		if err != nil {
			errs = append(errs, fmt.Errorf("sysctl %s on %s: %w", quote(tg.entry.label()), quote(ifname), err))
			continue
		}
		if !sameValue(have, tg.entry.Value) {
			errs = append(errs, mismatch("sysctl %s on %s: want %q, have %q", quote(tg.entry.label()), quote(ifname), tg.entry.Value, have))
		}
	}
	return errors.Join(errs...)
}

// resolve maps entries to files and checks that each is a regular file.
func (t tree) resolve(ifname string, entries []Entry) ([]target, error) {
	if err := CheckIfName(ifname); err != nil {
		return nil, err
	}
	targets := make([]target, 0, len(entries))
	for i, e := range entries {
		p, err := e.pathIn(t.root, ifname)
		if err != nil {
			return nil, atEntry(i, err)
		}
		// Lstat: /proc/sys has no symlinks, so one here means the tree is
		// not what we think it is; don't follow it.
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) && e.Optional && exists(filepath.Join(t.root, "ipv4", "conf", ifname)) {
			// The interface is here (every interface has IPv4 conf), only
			// the knob's family is off for it.
			targets = append(targets, target{entry: e, path: p, skip: true})
			continue
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, atEntry(i, t.missing(e, ifname, err))
		}
		if err != nil {
			return nil, atEntry(i, fmt.Errorf("sysctl %s on %s: %w", quote(e.label()), quote(ifname), err))
		}
		if !fi.Mode().IsRegular() {
			return nil, atEntry(i, invalid(nil, "sysctl %s on %s: %s is not a regular file", quote(e.label()), quote(ifname), p))
		}
		targets = append(targets, target{entry: e, path: p})
	}
	return targets, nil
}

// missing explains which level of the path is absent: a misspelt knob, an
// interface without that family's configuration, or a family the kernel
// does not provide in this netns all look alike as ENOENT.
func (t tree) missing(e Entry, ifname string, cause error) error {
	tableDir := filepath.Join(t.root, e.Family, e.Table)
	ifDir := filepath.Join(tableDir, ifname)
	var why string
	switch {
	case !exists(tableDir):
		why = fmt.Sprintf("%s does not exist: %s is not available in this network namespace", tableDir, e.Family)
		if e.Family == "mpls" {
			why += " (is the mpls_router module loaded?)"
		}
	case !exists(ifDir):
		why = fmt.Sprintf("%s does not exist: interface %q is not in this network namespace or has no %s %s", ifDir, ifname, e.Family, e.Table)
		if e.Family == "ipv6" {
			why += " (IPv6 needs an MTU of at least 1280)"
		}
	default:
		why = fmt.Sprintf("knob %q does not exist for interface %q (no %s)", e.Name, ifname, filepath.Join(ifDir, e.Name))
	}
	return invalid(cause, "sysctl %s: %s", quote(e.label()), why)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func writeError(tg target, ifname string, err error) error {
	// The kernel answers EINVAL or ERANGE when it cannot parse or accept a
	// value: that is the user's value, not the machine, at fault.
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ERANGE) {
		return invalid(err, "sysctl %s on %s: the kernel refused value %q: %v", quote(tg.entry.label()), quote(ifname), tg.entry.Value, err)
	}
	return fmt.Errorf("sysctl %s on %s: %w", quote(tg.entry.label()), quote(ifname), err)
}

// label names an entry in messages: as the user wrote it when known.
func (e Entry) label() string {
	if e.Raw != "" {
		return e.Raw
	}
	return e.String()
}

func readKnob(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\n"), nil
}

// writeKnob writes value in a single write(2), as the kernel parses each
// write on its own, and never creates the file.
func writeKnob(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	n, err := f.Write([]byte(value))
	if err == nil && n < len(value) {
		err = io.ErrShortWrite
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// sameValue compares values with runs of whitespace folded: the kernel
// prints multi-value sysctls with tabs ("4096\t131072\t6291456") while
// users write spaces.
func sameValue(a, b string) bool {
	return strings.Join(strings.Fields(a), " ") == strings.Join(strings.Fields(b), " ")
}
