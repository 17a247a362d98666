package nstest

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// RequireRoot skips the test unless it runs as root: creating network
// namespaces needs it. As root (here and in CI) the test runs for real.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
}

// NewNetNS creates a throwaway netns that is removed when the test ends. A
// test may remove it earlier on purpose (to see what a sender does when its
// namespace goes away); the cleanup then only closes it.
func NewNetNS(t testing.TB) ns.NetNS {
	t.Helper()
	n, err := testutils.NewNS()
	if err != nil {
		t.Fatalf("create netns: %v", err)
	}
	t.Cleanup(func() {
		n.Close()
		if _, err := os.Stat(n.Path()); os.IsNotExist(err) {
			return
		}
		if err := testutils.UnmountNS(n); err != nil {
			t.Errorf("remove netns %s: %v", n.Path(), err)
		}
	})
	return n
}

// Handle opens a netlink handle in n, closed when the test ends. It works
// from any thread without switching namespaces.
func Handle(t testing.TB, n ns.NetNS) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(netns.NsHandle(n.Fd()))
	if err != nil {
		t.Fatalf("netlink handle in %s: %v", n.Path(), err)
	}
	t.Cleanup(h.Close)
	return h
}

// Sysctl reads, or with a value first writes, a /proc/sys key such as
// net.ipv6.conf.eth0.accept_dad inside n: the files show the netns of the
// thread that opens them.
func Sysctl(t testing.TB, n ns.NetNS, key string, value ...string) string {
	t.Helper()
	p := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
	var got string
	err := n.Do(func(ns.NetNS) error {
		if len(value) > 0 {
			if err := os.WriteFile(p, []byte(value[0]), 0o644); err != nil {
				return err
			}
		}
		b, err := os.ReadFile(p)
		got = strings.TrimSpace(string(b))
		return err
	})
	if err != nil {
		t.Fatalf("sysctl %s in %s: %v", key, n.Path(), err)
	}
	return got
}

// HasMcastRoute reports whether link index has the local-table ff00::/8
// route, without which an NS or NA to a multicast group cannot be sent.
func HasMcastRoute(h *netlink.Handle, index int) bool {
	routes, err := h.RouteListFiltered(unix.AF_INET6,
		&netlink.Route{Table: unix.RT_TABLE_LOCAL, LinkIndex: index},
		netlink.RT_FILTER_TABLE|netlink.RT_FILTER_OIF)
	if err != nil {
		return false
	}
	for _, r := range routes {
		if r.Dst != nil && r.Dst.String() == "ff00::/8" {
			return true
		}
	}
	return false
}

// Family is the netlink address family of ip.
func Family(ip netip.Addr) int {
	if ip.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

// Neigh returns the MAC that link index in h's netns has for ip, nil if it
// has none. An INCOMPLETE or FAILED entry is no MAC: the peer is still
// asking, or gave up.
func Neigh(t testing.TB, h *netlink.Handle, index int, ip netip.Addr) net.HardwareAddr {
	t.Helper()
	neighs, err := h.NeighList(index, Family(ip))
	// An interrupted dump still returns the entries; a change during it is
	// what the callers poll for anyway.
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		t.Fatalf("list neighbours on ifindex %d: %v", index, err)
	}
	for _, n := range neighs {
		if a, ok := netip.AddrFromSlice(n.IP); ok && a.Unmap() == ip && n.State&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED) == 0 {
			return n.HardwareAddr
		}
	}
	return nil
}

// SetNeigh makes link index in h's netns believe ip is at mac, in state
// (NUD_STALE is what a recycled pod IP leaves behind), and checks that it
// took.
func SetNeigh(t testing.TB, h *netlink.Handle, index int, ip netip.Addr, mac net.HardwareAddr, state int) {
	t.Helper()
	n := &netlink.Neigh{LinkIndex: index, Family: Family(ip), State: state, IP: ip.AsSlice(), HardwareAddr: mac}
	if err := h.NeighSet(n); err != nil {
		t.Fatalf("neigh replace %s lladdr %s on ifindex %d: %v", ip, mac, index, err)
	}
	if got := Neigh(t, h, index, ip); !bytes.Equal(got, mac) {
		t.Fatalf("entry for %s on ifindex %d is %s right after setting it to %s", ip, index, got, mac)
	}
}

// WatchNeigh polls the entry for ip every 5ms for up to window, stopping
// early once it equals want, and returns the MAC seen last. Frames cross
// veths and a bridge in softirq context, so they may land a moment after
// the send returned; a control that must keep its old MAC is watched for
// the whole window.
func WatchNeigh(t testing.TB, h *netlink.Handle, index int, ip netip.Addr, want net.HardwareAddr, window time.Duration) net.HardwareAddr {
	t.Helper()
	deadline := time.Now().Add(window)
	for {
		got := Neigh(t, h, index, ip)
		if bytes.Equal(got, want) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitLearned calls probe, which sends requests addressed to the peer
// (link index in h's netns), every 10ms until the peer's entries for all
// ips are mac, and fails the test if that has not happened by deadline.
// For some tens of milliseconds after its link comes up a Linux peer
// receives such requests but neither answers nor learns from them; a test
// that started then would measure its bed, not the code under test.
func WaitLearned(t testing.TB, h *netlink.Handle, index int, mac net.HardwareAddr, ips []netip.Addr, deadline time.Time, probe func() error) {
	t.Helper()
	start := time.Now()
	for {
		if err := probe(); err != nil {
			t.Fatalf("probe the peer: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
		if learned(t, h, index, mac, ips) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the peer did not learn %s for %v from requests to it within %v", mac, ips, time.Since(start).Round(time.Millisecond))
		}
	}
}

func learned(t testing.TB, h *netlink.Handle, index int, mac net.HardwareAddr, ips []netip.Addr) bool {
	t.Helper()
	for _, ip := range ips {
		if !bytes.Equal(Neigh(t, h, index, ip), mac) {
			return false
		}
	}
	return true
}
