package l2disco

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"
	"github.com/ndp-announce/ndp-announce/internal/nstest"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// observe is how long a test watches for a peer's reaction. Frames cross
// the lab's veths and bridge in microseconds; the same window is used for
// the controls, which must see nothing change in it.
const observe = 500 * time.Millisecond

func isARPFrom(mac net.HardwareAddr) func([]byte) bool {
	return func(f []byte) bool {
		return len(f) >= ethHeaderLen+arpLen && bytes.Equal(f[ethSrcOff:ethSrcOff+6], mac) &&
			binary.BigEndian.Uint16(f[ethTypeOff:]) == etherTypeARP
	}
}

// isNDFrom keeps NS and NA frames from mac whose IPv6 source is src: the
// container's own kernel also sends DAD, MLD and RS from other sources.
func isNDFrom(mac net.HardwareAddr, src netip.Addr) func([]byte) bool {
	return func(f []byte) bool {
		const icmp = ethHeaderLen + ip6HeaderLen
		if len(f) < icmp+ndOptionsOff || !bytes.Equal(f[ethSrcOff:ethSrcOff+6], mac) ||
			binary.BigEndian.Uint16(f[ethTypeOff:]) != etherTypeIPv6 ||
			f[ethHeaderLen+ip6NextHeaderOff] != protoICMPv6 {
			return false
		}
		s, _ := netip.AddrFromSlice(f[ethHeaderLen+ip6SrcOff : ethHeaderLen+ip6SrcOff+16])
		return s == src && (f[icmp] == icmp6TypeNA || f[icmp] == icmp6TypeNS)
	}
}

