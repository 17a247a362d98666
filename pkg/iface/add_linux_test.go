package iface

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ndp-announce/ndp-announce/internal/nstest"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// addBed is a host netns with bridge br0 and a veth vsrc/vpeer, vpeer a port
// of br0 and up, plus an empty container netns: vsrc is what Add moves.
func newAddBed(t *testing.T) *testbed {
	t.Helper()
	tb := newTestbed(t) // br0 up, vh0 port with eth0 in the container (unused here)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "vsrc"}, PeerName: "vpeer"}
	if err := tb.hostH.LinkAdd(veth); err != nil {
		t.Fatalf("add veth: %v", err)
	}
	peer := tb.link(t, tb.hostH, "vpeer")
	if err := tb.hostH.LinkSetMasterByIndex(peer, tb.link(t, tb.hostH, tbBridge).Attrs().Index); err != nil {
		t.Fatal(err)
	}
	tb.setUp(t, tb.hostH, "vpeer", true)
	return tb
}

func (tb *testbed) addrsOf(t *testing.T, h *netlink.Handle, name string) map[string]int {
	t.Helper()
	addrs, err := h.AddrList(tb.link(t, h, name), netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, a := range addrs {
		if !a.IP.IsLinkLocalUnicast() {
			out[a.IPNet.String()] = a.Flags
		}
	}
	return out
}

func TestAddRemove(t *testing.T) {
	tb := newAddBed(t)
	if err := tb.ctrH.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "cbr0"}}); err != nil {
		t.Fatal(err)
	}
	mac := net.HardwareAddr{0x02, 0x42, 0xc6, 0x33, 0x64, 0x14}
	spec := Spec{
		SrcName:   "vsrc",
		DstName:   "net1",
		NetNS:     tb.ctr.Path(),
		HostNetNS: tb.host.Path(),
		MAC:       mac,
		Addrs:     prefixes("198.51.100.20/24", "2001:db8::20/64"),
		Routes:    prefixes("0.0.0.0/0", "198.51.100.128/25", "2001:db8::8000:0/97"),
		Master:    "cbr0",
		Sysctls:   []string{"net.ipv4.conf.IFNAME.arp_notify=1"},
		Waits:     WaitTimeouts{LinkUp: 3 * time.Second, BridgePort: 3 * time.Second, McastRoute: 3 * time.Second, DAD: 3 * time.Second},
	}
	a, err := Add(context.Background(), spec)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	if _, err := tb.hostH.LinkByName("vsrc"); err == nil {
		t.Error("vsrc is still in the host netns")
	}
	l := tb.link(t, tb.ctrH, "net1")
	at := l.Attrs()
	if at.Index != a.Index || at.HardwareAddr.String() != mac.String() || a.MAC.String() != mac.String() {
		t.Errorf("net1 index %d mac %s; attachment %+v", at.Index, at.HardwareAddr, a)
	}
	if at.Flags&net.FlagUp == 0 {
		t.Error("net1 is not up")
	}
	if at.MasterIndex != tb.link(t, tb.ctrH, "cbr0").Attrs().Index {
		t.Error("net1 is not a port of cbr0")
	}
	addrs := tb.addrsOf(t, tb.ctrH, "net1")
	if _, ok := addrs["198.51.100.20/24"]; !ok {
		t.Errorf("IPv4 address missing: %v", addrs)
	}
	if f, ok := addrs["2001:db8::20/64"]; !ok || f&unix.IFA_F_NODAD == 0 || f&unix.IFA_F_TENTATIVE != 0 {
		t.Errorf("IPv6 address missing or not NODAD (flags %#x): %v", f, addrs)
	}
	if got := nstest.Sysctl(t, tb.ctr, "net.ipv4.conf.net1.arp_notify"); got != "1" {
		t.Errorf("arp_notify = %s, want 1", got)
	}
	routes, err := tb.ctrH.RouteList(l, netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range routes {
		// IPv6 routes have no scope in the kernel (always universe).
		if r.Dst != nil && r.Gw == nil && !r.Dst.IP.IsLinkLocalUnicast() {
			got = append(got, r.Dst.String())
		}
	}
	for _, want := range []string{"198.51.100.128/25", "2001:db8::8000:0/97"} {
		if !strings.Contains(strings.Join(got, " "), want) {
			t.Errorf("route %s missing; have %v", want, got)
		}
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() {
			t.Errorf("default route added: %+v", r)
		}
	}
	if len(a.Waits) != 4 {
		t.Fatalf("waits = %v, want link up, bridge port, mcast route, dad", a.Waits)
	}
	for _, w := range a.Waits {
		if !w.Met {
			t.Errorf("wait not met: %s", w.debug())
		}
	}

	if err := a.Remove(); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := tb.ctrH.LinkByName("net1"); err == nil {
		t.Error("net1 still in the container netns")
	}
	back := tb.link(t, tb.hostH, "vsrc")
	if back.Attrs().Flags&net.FlagUp != 0 {
		t.Error("vsrc came back up")
	}
}

