package sysctl

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/ndp-announce/ndp-announce/internal/nstest"
	"github.com/vishvananda/netlink"
)

// linkIf has a dot so the tests prove such names resolve to one directory.
const linkIf = "vt0.100"

// newNetNSWithLink creates a throwaway netns holding a veth pair, one end
// named linkIf, and returns its path. Everything is removed when the test
// ends. A veth rather than a dummy: some kernels (this test machine's among them) are
// built without the dummy driver, and every container runtime has veth.
func newNetNSWithLink(t *testing.T) string {
	t.Helper()
	nstest.RequireRoot(t)
	target := nstest.NewNetNS(t)
	h := nstest.Handle(t, target)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: linkIf}, PeerName: linkIf + "p"}
	if err := h.LinkAdd(veth); err != nil {
		t.Fatalf("adding veth %s in %s: %v", linkIf, target.Path(), err)
	}
	return target.Path()
}

func readIn(t *testing.T, nsPath, path string) string {
	t.Helper()
	var v string
	err := ns.WithNetNSPath(nsPath, func(ns.NetNS) error {
		var err error
		v, err = readKnob(path)
		return err
	})
	if err != nil {
		t.Fatalf("reading %s in %s: %v", path, nsPath, err)
	}
	return v
}

func writeIn(t *testing.T, nsPath, path, value string) {
	t.Helper()
	err := ns.WithNetNSPath(nsPath, func(ns.NetNS) error { return writeKnob(path, value) })
	if err != nil {
		t.Fatalf("writing %s in %s: %v", path, nsPath, err)
	}
}

// flip returns a boolean sysctl value other than the current one, so the
// test needs no assumption about the kernel's defaults.
func flip(v string) string {
	if v == "0" {
		return "1"
	}
	return "0"
}

func knobPath(family, name string) string {
	return filepath.Join(DefaultRoot, family, "conf", linkIf, name)
}

// The root netns has no vt0.100, so the knob must not exist there: a
// write that went to the wrong netns would have failed or shown up here.
func assertNotInRootNetNS(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s in the root netns: stat error %v, want not-exist", path, err)
	}
	if _, err := netlink.LinkByName(linkIf); err == nil {
		t.Errorf("link %s exists in the root netns", linkIf)
	}
}

func TestApplyVerifyInNetNS(t *testing.T) {
	nsPath := newNetNSWithLink(t)
	v6Path, v4Path := knobPath("ipv6", "disable_ipv6"), knobPath("ipv4", "arp_notify")
	old6, old4 := readIn(t, nsPath, v6Path), readIn(t, nsPath, v4Path)
	want6, want4 := flip(old6), flip(old4)
	entries := mustParse(t,
		"net.ipv6.conf.IFNAME.disable_ipv6="+want6,
		"net.ipv4.conf.IFNAME.arp_notify="+want4,
	)

	changes, err := Apply(nsPath, linkIf, entries)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got := readIn(t, nsPath, v6Path); got != want6 {
		t.Errorf("disable_ipv6 = %q in the netns, want %q", got, want6)
	}
	if got := readIn(t, nsPath, v4Path); got != want4 {
		t.Errorf("arp_notify = %q in the netns, want %q", got, want4)
	}
	if len(changes) != 2 ||
		changes[0].Path != v6Path || changes[0].Previous != old6 || !changes[0].Written ||
		changes[1].Path != v4Path || changes[1].Previous != old4 || !changes[1].Written {
		t.Errorf("changes = %+v, want both written with previous %q, %q", changes, old6, old4)
	}
	assertNotInRootNetNS(t, v6Path)
	assertNotInRootNetNS(t, v4Path)

	// Applying again writes nothing: the values are already in place.
	changes, err = Apply(nsPath, linkIf, entries)
	if err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	for _, c := range changes {
		if c.Written {
			t.Errorf("second Apply rewrote %s", c.Path)
		}
	}

	if err := Verify(nsPath, linkIf, entries); err != nil {
		t.Errorf("Verify after Apply: %v", err)
	}
	writeIn(t, nsPath, v4Path, old4)
	err = Verify(nsPath, linkIf, entries)
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("Verify after a manual change = %v, want ErrMismatch", err)
	}
	wantMsg := `sysctl "net.ipv4.conf.IFNAME.arp_notify=` + want4 + `" on "vt0.100": want "` + want4 + `", have "` + old4 + `"`
	if err.Error() != wantMsg {
		t.Errorf("Verify error\n %q\nwant\n %q", err, wantMsg)
	}
}