func TestRoundFramesOnTheWire(t *testing.T) {
	l := newLab(t)
	s := l.sender(t, SenderOptions{IfName: labIf, IPv4: true, IPv6: true})
	if s.IfIndex() != l.ctrIndex {
		t.Fatalf("sender resolved %s to ifindex %d, want %d", labIf, s.IfIndex(), l.ctrIndex)
	}
	c := l.capture(t)
	ctrV4, ctrV6 := labCtrV4.Addr(), labCtrV6.Addr()
	gw4, gw6 := labPeerV4.Addr(), labPeerV6.Addr()
	a := &Announcer{Sender: s, MAC: labCtrMAC, Targets: Targets{
		IPv4: []netip.Addr{ctrV4},
		// fe80::a is not on the interface: sending an NA from it would fail,
		// so the round fails unless link-local addresses are skipped.
		IPv6:       []netip.Addr{netip.MustParseAddr("fe80::a"), ctrV6},
		GatewaysV4: []netip.Addr{gw4},
		GatewaysV6: []netip.Addr{gw6},
	}}
	rep, err := a.Round(t.Context(), true)
	if err != nil {
		t.Fatalf("round: %v (report %+v)", err, rep)
	}
	if rep.Sent() != 4 {
		t.Fatalf("round sent %d messages, want 4: %+v", rep.Sent(), rep)
	}

	isARP, isND := isARPFrom(labCtrMAC), isNDFrom(labCtrMAC, ctrV6)
	var arps, nds [][]byte
	for _, f := range c.frames(t, observe, func(f []byte) bool { return isARP(f) || isND(f) }) {
		if isARP(f) {
			arps = append(arps, f)
		} else {
			nds = append(nds, f)
		}
	}
	var sawAnn, sawReq bool
	for _, f := range arps {
		var p arp.Packet
		if err := p.UnmarshalBinary(f[ethHeaderLen:]); err != nil {
			t.Fatalf("captured ARP %x: %v", f, err)
		}
		var payload []byte
		switch {
		case p.SenderIP == ctrV4 && p.TargetIP == ctrV4:
			sawAnn = true
			payload, _ = ARPAnnouncement(labCtrMAC, ctrV4)
		case p.SenderIP == ctrV4 && p.TargetIP == gw4:
			sawReq = true
			payload, _ = ARPRequest(labCtrMAC, ctrV4, gw4)
		default:
			t.Fatalf("unexpected ARP from the container: %+v", p)
		}
		if p.Operation != arp.OperationRequest || !bytes.Equal(p.SenderHardwareAddr, labCtrMAC) ||
			!bytes.Equal(p.TargetHardwareAddr, make([]byte, 6)) || !bytes.Equal(f[:6], EthernetBroadcast) {
			t.Errorf("captured ARP %+v to %s: want a request from %s, zero target MAC, to broadcast", p, net.HardwareAddr(f[:6]), labCtrMAC)
		}
		want, _ := ARPFrame(labCtrMAC, payload)
		if !bytes.Equal(f, want) {
			t.Errorf("captured ARP frame differs from ARPFrame:\n got %x\nwant %x", f, want)
		}
	}
	if !sawAnn || !sawReq || len(arps) != 2 {
		t.Errorf("captured %d ARP frames (announcement %v, gateway request %v), want one of each", len(arps), sawAnn, sawReq)
	}

	var sawNA, sawNS bool
	for _, f := range nds {
		h, err := ipv6.ParseHeader(f[ethHeaderLen:])
		if err != nil {
			t.Fatalf("captured IPv6 %x: %v", f, err)
		}
		body := f[ethHeaderLen+ip6HeaderLen:]
		if h.HopLimit != 255 || h.NextHeader != protoICMPv6 || h.PayloadLen != len(body) {
			t.Errorf("captured IPv6 header %+v: want hop limit 255, ICMPv6, payload %d", h, len(body))
		}
		src, _ := netip.AddrFromSlice(h.Src)
		dst, _ := netip.AddrFromSlice(h.Dst)
		if v := ICMPv6Checksum(src, dst, body); v != 0 {
			t.Errorf("kernel-computed checksum does not verify with ICMPv6Checksum: residue %#x", v)
		}
		msg, err := ndp.ParseMessage(body)
		if err != nil {
			t.Fatalf("captured ICMPv6 %x: %v", body, err)
		}
		var want ICMPv6Message
		switch m := msg.(type) {
		case *ndp.NeighborAdvertisement:
			sawNA = true
			if m.Router || m.Solicited || !m.Override || m.TargetAddress != ctrV6 || dst != IPv6AllNodes {
				t.Errorf("captured NA %+v to %s: want R=0 S=0 O=1 target %s to ff02::1", m, dst, ctrV6)
			}
			checkLLA(t, m.Options, ndp.Target, labCtrMAC)
			want, _ = UnsolicitedNA(labCtrMAC, ctrV6)
		case *ndp.NeighborSolicitation:
			sawNS = true
			if m.TargetAddress != gw6 || dst != SolicitedNodeMulticast(gw6) {
				t.Errorf("captured NS %+v to %s: want target %s to its solicited-node group", m, dst, gw6)
			}
			checkLLA(t, m.Options, ndp.Source, labCtrMAC)
			want, _ = NeighborSolicitation(labCtrMAC, ctrV6, gw6)
		}
		wantFrame, err := want.Frame(labCtrMAC)
		if err != nil {
			t.Fatal(err)
		}
		if got := withoutFlowLabel(f); !bytes.Equal(got, wantFrame) {
			t.Errorf("captured %T frame differs from Frame (flow label ignored):\n got %x\nwant %x", msg, got, wantFrame)
		}
	}
	if !sawNA || !sawNS || len(nds) != 2 {
		t.Errorf("captured %d NDP frames (NA %v, NS %v), want one of each", len(nds), sawNA, sawNS)
	}
}

// withoutFlowLabel zeroes the IPv6 flow label, which Linux may fill from a
// flow hash (net.ipv6.auto_flowlabels).
func withoutFlowLabel(f []byte) []byte {
	g := append([]byte(nil), f...)
	g[ethHeaderLen+1] &= 0xf0
	g[ethHeaderLen+2], g[ethHeaderLen+3] = 0, 0
	return g
}

