package iface

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ndp-announce/ndp-announce/internal/nstest"
	"github.com/ndp-announce/ndp-announce/pkg/sysctl"
)

func mustEntries(t *testing.T, list ...string) []sysctl.Entry {
	t.Helper()
	entries, err := sysctl.ParseList(list)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func openTB(t *testing.T, tb *testbed) *Handle {
	t.Helper()
	c, err := Open(tb.target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// An IPv4-only interface gets IPv6 turned off, through the same sysctl
// pass as the user's entries; Unconfigure gives both back.
func TestConfigureDisablesUnusedIPv6(t *testing.T) {
	tb := newTestbed(t)
	tb.bringUp(t)
	addAddr(t, tb.ctrH, tbIf, "198.51.100.10/24", 0)
	c := openTB(t, tb)
	cfg, err := c.Configure(ConfigureOptions{
		Sysctls:           mustEntries(t, "net.ipv4.conf.IFNAME.arp_notify=1"),
		DisableUnusedIPv6: true,
		Addrs:             []netip.Prefix{netip.MustParsePrefix("198.51.100.10/24")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.IPv6Disabled || len(cfg.Changes) != 2 || len(cfg.Addrs) != 1 {
		t.Errorf("Configure = %+v; want IPv6 disabled, 2 changes, the address kept", cfg)
	}
	if got := nstest.Sysctl(t, tb.ctr, "net.ipv6.conf.eth0.disable_ipv6"); got != "1" {
		t.Errorf("disable_ipv6 = %s in the container, want 1", got)
	}
	if got := nstest.Sysctl(t, tb.host, "net.ipv6.conf.vh0.disable_ipv6"); got != "0" {
		t.Errorf("host side changed: disable_ipv6 = %s on %s", got, tbPort)
	}
	if err := c.Unconfigure(cfg); err != nil {
		t.Fatal(err)
	}
	for knob, want := range map[string]string{"net.ipv6.conf.eth0.disable_ipv6": "0", "net.ipv4.conf.eth0.arp_notify": "0"} {
		if got := nstest.Sysctl(t, tb.ctr, knob); got != want {
			t.Errorf("%s = %s after Unconfigure, want %s", knob, got, want)
		}
	}
}

// disable_ipv6=1 from the user's sysctls removes the IPv6 address: Configure
// reports it dropped and keeps the IPv4 one; nothing extra is written.
func TestConfigureReportsDroppedIPv6(t *testing.T) {
	tb := newTestbed(t)
	tb.bringUp(t)
	addAddr(t, tb.ctrH, tbIf, "198.51.100.10/24", 0)
	addAddr(t, tb.ctrH, tbIf, "2001:db8::10/64", unix.IFA_F_NODAD)
	v4, v6 := netip.MustParsePrefix("198.51.100.10/24"), netip.MustParsePrefix("2001:db8::10/64")
	c := openTB(t, tb)
	cfg, err := c.Configure(ConfigureOptions{
		Sysctls:           mustEntries(t, "net.ipv6.conf.IFNAME.disable_ipv6=1"),
		DisableUnusedIPv6: true,
		Addrs:             []netip.Prefix{v4, v6},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Dropped) != 1 || cfg.Dropped[0] != v6 || len(cfg.Addrs) != 1 || cfg.Addrs[0] != v4 || cfg.IPv6Disabled || len(cfg.Changes) != 1 {
		t.Errorf("Configure = %+v; want %v dropped, %v kept, one change", cfg, v6, v4)
	}
	// Already right: a second pass writes nothing.
	cfg, err = c.Configure(ConfigureOptions{Sysctls: mustEntries(t, "net.ipv6.conf.IFNAME.disable_ipv6=1"), Addrs: []netip.Prefix{v4}})
	if err != nil || cfg.Changes[0].Written {
		t.Errorf("second Configure = %+v, %v; want no write", cfg, err)
	}
}

// A refused value fails Configure and leaves every sysctl as it was.
func TestConfigureRefusedValueChangesNothing(t *testing.T) {
	tb := newTestbed(t)
	tb.bringUp(t)
	c := openTB(t, tb)
	_, err := c.Configure(ConfigureOptions{
		Sysctls: mustEntries(t, "net.ipv4.conf.IFNAME.arp_notify=1", "net.ipv4.conf.IFNAME.arp_ignore=abc"),
	})
	var ee *sysctl.EntryError
	if !errors.Is(err, sysctl.ErrInvalid) || !errors.As(err, &ee) || ee.Index != 1 {
		t.Fatalf("Configure = %v; want ErrInvalid at entry 1", err)
	}
	if got := nstest.Sysctl(t, tb.ctr, "net.ipv4.conf.eth0.arp_notify"); got != "0" {
		t.Errorf("arp_notify = %s after a failed Configure, want 0", got)
	}
}

// Below an MTU of 1280 the kernel runs no IPv6 on a link and removes its
// ipv6 conf directory: IPv6 is already off, which is not an error.
func TestConfigureBelowIPv6MinimumMTU(t *testing.T) {
	tb := newTestbed(t)
	link, err := tb.ctrH.LinkByName(tbIf)
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.ctrH.LinkSetMTU(link, 1200); err != nil {
		t.Fatal(err)
	}
	tb.bringUp(t)
	c := openTB(t, tb)
	cfg, err := c.Configure(ConfigureOptions{DisableUnusedIPv6: true})
	if err != nil || cfg.IPv6Disabled || !cfg.Changes[0].Skipped {
		t.Errorf("Configure on an MTU 1200 link = %+v, %v; want the entry skipped, no error", cfg, err)
	}
	if _, err := c.Configure(ConfigureOptions{Sysctls: mustEntries(t, "net.ipv6.conf.IFNAME.disable_ipv6=0")}); !errors.Is(err, sysctl.ErrInvalid) {
		t.Errorf("enabling IPv6 on an MTU 1200 link = %v, want ErrInvalid", err)
	}
}

// The handle's MissingAddrs compares addresses, not prefix lengths.
func TestMissingAddrs(t *testing.T) {
	tb := newTestbed(t)
	tb.bringUp(t)
	addAddr(t, tb.ctrH, tbIf, "198.51.100.10/24", 0)
	want := []netip.Prefix{netip.MustParsePrefix("198.51.100.10/24"), netip.MustParsePrefix("2001:db8::10/64")}
	missing, err := MissingAddrs(tb.target, want)
	if err != nil || len(missing) != 1 || missing[0] != want[1] {
		t.Errorf("MissingAddrs = %v, %v; want only %v", missing, err, want[1])
	}
	if _, err := MissingAddrs(Target{NetNS: tb.ctr.Path(), IfName: "nosuch0"}, want); err == nil {
		t.Error("no error for a missing interface")
	}
}

// Announce with nothing to send opens no socket and waits for nothing.
func TestAnnounceNothingToSend(t *testing.T) {
	tb := newTestbed(t)
	tb.bringUp(t)
	c := openTB(t, tb)
	start := time.Now()
	a := c.Announce(context.Background(), []netip.Prefix{netip.MustParsePrefix("198.51.100.10/24")}, AnnounceOptions{Waits: DefaultWaits})
	if a.Sender != nil || len(a.Waits) != 0 || time.Since(start) > time.Second {
		t.Errorf("Announce with 0 rounds = %+v; want nothing done", a)
	}
}
