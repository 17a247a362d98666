package l2disco

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	nslab "github.com/ndp-announce/ndp-announce/internal/lab"
	"github.com/ndp-announce/ndp-announce/internal/nstest"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The lab is internal/lab's, one L2 segment in three throwaway network
// namespaces:
//
//	peer netns          host netns             container netns
//	eth0 (labPeerMAC) - vpeer  [br0]  vctr - eth0 (labCtrMAC)
//	198.51.100.1/24                              198.51.100.10/24
//	2001:db8::1/64                               2001:db8::a/64
//
// br0 has STP off (the kernel default for a new bridge), so ports forward as
// soon as they have carrier. The peer is a real Linux stack standing for the
// host, other pods and the gateway. IPv6 addresses are added with
// IFA_F_NODAD so they are usable at once. Everything is removed when the
// test ends, also on failure.

var (
	labCtrMAC  = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x0a}
	labPeerMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0x01}
	labOldMAC  = net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x0e, 0x1d} // the previous pod's

	labCtrV4  = netip.MustParsePrefix("198.51.100.10/24")
	labPeerV4 = netip.MustParsePrefix("198.51.100.1/24")
	labCtrV6  = netip.MustParsePrefix("2001:db8::a/64")
	labPeerV6 = netip.MustParsePrefix("2001:db8::1/64")
)

const labIf = "eth0"

type lab struct {
	host, peer, ctr    ns.NetNS
	hostH, peerH, ctrH *netlink.Handle
	peerIndex          int // eth0 in the peer netns
	ctrIndex           int // eth0 in the container netns
}

func newLab(t *testing.T) *lab {
	t.Helper()
	b := nslab.ForTest(t, nslab.Options{Tag: "ndpt", Bridge: "br0",
		Peer: &nslab.Port{Name: "vpeer", IfName: labIf, MAC: labPeerMAC, Addrs: []netip.Prefix{labPeerV4, labPeerV6}}})
	ctr, err := b.AddContainer("ctr")
	if err != nil {
		t.Fatal(err)
	}
	ctrIndex, err := b.Plug(ctr, nslab.Port{Name: "vctr", IfName: labIf, MAC: labCtrMAC, Addrs: []netip.Prefix{labCtrV4, labCtrV6}})
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{host: b.Host.NS, peer: b.Peer.NS, ctr: ctr.NS, hostH: b.Host.Handle, peerH: b.Peer.Handle, ctrH: ctr.Handle,
		peerIndex: b.PeerIndex, ctrIndex: ctrIndex}
	l.waitReady(t)
	l.waitPeerAnswers(t)
	return l
}

// waitReady waits until both eth0s have carrier and an ff00::/8 route, so
// that NAs can be sent and are forwarded.
func (l *lab) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, side := range []struct {
		h     *netlink.Handle
		index int
	}{{l.peerH, l.peerIndex}, {l.ctrH, l.ctrIndex}} {
		for !hasCarrierAndMcastRoute(side.h, side.index) {
			if time.Now().After(deadline) {
				t.Fatalf("lab: ifindex %d has no carrier or ff00::/8 route after 5s", side.index)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// waitPeerAnswers waits until the peer learns our MAC from an ARP request
// and an NS addressed to it, then forgets it again. For some tens of
// milliseconds after the links come up, a Linux peer receives such
// requests but neither answers nor learns from them (seen in about one run
// of three when a lab is built right after another); tests that start
// within that window would measure the lab, not the announcements.
func (l *lab) waitPeerAnswers(t *testing.T) {
	t.Helper()
	s, err := NewSenderInNetNS(l.ctr.Path(), SenderOptions{IfIndex: l.ctrIndex, IPv4: true, IPv6: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctrV4, ctrV6 := labCtrV4.Addr(), labCtrV6.Addr()
	l.peerEth0().WaitLearned(t, nstest.Learn{MAC: labCtrMAC, IPs: []netip.Addr{ctrV4, ctrV6}, Deadline: time.Now().Add(5 * time.Second),
		Probe: func() error {
			return errors.Join(
				s.SendARPRequest(labCtrMAC, ctrV4, labPeerV4.Addr()),
				s.SendNeighborSolicitation(labCtrMAC, ctrV6, labPeerV6.Addr()))
		}})
	for _, ip := range []netip.Addr{ctrV4, ctrV6} {
		n := &netlink.Neigh{LinkIndex: l.peerIndex, Family: nstest.Family(ip), IP: ip.AsSlice()}
		if err := l.peerH.NeighDel(n); err != nil {
			t.Fatalf("lab: peer: neigh del %s: %v", ip, err)
		}
	}
}

// peerEth0 is the peer's interface, whose neighbour entries the tests read.
func (l *lab) peerEth0() nstest.Iface { return nstest.Iface{H: l.peerH, Index: l.peerIndex} }

func hasCarrierAndMcastRoute(h *netlink.Handle, index int) bool {
	link, err := h.LinkByIndex(index)
	return err == nil && link.Attrs().OperState == netlink.OperUp && nstest.HasMcastRoute(h, index)
}

func mustLink(t *testing.T, h *netlink.Handle, name string) netlink.Link {
	t.Helper()
	link, err := h.LinkByName(name)
	if err != nil {
		t.Fatalf("find %s: %v", name, err)
	}
	return link
}

// sender opens a Sender on the container's eth0, closed when the test ends.
func (l *lab) sender(t *testing.T, opts SenderOptions) *Sender {
	t.Helper()
	s, err := NewSenderInNetNS(l.ctr.Path(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A capture reads every frame arriving on the peer's eth0.
type capture struct {
	f *os.File
}

func (l *lab) capture(t *testing.T) *capture {
	t.Helper()
	var fd int
	err := l.peer.Do(func(ns.NetNS) error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: l.peerIndex})
	})
	if err != nil {
		t.Fatalf("capture socket in peer: %v", err)
	}
	c := &capture{f: os.NewFile(uintptr(fd), "capture")}
	t.Cleanup(func() { c.f.Close() })
	return c
}

// frames returns the frames that keep accepts among those arriving within
// window.
func (c *capture) frames(t *testing.T, window time.Duration, keep func([]byte) bool) [][]byte {
	t.Helper()
	var out [][]byte
	if err := c.f.SetReadDeadline(time.Now().Add(window)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	for {
		n, err := c.f.Read(buf)
		if err != nil {
			if os.IsTimeout(err) {
				return out
			}
			t.Fatalf("capture: %v", err)
		}
		if keep(buf[:n]) {
			out = append(out, append([]byte(nil), buf[:n]...))
		}
	}
}