func TestStaleEntryCorrected(t *testing.T) {
	l := newLab(t)
	s := l.sender(t, SenderOptions{IfName: labIf, IPv4: true, IPv6: true})
	ips := []netip.Addr{labCtrV4.Addr(), labCtrV6.Addr()}
	a := &Announcer{Sender: s, MAC: labCtrMAC, Targets: Targets{IPv4: ips[:1], IPv6: ips[1:]}}
	t.Logf("peer: ARP locktime %s (left unchanged)", nstest.Sysctl(t, l.peer, "net.ipv4.neigh.eth0.locktime"))

	// Control: with no rounds, nothing is sent and the peer keeps the old
	// MAC through the window in which the fix must show.
	for _, ip := range ips {
		l.peerEth0().SetNeigh(t, ip, labOldMAC, netlink.NUD_STALE)
	}
	if err := a.Run(t.Context(), 0, time.Second); err != nil {
		t.Fatalf("run with no rounds: %v", err)
	}
	for _, ip := range ips {
		if got := l.peerEth0().WatchNeigh(t, ip, labCtrMAC, observe); !bytes.Equal(got, labOldMAC) {
			t.Fatalf("control: with nothing sent the peer's entry for %s became %s, want %s kept", ip, got, labOldMAC)
		}
	}

	// A fresh entry (changed just now, inside the 1 s ARP locktime), as
	// when the old pod talked to the peer until it died.
	older := net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x0e, 0x1e}
	for _, ip := range ips {
		l.peerEth0().SetNeigh(t, ip, older, netlink.NUD_STALE)
	}
	rep, err := a.Round(t.Context(), false)
	if err != nil {
		t.Fatalf("round: %v", err)
	}
	if len(rep.ARP) != 1 || len(rep.NA) != 1 {
		t.Fatalf("round report %+v: want one ARP and one NA", rep)
	}
	for _, ip := range ips {
		if got := l.peerEth0().WatchNeigh(t, ip, labCtrMAC, observe); !bytes.Equal(got, labCtrMAC) {
			t.Errorf("after one round the peer's entry for %s is %s, want %s", ip, got, labCtrMAC)
		}
	}
}

func TestGatewayRequestsUpdateGateway(t *testing.T) {
	l := newLab(t)
	s := l.sender(t, SenderOptions{IfName: labIf, IPv4: true, IPv6: true})
	ctrV4, ctrV6 := labCtrV4.Addr(), labCtrV6.Addr()
	l.peerEth0().SetNeigh(t, ctrV4, labOldMAC, netlink.NUD_STALE)
	l.peerEth0().SetNeigh(t, ctrV6, labOldMAC, netlink.NUD_STALE)

	if err := s.SendARPRequest(labCtrMAC, ctrV4, labPeerV4.Addr()); err != nil {
		t.Fatal(err)
	}
	if err := s.SendNeighborSolicitation(labCtrMAC, ctrV6, labPeerV6.Addr()); err != nil {
		t.Fatal(err)
	}
	for _, ip := range []netip.Addr{ctrV4, ctrV6} {
		if got := l.peerEth0().WatchNeigh(t, ip, labCtrMAC, observe); !bytes.Equal(got, labCtrMAC) {
			t.Errorf("gateway's entry for %s is %s after our request, want %s", ip, got, labCtrMAC)
		}
	}
}

func TestRunStopsWhenMACChanges(t *testing.T) {
	l := newLab(t)
	s := l.sender(t, SenderOptions{IfName: labIf, IPv4: true})
	c := l.capture(t)
	ctrV4 := labCtrV4.Addr()
	a := &Announcer{Sender: s, MAC: labCtrMAC, Targets: Targets{IPv4: []netip.Addr{ctrV4}}}
	isAnn := func(f []byte) bool {
		var p arp.Packet
		return binary.BigEndian.Uint16(f[ethTypeOff:]) == etherTypeARP &&
			p.UnmarshalBinary(f[ethHeaderLen:]) == nil && p.SenderIP == ctrV4 && p.TargetIP == ctrV4
	}

	done := make(chan error, 1)
	go func() { done <- a.Run(t.Context(), 3, 300*time.Millisecond) }()
	if got := c.frames(t, 400*time.Millisecond, isAnn); len(got) != 1 {
		t.Fatalf("%d announcements in the first round, want 1", len(got))
	}
	newMAC := net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0xbb}
	if err := l.ctrH.LinkSetHardwareAddr(mustLink(t, l.ctrH, labIf), newMAC); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrMACChanged) {
			t.Fatalf("Run = %v, want ErrMACChanged", err)
		}
		t.Logf("Run: %v", err)
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not stop after the MAC changed")
	}
	if got := c.frames(t, 100*time.Millisecond, isAnn); len(got) != 0 {
		t.Fatalf("%d announcements after the MAC changed, want none", len(got))
	}
	if mac, err := s.LinkMAC(); err != nil || !bytes.Equal(mac, newMAC) {
		t.Fatalf("LinkMAC = %s, %v; want %s", mac, err, newMAC)
	}
}

