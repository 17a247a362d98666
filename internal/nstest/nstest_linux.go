package nstest

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/ndp-announce/ndp-announce/internal/lab"
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

// Link finds the link called name through h, failing the test if it is not there.
func Link(t testing.TB, h *netlink.Handle, name string) netlink.Link {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatalf("find link %s: %v", name, err)
	}
	return l
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
func Family(ip netip.Addr) int { return lab.Family(ip) }

// Iface is an interface in a netns, by a netlink handle there and its
// index: whose neighbour entries a test reads, sets and watches.
type Iface struct {
	H     *netlink.Handle
	Index int
}

// Neigh returns the MAC the interface's netns has for ip, nil if it has
// none. An INCOMPLETE or FAILED entry is no MAC: the peer is still asking,
// or gave up.
func (i Iface) Neigh(t testing.TB, ip netip.Addr) net.HardwareAddr {
	t.Helper()
	n, err := lab.ReadNeigh(i.H, i.Index, ip)
	if err != nil {
		t.Fatal(err)
	}
	if !n.Usable() {
		return nil
	}
	return n.MAC
}

// SetNeigh makes the interface's netns believe ip is at mac, in state
// (NUD_STALE is what a recycled pod IP leaves behind), and checks that it
// took.
func (i Iface) SetNeigh(t testing.TB, ip netip.Addr, mac net.HardwareAddr, state int) {
	t.Helper()
	n := &netlink.Neigh{LinkIndex: i.Index, Family: Family(ip), State: state, IP: ip.AsSlice(), HardwareAddr: mac}
	if err := i.H.NeighSet(n); err != nil {
		t.Fatalf("neigh replace %s lladdr %s on ifindex %d: %v", ip, mac, i.Index, err)
	}
	if got := i.Neigh(t, ip); !bytes.Equal(got, mac) {
		t.Fatalf("entry for %s on ifindex %d is %s right after setting it to %s", ip, i.Index, got, mac)
	}
}

// WatchNeigh polls the entry for ip every 5ms for up to window, stopping
// early once it equals want, and returns the MAC seen last. Frames cross
// veths and a bridge in softirq context, so they may land a moment after
// the send returned; a control that must keep its old MAC is watched for
// the whole window.
func (i Iface) WatchNeigh(t testing.TB, ip netip.Addr, want net.HardwareAddr, window time.Duration) net.HardwareAddr {
	t.Helper()
	deadline := time.Now().Add(window)
	for {
		got := i.Neigh(t, ip)
		if bytes.Equal(got, want) || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Learn is what WaitLearned waits for: the entries for IPs to be MAC, by
// Deadline, Probe sending requests addressed to the interface meanwhile.
type Learn struct {
	MAC      net.HardwareAddr
	IPs      []netip.Addr
	Deadline time.Time
	Probe    func() error
}

// WaitLearned calls l.Probe every 10ms until the interface's entries for
// all l.IPs are l.MAC, and fails the test if that has not happened by
// l.Deadline. For some tens of milliseconds after its link comes up a
// Linux peer receives such requests but neither answers nor learns from
// them; a test that started then would measure its bed, not the code under
// test.
func (i Iface) WaitLearned(t testing.TB, l Learn) {
	t.Helper()
	start := time.Now()
	for {
		if err := l.Probe(); err != nil {
			t.Fatalf("probe the peer: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
		if i.learned(t, l.MAC, l.IPs) {
			return
		}
		if time.Now().After(l.Deadline) {
			t.Fatalf("the peer did not learn %s for %v from requests to it within %v: its entries are %s",
				l.MAC, l.IPs, time.Since(start).Round(time.Millisecond), i.entries(l.IPs))
		}
	}
}

// entries says what the interface's netns holds for each of ips, for a failure message.
func (i Iface) entries(ips []netip.Addr) string {
	out := make([]string, len(ips))
	for k, ip := range ips {
		n, err := lab.ReadNeigh(i.H, i.Index, ip)
		if err != nil {
			out[k] = ip.String() + ": " + err.Error()
			continue
		}
		out[k] = ip.String() + " " + n.String()
	}
	return strings.Join(out, ", ")
}

func (i Iface) learned(t testing.TB, mac net.HardwareAddr, ips []netip.Addr) bool {
	t.Helper()
	for _, ip := range ips {
		if !bytes.Equal(i.Neigh(t, ip), mac) {
			return false
		}
	}
	return true
}