func TestApplyInNetNSMissingKnobChangesNothing(t *testing.T) {
	nsPath := newNetNSWithLink(t)
	v6Path := knobPath("ipv6", "disable_ipv6")
	old6 := readIn(t, nsPath, v6Path)
	entries := mustParse(t,
		"net.ipv6.conf.IFNAME.disable_ipv6="+flip(old6),
		"net.ipv4.conf.IFNAME.no_such_knob=1",
	)
	_, err := Apply(nsPath, linkIf, entries)
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Apply = %v, want ErrInvalid and fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), `"net.ipv4.conf.IFNAME.no_such_knob=1"`) || !strings.Contains(err.Error(), `does not exist for interface "vt0.100"`) {
		t.Errorf("error %q does not name the entry and say the knob does not exist", err)
	}
	if got := readIn(t, nsPath, v6Path); got != old6 {
		t.Errorf("disable_ipv6 = %q, want it untouched at %q", got, old6)
	}
}

// The kernel refusing a value midway is a real mid-list write failure:
// the entry written before it must be restored.
func TestApplyInNetNSRestoresWhenKernelRefuses(t *testing.T) {
	nsPath := newNetNSWithLink(t)
	v6Path := knobPath("ipv6", "disable_ipv6")
	old6 := readIn(t, nsPath, v6Path)
	entries := mustParse(t,
		"net.ipv6.conf.IFNAME.disable_ipv6="+flip(old6),
		"net.ipv4.conf.IFNAME.arp_notify=bogus",
	)
	_, err := Apply(nsPath, linkIf, entries)
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("Apply = %v, want ErrInvalid wrapping EINVAL", err)
	}
	if !strings.Contains(err.Error(), `"net.ipv4.conf.IFNAME.arp_notify=bogus"`) {
		t.Errorf("error %q does not name the entry", err)
	}
	if got := readIn(t, nsPath, v6Path); got != old6 {
		t.Errorf("disable_ipv6 = %q after a failed Apply, want it restored to %q", got, old6)
	}
}

func TestApplyInNetNSErrors(t *testing.T) {
	nsPath := newNetNSWithLink(t)
	entries := mustParse(t, "net.ipv4.conf.IFNAME.arp_notify=1")

	_, err := Apply(filepath.Join(t.TempDir(), "no-such-netns"), linkIf, entries)
	if err == nil || errors.Is(err, ErrInvalid) {
		t.Errorf("Apply in a missing netns = %v, want an operational error", err)
	}
	// An interface name that is valid but not in the netns.
	_, err = Apply(nsPath, "lo0", entries)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `interface "lo0" is not in this network namespace`) {
		t.Errorf("Apply on an interface absent from the netns = %v", err)
	}
	if err := Verify(nsPath, "../"+linkIf, entries); !errors.Is(err, ErrInvalid) {
		t.Errorf("Verify with a bad interface name = %v, want ErrInvalid", err)
	}
}

// Revert puts back what Apply changed, and leaves alone what it found right.
func TestRevertRestoresPreviousValues(t *testing.T) {
	nsPath := newNetNSWithLink(t)
	notify := "/proc/sys/net/ipv4/conf/" + linkIf + "/arp_notify"
	announce := "/proc/sys/net/ipv4/conf/" + linkIf + "/arp_announce"
	origNotify, origAnnounce := readIn(t, nsPath, notify), readIn(t, nsPath, announce)

	entries, err := ParseList([]string{
		"net.ipv4.conf.IFNAME.arp_notify=" + flip(origNotify),
		"net.ipv4.conf.IFNAME.arp_announce=" + origAnnounce, // already right: not written
	})
	if err != nil {
		t.Fatal(err)
	}
	changes, err := Apply(nsPath, linkIf, entries)
	if err != nil {
		t.Fatal(err)
	}
	if got := readIn(t, nsPath, notify); got != flip(origNotify) {
		t.Fatalf("Apply did not write arp_notify: %s", got)
	}
	writeIn(t, nsPath, announce, "2") // someone else's later change must survive Revert
	if err := Revert(nsPath, changes); err != nil {
		t.Fatal(err)
	}
	if got := readIn(t, nsPath, notify); got != origNotify {
		t.Errorf("arp_notify after Revert = %s, want %s", got, origNotify)
	}
	if got := readIn(t, nsPath, announce); got != "2" {
		t.Errorf("arp_announce after Revert = %s: an unwritten change was reverted", got)
	}
}