func TestRunStopsWhenLinkGone(t *testing.T) {
	l := newLab(t)
	s := l.sender(t, SenderOptions{IfName: labIf, IPv4: true, IPv6: true})
	if mac, err := s.LinkMAC(); err != nil || !bytes.Equal(mac, labCtrMAC) {
		t.Fatalf("LinkMAC = %s, %v; want %s", mac, err, labCtrMAC)
	}
	if err := l.ctrH.LinkDel(mustLink(t, l.ctrH, labIf)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LinkMAC(); !errors.Is(err, ErrLinkGone) {
		t.Fatalf("LinkMAC after deletion = %v, want ErrLinkGone", err)
	}
	if err := s.SendARPAnnouncement(labCtrMAC, labCtrV4.Addr()); !errors.Is(err, ErrLinkGone) {
		t.Errorf("ARP after deletion = %v, want ErrLinkGone", err)
	}
	if err := s.SendUnsolicitedNA(labCtrMAC, labCtrV6.Addr()); err == nil {
		t.Errorf("NA after deletion succeeded")
	} else {
		t.Logf("NA after deletion: %v", err)
	}
	a := &Announcer{Sender: s, MAC: labCtrMAC, Targets: Targets{IPv4: []netip.Addr{labCtrV4.Addr()}}}
	if err := a.Run(t.Context(), 2, 100*time.Millisecond); !errors.Is(err, ErrLinkGone) {
		t.Fatalf("Run = %v, want ErrLinkGone", err)
	}
}

func TestRunStopsWhenNetNSGone(t *testing.T) {
	nstest.RequireRoot(t)
	n := nstest.NewNetNS(t)
	h := nstest.Handle(t, n)
	mac := net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, 0xcc}
	// A veth pair inside the one netns: the dummy driver may be missing.
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: labIf, HardwareAddr: mac}, PeerName: "eth1"}
	if err := h.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(mustLink(t, h, labIf)); err != nil {
		t.Fatal(err)
	}
	s, err := NewSenderInNetNS(n.Path(), SenderOptions{IfName: labIf, IPv4: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })

	sockNS, err := s.NetNS()
	if err != nil {
		t.Fatal(err)
	}
	pathNS, err := NetNSIDOf(n.Path())
	if err != nil || sockNS != pathNS {
		t.Fatalf("socket netns %+v, path %s is %+v (%v): want equal", sockNS, n.Path(), pathNS, err)
	}
	a := &Announcer{Sender: s, MAC: mac, Targets: Targets{IPv4: []netip.Addr{labCtrV4.Addr()}}, NetNSPath: n.Path()}
	if err := a.Run(t.Context(), 1, 100*time.Millisecond); err != nil {
		t.Fatalf("Run while the netns exists: %v", err)
	}

	// What a runtime does on sandbox removal.
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(n.Path()); err == nil {
		t.Fatal("removed a mounted netns file")
	}
	if err := unix.Unmount(n.Path(), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(n.Path()); err != nil {
		t.Fatal(err)
	}
	// Our socket keeps the namespace and its link alive: only the path says
	// it is gone.
	if got, err := s.LinkMAC(); err != nil || !bytes.Equal(got, mac) {
		t.Fatalf("LinkMAC after netns removal = %s, %v; want %s (kept alive by the socket)", got, err, mac)
	}
	if err := a.Run(t.Context(), 2, 100*time.Millisecond); !errors.Is(err, ErrNetNSGone) {
		t.Fatalf("Run = %v, want ErrNetNSGone", err)
	}
	// A new namespace mounted at the same path is not ours either.
	n2 := nstest.NewNetNS(t)
	a.NetNSPath = n2.Path()
	a.NetNS = sockNS
	if err := a.Run(t.Context(), 1, 100*time.Millisecond); !errors.Is(err, ErrNetNSGone) {
		t.Fatalf("Run on another netns = %v, want ErrNetNSGone", err)
	}
}