func TestAddIPv4Only(t *testing.T) {
	tb := newAddBed(t)
	a, err := Add(context.Background(), Spec{
		SrcName: "vsrc", DstName: "net1", NetNS: tb.ctr.Path(), HostNetNS: tb.host.Path(),
		Addrs: prefixes("198.51.100.21/24"),
	})
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	t.Cleanup(func() { _ = a.Remove() })
	if got := nstest.Sysctl(t, tb.ctr, "net.ipv6.conf.net1.disable_ipv6"); got != "1" {
		t.Errorf("disable_ipv6 = %s on an IPv4-only interface, want 1", got)
	}
	for _, w := range a.Waits {
		if w.Condition == CondMcastRoute {
			t.Errorf("waited for an IPv6 route without IPv6: %s", w)
		}
	}
}

func TestAddSysctlDropsIPv6(t *testing.T) {
	tb := newAddBed(t)
	a, err := Add(context.Background(), Spec{
		SrcName: "vsrc", DstName: "net1", NetNS: tb.ctr.Path(), HostNetNS: tb.host.Path(),
		Addrs:   prefixes("198.51.100.22/24", "2001:db8::22/64"),
		Routes:  prefixes("2001:db8::8000:0/97"),
		Sysctls: []string{"net.ipv6.conf.IFNAME.disable_ipv6=1"},
	})
	if err != nil {
		t.Fatalf("Add: %v (an IPv6 route must be skipped once no IPv6 is left)", err)
	}
	t.Cleanup(func() { _ = a.Remove() })
	if want := prefixes("2001:db8::22/64"); len(a.Dropped) != 1 || a.Dropped[0] != want[0] {
		t.Errorf("Dropped = %v, want %v", a.Dropped, want)
	}
	if want := prefixes("198.51.100.22/24"); len(a.Addrs) != 1 || a.Addrs[0] != want[0] {
		t.Errorf("Addrs = %v, want %v", a.Addrs, want)
	}
}

func TestAddFailureMovesLinkBack(t *testing.T) {
	tb := newAddBed(t)
	orig := tb.link(t, tb.hostH, "vsrc").Attrs()
	_, err := Add(context.Background(), Spec{
		SrcName: "vsrc", DstName: "net1", NetNS: tb.ctr.Path(), HostNetNS: tb.host.Path(),
		MAC:   net.HardwareAddr{0x02, 0x42, 0xc6, 0x33, 0x64, 0x17},
		Addrs: prefixes("198.51.100.23/24"),
		// The same route twice: the second add fails (EEXIST) after the
		// link was moved, renamed, addressed and set up.
		Routes: prefixes("198.51.100.128/25", "198.51.100.128/25"),
	})
	if err == nil || !strings.Contains(err.Error(), "add route 198.51.100.128/25") {
		t.Fatalf("Add = %v, want a route error", err)
	}
	back, err := tb.hostH.LinkByName("vsrc")
	if err != nil {
		t.Fatalf("vsrc is not back in the host netns: %v", err)
	}
	if back.Attrs().Flags&net.FlagUp != 0 {
		t.Error("vsrc came back up")
	}
	for _, name := range []string{"net1", "vsrc"} {
		if _, err := tb.ctrH.LinkByName(name); err == nil {
			t.Errorf("%s left in the container netns", name)
		}
	}
	t.Logf("moved back as %s (index %d, was %d)", back.Attrs().Name, back.Attrs().Index, orig.Index)
}

func TestAddRefusesBadSpecWithoutTouchingTheLink(t *testing.T) {
	tb := newAddBed(t)
	_, err := Add(context.Background(), Spec{
		SrcName: "vsrc", NetNS: tb.ctr.Path(), HostNetNS: tb.host.Path(),
		Addrs:   prefixes("198.51.100.24/24"),
		Sysctls: []string{"net.ipv4.conf.IFNAME.arp_notify"},
	})
	if err == nil {
		t.Fatal("Add accepted a sysctl without a value")
	}
	if _, err := tb.hostH.LinkByName("vsrc"); err != nil {
		t.Errorf("vsrc left the host netns: %v", err)
	}
}
