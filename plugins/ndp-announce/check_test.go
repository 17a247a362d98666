package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"

	"github.com/ndp-announce/ndp-announce/internal/nstest"
)

// CHECK fails when what ADD promised no longer holds: a configured sysctl changed, or an IPv6
// address of the result left the interface. It passes again once the sysctl is put back.
func TestCheckFailures(t *testing.T) {
	b := newBed(t)
	for _, ver := range chainingVersions() {
		if !testutils.SpecVersionHasCHECK(ver) {
			continue
		}
		t.Run(ver, func(t *testing.T) {
			a := b.attach(t, attachOptions{Version: ver})
			sysctls := []string{"net.ipv4.conf.IFNAME.arp_ignore=1"}
			conf := a.conf(t, map[string]any{"advertiseCount": 1, "sysctls": sysctls})
			res, err := a.add(t, conf)
			if err != nil {
				t.Fatalf("ADD: %v", err)
			}
			t.Cleanup(func() { a.del(conf) })
			checkConf := a.conf(t, map[string]any{"prevResult": res, "sysctls": sysctls})
			if err := a.check(checkConf); err != nil {
				t.Fatalf("CHECK right after ADD: %v", err)
			}

			a.sysctl(t, "net.ipv4.conf.IFNAME.arp_ignore", "0")
			if err := a.check(checkConf); err == nil || !strings.Contains(err.Error(), "arp_ignore") {
				t.Errorf("CHECK after arp_ignore went back to 0 = %v, want an error naming arp_ignore", err)
			}
			a.sysctl(t, "net.ipv4.conf.IFNAME.arp_ignore", "1")
			if err := a.check(checkConf); err != nil {
				t.Errorf("CHECK once arp_ignore is 1 again: %v", err)
			}

			v6 := &netlink.Addr{IPNet: prefixNet(netip.PrefixFrom(a.ipv6, 64))}
			if err := a.ctr.Handle.AddrDel(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: a.index}}, v6); err != nil {
				t.Fatalf("remove %s from the container: %v", a.ipv6, err)
			}
			if err := a.check(checkConf); err == nil || !strings.Contains(err.Error(), a.ipv6.String()) {
				t.Errorf("CHECK after %s left the interface = %v, want an error naming it", a.ipv6, err)
			}
		})
	}
}

// CHECK with nothing to verify (no sysctls, no IPv6) passes; with something to verify it fails on
// a sysctl ADD never applied, and on an interface that is gone, naming them.
func TestCheckNothingToVerifyAndGoneInterface(t *testing.T) {
	b := newBed(t)
	a := b.attach(t, attachOptions{IPv4Only: true})
	conf := a.conf(t, map[string]any{"advertiseCount": 0})
	if _, err := a.add(t, conf); err != nil {
		t.Fatalf("ADD: %v", err)
	}
	if err := a.check(conf); err != nil {
		t.Errorf("CHECK: %v", err)
	}
	withSysctl := a.conf(t, map[string]any{"sysctls": []string{"net.ipv4.conf.IFNAME.arp_ignore=1"}})
	if err := a.check(withSysctl); err == nil || !strings.Contains(err.Error(), "arp_ignore") {
		t.Errorf("CHECK with a sysctl that ADD never applied = %v, want an error naming it", err)
	}
	if err := a.ctr.Handle.LinkDel(nstest.Link(t, a.ctr.Handle, bedIf)); err != nil {
		t.Fatal(err)
	}
	if err := a.check(withSysctl); err == nil || !strings.Contains(err.Error(), bedIf) {
		t.Errorf("CHECK without the interface = %v, want an error naming %s", err, bedIf)
	}
}