func TestMissingSocketsAndRoutes(t *testing.T) {
	l := newLab(t)
	v4only := l.sender(t, SenderOptions{IfIndex: l.ctrIndex, IPv4: true})
	err := v4only.SendUnsolicitedNA(labCtrMAC, labCtrV6.Addr())
	if !errors.Is(err, ErrNoSocket) || !strings.Contains(err.Error(), "neighbor advertisement of 2001:db8::a on eth0") {
		t.Errorf("NA on an IPv4-only sender = %v, want ErrNoSocket naming the operation, address and interface", err)
	}
	v6only := l.sender(t, SenderOptions{IfIndex: l.ctrIndex, IPv6: true})
	if err := v6only.SendARPAnnouncement(labCtrMAC, labCtrV4.Addr()); !errors.Is(err, ErrNoSocket) {
		t.Errorf("ARP on an IPv6-only sender = %v, want ErrNoSocket", err)
	}
	if mac, err := v6only.LinkMAC(); err != nil || !bytes.Equal(mac, labCtrMAC) {
		t.Errorf("LinkMAC on the ICMPv6 socket = %s, %v; want %s", mac, err, labCtrMAC)
	}

	// Without the ff00::/8 route an NA cannot be routed.
	routes, err := l.ctrH.RouteListFiltered(unix.AF_INET6,
		&netlink.Route{Table: unix.RT_TABLE_LOCAL, LinkIndex: l.ctrIndex}, netlink.RT_FILTER_TABLE|netlink.RT_FILTER_OIF)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if r.Dst != nil && r.Dst.String() == "ff00::/8" {
			if err := l.ctrH.RouteDel(&r); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = v6only.SendUnsolicitedNA(labCtrMAC, labCtrV6.Addr())
	if !errors.Is(err, ErrNoMcastRoute) || !errors.Is(err, unix.ENETUNREACH) {
		t.Fatalf("NA without multicast route = %v, want ErrNoMcastRoute (ENETUNREACH)", err)
	}
	a := &Announcer{Sender: v6only, MAC: labCtrMAC, Targets: Targets{IPv6: []netip.Addr{labCtrV6.Addr()}}}
	if rep, err := a.Round(t.Context(), false); !errors.Is(err, ErrNoMcastRoute) || rep.Failed != 1 {
		t.Errorf("round without multicast route = %+v, %v; want a failure", rep, err)
	}
	a.NoMcastRoute = true
	if rep, err := a.Round(t.Context(), false); err != nil || len(rep.SkippedNA) != 1 || rep.Sent() != 0 {
		t.Errorf("round without multicast route, as expected = %+v, %v; want the NA skipped, no error", rep, err)
	}
}

func TestTentativeSourceCannotSend(t *testing.T) {
	l := newLab(t)
	s := l.sender(t, SenderOptions{IfIndex: l.ctrIndex, IPv6: true})
	if v := nstest.Sysctl(t, l.ctr, "net.ipv6.conf.eth0.accept_dad"); v == "0" {
		t.Skip("accept_dad is 0 in a new netns on this host: no tentative addresses")
	}
	tentative := netip.MustParseAddr("2001:db8::b")
	if err := l.ctrH.AddrAdd(mustLink(t, l.ctrH, labIf), &netlink.Addr{IPNet: &net.IPNet{IP: tentative.AsSlice(), Mask: net.CIDRMask(64, 128)}}); err != nil {
		t.Fatal(err)
	}
	err := s.SendUnsolicitedNA(labCtrMAC, tentative)
	if !errors.Is(err, ErrSourceUnavailable) {
		t.Fatalf("NA from a tentative address = %v, want ErrSourceUnavailable", err)
	}
	t.Log(err)
	// Control: the same send from the lab's address, added without DAD.
	if err := s.SendUnsolicitedNA(labCtrMAC, labCtrV6.Addr()); err != nil {
		t.Fatalf("NA from a usable address: %v", err)
	}
}

// TestFilesHandOff hands the sockets to a child process, as the plugin does
// with its background announcer: the child, in the root netns, must send
// into the container's and read the container's MAC.
func TestFilesHandOff(t *testing.T) {
	l := newLab(t)
	s, err := NewSenderInNetNS(l.ctr.Path(), SenderOptions{IfName: labIf, IPv4: true, IPv6: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []*os.File{s.arp, s.icmp6} {
		if !cloexec(t, f) {
			t.Errorf("sender socket %s is not close-on-exec", f.Name())
		}
	}
	arpF, icmpF, err := s.Files()
	if err != nil {
		t.Fatal(err)
	}
	defer arpF.Close()
	defer icmpF.Close()
	for _, f := range []*os.File{arpF, icmpF} {
		if !cloexec(t, f) {
			t.Errorf("Files() socket %s is not close-on-exec", f.Name())
		}
	}
	if _, err := NewSenderFromFiles(icmpF, arpF, l.ctrIndex); err == nil {
		t.Error("NewSenderFromFiles accepted the sockets swapped")
	}
	// The original goes away: the child's duplicates alone must work.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	ips := []netip.Addr{labCtrV4.Addr(), labCtrV6.Addr()}
	for _, ip := range ips {
		l.peerEth0().SetNeigh(t, ip, labOldMAC, netlink.NUD_STALE)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "L2DISCO_CHILD="+strconv.Itoa(l.ctrIndex))
	cmd.ExtraFiles = []*os.File{arpF, icmpF} // fds 3 and 4 in the child
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "child MAC "+labCtrMAC.String()) {
		t.Errorf("child did not read the container's MAC:\n%s", out)
	}
	for _, ip := range ips {
		if got := l.peerEth0().WatchNeigh(t, ip, labCtrMAC, observe); !bytes.Equal(got, labCtrMAC) {
			t.Errorf("after the child's round the peer's entry for %s is %s, want %s", ip, got, labCtrMAC)
		}
	}
}

// TestMain runs the test binary as TestFilesHandOff's child when asked to,
// instead of the tests: a plain process that only has the inherited sockets.
func TestMain(m *testing.M) {
	if env := os.Getenv("L2DISCO_CHILD"); env != "" {
		if err := childAnnouncer(env); err != nil {
			fmt.Println("child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childAnnouncer reads the container's MAC and sends one round through the
// sockets it inherited as fds 3 and 4.
func childAnnouncer(env string) error {
	ifindex, err := strconv.Atoi(env)
	if err != nil {
		return err
	}
	arpF, icmpF := os.NewFile(3, "arp"), os.NewFile(4, "icmp6")
	s, err := NewSenderFromFiles(arpF, icmpF, ifindex)
	if err != nil {
		return err
	}
	arpF.Close()
	icmpF.Close()
	defer s.Close()
	mac, err := s.LinkMAC()
	if err != nil {
		return err
	}
	fmt.Printf("child MAC %s\n", mac)
	a := &Announcer{Sender: s, MAC: mac, Targets: Targets{
		IPv4: []netip.Addr{labCtrV4.Addr()}, IPv6: []netip.Addr{labCtrV6.Addr()},
	}}
	if rep, err := a.Round(context.Background(), false); err != nil || rep.Sent() != 2 {
		return fmt.Errorf("round: %+v, %v", rep, err)
	}
	return nil
}

func cloexec(t *testing.T, f *os.File) bool {
	t.Helper()
	var flags int
	if err := control(f, func(fd int) error {
		var err error
		flags, err = unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return flags&unix.FD_CLOEXEC != 0
}
