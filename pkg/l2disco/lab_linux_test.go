package l2disco

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/ndp-announce/ndp-announce/internal/nstest"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The lab is one L2 segment in three throwaway network namespaces:
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
	nstest.RequireRoot(t)
	l := &lab{host: nstest.NewNetNS(t), peer: nstest.NewNetNS(t), ctr: nstest.NewNetNS(t)}
	l.hostH, l.peerH, l.ctrH = nstest.Handle(t, l.host), nstest.Handle(t, l.peer), nstest.Handle(t, l.ctr)

	if err := l.hostH.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}); err != nil {
		t.Fatalf("add bridge: %v", err)
	}
	br := mustLink(t, l.hostH, "br0")
	l.peerIndex = l.plug(t, br, "vpeer", l.peer, l.peerH, labPeerMAC, labPeerV4, labPeerV6)
	l.ctrIndex = l.plug(t, br, "vctr", l.ctr, l.ctrH, labCtrMAC, labCtrV4, labCtrV6)
	if err := l.hostH.LinkSetUp(br); err != nil {
		t.Fatalf("set br0 up: %v", err)
	}
	l.waitReady(t)
	l.waitPeerAnswers(t)
	return l
}

// plug connects a new veth port of br to eth0 in n, with mac and addresses,
// and returns eth0's index in n.
func (l *lab) plug(t *testing.T, br netlink.Link, port string, n ns.NetNS, h *netlink.Handle, mac net.HardwareAddr, addrs ...netip.Prefix) int {
	t.Helper()
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: port, MasterIndex: br.Attrs().Index},
		PeerName:         labIf,
		PeerHardwareAddr: mac,
		PeerNamespace:    netlink.NsFd(int(n.Fd())),
	}
	if err := l.hostH.LinkAdd(veth); err != nil {
		t.Fatalf("add veth %s: %v", port, err)
	}
	if err := l.hostH.LinkSetUp(mustLink(t, l.hostH, port)); err != nil {
		t.Fatalf("set %s up: %v", port, err)
	}
	link := mustLink(t, h, labIf)
	for _, p := range addrs {
		a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := h.AddrAdd(link, a); err != nil {
			t.Fatalf("add %s to %s in %s: %v", p, labIf, n.Path(), err)
		}
	}
	for _, name := range []string{"lo", labIf} {
		if err := h.LinkSetUp(mustLink(t, h, name)); err != nil {
			t.Fatalf("set %s up in %s: %v", name, n.Path(), err)
		}
	}
	return link.Attrs().Index
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
	nstest.WaitLearned(t, l.peerH, l.peerIndex, labCtrMAC, []netip.Addr{ctrV4, ctrV6}, time.Now().Add(5*time.Second), func() error {
		return errors.Join(
			s.SendARPRequest(labCtrMAC, ctrV4, labPeerV4.Addr()),
			s.SendNeighborSolicitation(labCtrMAC, ctrV6, labPeerV6.Addr()))
	})
	for _, ip := range []netip.Addr{ctrV4, ctrV6} {
		n := &netlink.Neigh{LinkIndex: l.peerIndex, Family: nstest.Family(ip), IP: ip.AsSlice()}
		if err := l.peerH.NeighDel(n); err != nil {
			t.Fatalf("lab: peer: neigh del %s: %v", ip, err)
		}
	}
}

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
