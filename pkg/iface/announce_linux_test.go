package iface

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	nslab "github.com/ndp-announce/ndp-announce/internal/lab"
	"github.com/ndp-announce/ndp-announce/internal/nstest"
	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The announcement tests add a "peer" netns to the Add testbed: a real
// Linux stack on the same bridge, standing for the host, other pods and the
// gateway, whose neighbour cache is what the announcements must fix.
//
//	peer netns               host netns                    container netns
//	eth0 (peerMAC) - vpp [br0 198.51.100.254] vpeer - vsrc  → net1 (newMAC)
//	198.51.100.1/24          2001:db8::fe/64                 198.51.100.20/24
//	2001:db8::1/64                                           2001:db8::20/64

var (
	peerMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x20, 0x00, 0x01}
	oldMAC  = net.HardwareAddr{0x02, 0x00, 0x5e, 0x20, 0x0e, 0x1d} // the previous pod's
	newMAC  = net.HardwareAddr{0x02, 0x00, 0x5e, 0x20, 0x00, 0x14}

	peerV4, peerV6 = netip.MustParsePrefix("198.51.100.1/24"), netip.MustParsePrefix("2001:db8::1/64")
	brV4, brV6     = netip.MustParsePrefix("198.51.100.254/24"), netip.MustParsePrefix("2001:db8::fe/64")
	ctrV4, ctrV6   = netip.MustParsePrefix("198.51.100.20/24"), netip.MustParsePrefix("2001:db8::20/64")
)

type announceBed struct {
	*testbed
	peer      ns.NetNS
	peerH     *netlink.Handle
	peerIndex int
}

func newAnnounceBed(t *testing.T) *announceBed {
	t.Helper()
	b := &announceBed{testbed: newAddBed(t)}
	peer, err := b.lab.AddNetNS("peer")
	if err != nil {
		t.Fatal(err)
	}
	b.peer, b.peerH = peer.NS, peer.Handle
	b.peerIndex, err = b.lab.Plug(peer, nslab.Port{Name: "vpp", MAC: peerMAC, Addrs: []netip.Prefix{peerV4, peerV6}})
	if err != nil {
		t.Fatal(err)
	}
	addAddr(t, b.hostH, tbBridge, brV4.String(), 0)
	addAddr(t, b.hostH, tbBridge, brV6.String(), unix.IFA_F_NODAD)
	b.waitPeerAnswers(t)
	return b
}

// waitPeerAnswers probes the peer from br0 until it learns br0's MAC from an
// ARP request and an NS addressed to it. For some tens of milliseconds after
// its link comes up a Linux peer receives such frames but neither answers
// nor learns from them (pkg/l2disco's lab found this); a test that started
// then would measure the bed, not Add.
func (b *announceBed) waitPeerAnswers(t *testing.T) {
	t.Helper()
	brLink := b.link(t, b.hostH, tbBridge)
	brMAC := brLink.Attrs().HardwareAddr
	deadline := time.Now().Add(5 * time.Second)
	// The NS goes to a multicast group: it needs br0's ff00::/8 route,
	// which appears once br0 has carrier from the peer's port.
	for !nstest.HasMcastRoute(b.hostH, brLink.Attrs().Index) || !nstest.HasMcastRoute(b.peerH, b.peerIndex) {
		if time.Now().After(deadline) {
			t.Fatal("bed: br0 or the peer has no ff00::/8 route after 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s, err := l2disco.NewSenderInNetNS(b.host.Path(), l2disco.SenderOptions{IfName: tbBridge, IPv4: true, IPv6: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b.peerEth0().WaitLearned(t, nstest.Learn{MAC: brMAC, IPs: []netip.Addr{brV4.Addr(), brV6.Addr()}, Deadline: deadline,
		Probe: func() error {
			return errors.Join(
				s.SendARPRequest(brMAC, brV4.Addr(), peerV4.Addr()),
				s.SendNeighborSolicitation(brMAC, brV6.Addr(), peerV6.Addr()))
		}})
}

// peerEth0 is the peer's interface, whose neighbour entries the tests read.
func (b *announceBed) peerEth0() nstest.Iface { return nstest.Iface{H: b.peerH, Index: b.peerIndex} }

func (b *announceBed) spec(a Announcement) Spec {
	return Spec{
		SrcName: "vsrc", DstName: "net1", NetNS: b.ctr.Path(), HostNetNS: b.host.Path(),
		MAC:      newMAC,
		Addrs:    []netip.Prefix{ctrV4, ctrV6},
		Waits:    WaitTimeouts{LinkUp: 3 * time.Second, BridgePort: 3 * time.Second, McastRoute: 3 * time.Second, DAD: 3 * time.Second},
		Announce: a,
	}
}

func (b *announceBed) add(t *testing.T, s Spec) *Attachment {
	t.Helper()
	a, err := Add(context.Background(), s)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	t.Cleanup(func() { _ = a.Remove() })
	for _, w := range a.Waits {
		if !w.Met {
			t.Fatalf("wait not met, the test would measure the bed: %s", w.debug())
		}
	}
	return a
}

// openSockets counts the process's open sockets: the announcer's must be
// closed once it has nothing left to send.
func openSockets(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		if l, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

func TestAddAnnounceFixesStalePeerEntries(t *testing.T) {
	for _, tt := range []struct {
		name  string
		count int
		state int
		want  net.HardwareAddr
	}{
		{"stale entries, one round", 1, netlink.NUD_STALE, newMAC},
		{"reachable entries, one round", 1, netlink.NUD_REACHABLE, newMAC},
		// The control: without announcements nothing else in the bed
		// corrects the peer, so the cases above measure Add's round.
		{"announcements off", 0, netlink.NUD_STALE, oldMAC},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newAnnounceBed(t)
			for _, ip := range []netip.Addr{ctrV4.Addr(), ctrV6.Addr()} {
				b.peerEth0().SetNeigh(t, ip, oldMAC, tt.state)
			}
			sockets := openSockets(t)
			a := b.add(t, b.spec(Announcement{Count: tt.count}))
			if a.AnnounceErr != nil {
				t.Errorf("AnnounceErr = %v", a.AnnounceErr)
			}
			if got := openSockets(t); got != sockets {
				t.Errorf("%d sockets open after Add, %d before: the sender was not closed after its only round", got, sockets)
			}
			var want l2disco.RoundReport
			if tt.count > 0 {
				want = l2disco.RoundReport{ARP: []netip.Addr{ctrV4.Addr()}, NA: []netip.Addr{ctrV6.Addr()}}
			}
			if !reflect.DeepEqual(a.FirstRound, want) {
				t.Errorf("FirstRound = %+v, want %+v", a.FirstRound, want)
			}
			for _, ip := range []netip.Addr{ctrV4.Addr(), ctrV6.Addr()} {
				// Watched for the new MAC even in the control, which must
				// then keep the old one for the whole window.
				if got := b.peerEth0().WatchNeigh(t, ip, newMAC, 300*time.Millisecond); !bytes.Equal(got, tt.want) {
					t.Errorf("peer's entry for %s is %s after Add, want %s (old %s, new %s)", ip, got, tt.want, oldMAC, newMAC)
				}
			}
		})
	}
}

// A Linux peer creates no entry from unsolicited announcements, only from
// requests addressed to it: the gateway requests are what make a peer
// without an entry (or a stack that ignores announcements) learn the MAC.
func TestAddAnnounceGateways(t *testing.T) {
	for _, withGateways := range []bool{false, true} {
		name := "announcements only"
		if withGateways {
			name = "with gateway requests"
		}
		t.Run(name, func(t *testing.T) {
			b := newAnnounceBed(t)
			ann := Announcement{Count: 1}
			if withGateways {
				ann.Gateways = []netip.Addr{peerV4.Addr(), peerV6.Addr()}
			}
			a := b.add(t, b.spec(ann))
			want := l2disco.RoundReport{ARP: []netip.Addr{ctrV4.Addr()}, NA: []netip.Addr{ctrV6.Addr()}}
			var wantMAC net.HardwareAddr
			if withGateways {
				want.GatewayARP, want.GatewayNS = []netip.Addr{peerV4.Addr()}, []netip.Addr{peerV6.Addr()}
				wantMAC = newMAC
			}
			if !reflect.DeepEqual(a.FirstRound, want) || a.AnnounceErr != nil {
				t.Errorf("FirstRound = %+v, %v; want %+v", a.FirstRound, a.AnnounceErr, want)
			}
			for _, ip := range []netip.Addr{ctrV4.Addr(), ctrV6.Addr()} {
				if got := b.peerEth0().WatchNeigh(t, ip, newMAC, 300*time.Millisecond); !bytes.Equal(got, wantMAC) {
					t.Errorf("peer's entry for %s is %q, want %q", ip, got, wantMAC)
				}
			}
		})
	}
}

// A capture reads the frames arriving on the peer's eth0.
type capture struct{ f *os.File }

func (b *announceBed) capture(t *testing.T) *capture {
	t.Helper()
	// AF_PACKET wants the protocol in network byte order.
	proto := uint16(unix.ETH_P_ALL)<<8 | uint16(unix.ETH_P_ALL)>>8
	var fd int
	err := b.peer.Do(func(ns.NetNS) error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, int(proto))
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: b.peerIndex})
	})
	if err != nil {
		t.Fatalf("capture socket in the peer: %v", err)
	}
	c := &capture{f: os.NewFile(uintptr(fd), "capture")}
	t.Cleanup(func() { c.f.Close() })
	return c
}

// announcement is an ARP announcement or unsolicited NA seen on the wire.
type announcement struct {
	addr netip.Addr
	at   time.Time
}

func (a announcement) String() string {
	return a.addr.String() + " at " + a.at.Format("15:04:05.000")
}

// announcements returns the ARP announcements and NAs from mac that arrive
// until deadline.
func (c *capture) announcements(t *testing.T, mac net.HardwareAddr, deadline time.Time) (arp, na []announcement) {
	t.Helper()
	if err := c.f.SetReadDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	for {
		n, err := c.f.Read(buf)
		if os.IsTimeout(err) {
			return arp, na
		}
		if err != nil {
			t.Fatalf("capture: %v", err)
		}
		f := buf[:n]
		if n < 14 || !bytes.Equal(f[6:12], mac) {
			continue
		}
		now := time.Now()
		if a, ok := parseARPAnnouncement(f, mac); ok {
			arp = append(arp, announcement{a, now})
		}
		if a, ok := parseUnsolicitedNA(f); ok {
			na = append(na, announcement{a, now})
		}
	}
}

// parseARPAnnouncement recognises an ARP request with sender IP = target IP
// and sender MAC = mac (RFC 5227 §2.3).
func parseARPAnnouncement(f []byte, mac net.HardwareAddr) (netip.Addr, bool) {
	const arpAt = 14
	if len(f) < arpAt+28 || binary.BigEndian.Uint16(f[12:14]) != unix.ETH_P_ARP ||
		binary.BigEndian.Uint16(f[arpAt+6:]) != 1 || !bytes.Equal(f[arpAt+8:arpAt+14], mac) {
		return netip.Addr{}, false
	}
	spa, tpa := f[arpAt+14:arpAt+18], f[arpAt+24:arpAt+28]
	if !bytes.Equal(spa, tpa) {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(spa)), true
}

// parseUnsolicitedNA recognises an ICMPv6 Neighbour Advertisement with
// Solicited clear and returns its target.
func parseUnsolicitedNA(f []byte) (netip.Addr, bool) {
	const ip6At, icmpAt = 14, 14 + 40
	if len(f) < icmpAt+24 || binary.BigEndian.Uint16(f[12:14]) != unix.ETH_P_IPV6 ||
		f[ip6At+6] != unix.IPPROTO_ICMPV6 || f[icmpAt] != 136 || f[icmpAt+4]&0x40 != 0 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16([16]byte(f[icmpAt+8 : icmpAt+24])), true
}

func TestAddAnnounceRounds(t *testing.T) {
	b := newAnnounceBed(t)
	c := b.capture(t)
	sockets := openSockets(t)
	const interval = 100 * time.Millisecond
	start := time.Now()
	b.add(t, b.spec(Announcement{Count: 3, Interval: interval}))
	// Two more rounds are due 100 and 200ms after Add; a fourth would come
	// at 300ms if Add sent one round too many.
	arp, na := c.announcements(t, newMAC, time.Now().Add(3*interval+300*time.Millisecond))
	for _, fam := range []struct {
		name string
		seen []announcement
		addr netip.Addr
	}{{"ARP", arp, ctrV4.Addr()}, {"NA", na, ctrV6.Addr()}} {
		if len(fam.seen) != 3 {
			t.Errorf("%d %s announcements reached the peer, want 3: %v", len(fam.seen), fam.name, fam.seen)
			continue
		}
		for i, s := range fam.seen {
			if s.addr != fam.addr {
				t.Errorf("%s %d announced %s, want %s", fam.name, i, s.addr, fam.addr)
			}
			// A round is never early; 20ms of slack for the capture's
			// own scheduling.
			if i > 0 {
				if gap := s.at.Sub(fam.seen[i-1].at); gap < interval-20*time.Millisecond {
					t.Errorf("%s %d came %v after the one before, want about %v", fam.name, i, gap, interval)
				}
			}
		}
		t.Logf("%s at %v, %v, %v after Add started", fam.name,
			fam.seen[0].at.Sub(start).Round(time.Millisecond), fam.seen[1].at.Sub(start).Round(time.Millisecond),
			fam.seen[2].at.Sub(start).Round(time.Millisecond))
	}
	if got := openSockets(t); got != sockets {
		t.Errorf("%d sockets open after the last round, %d before Add: the sender was not closed", got, sockets)
	}
}

func TestRemoveStopsAnnouncements(t *testing.T) {
	b := newAnnounceBed(t)
	c := b.capture(t)
	sockets := openSockets(t)
	const interval = time.Second
	start := time.Now()
	a, err := Add(context.Background(), b.spec(Announcement{Count: 3, Interval: interval}))
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	// Add must not wait for the later rounds.
	if took := time.Since(start); took > interval/2 {
		t.Errorf("Add took %v with rounds %v apart", took, interval)
	}
	time.Sleep(100 * time.Millisecond)
	removeStart := time.Now()
	if err := a.Remove(); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	// Remove interrupts the wait for the next round rather than sitting it
	// out.
	if took := time.Since(removeStart); took > 300*time.Millisecond {
		t.Errorf("Remove took %v", took)
	}
	if got := openSockets(t); got != sockets {
		t.Errorf("%d sockets open after Remove, %d before Add: the announcer still holds its sender", got, sockets)
	}
	arp, na := c.announcements(t, newMAC, removeStart.Add(1500*time.Millisecond))
	if len(arp) != 1 || len(na) != 1 {
		t.Errorf("%d ARP and %d NA announcements reached the peer, want only the first round's 1 each", len(arp), len(na))
	}
	back, err := b.hostH.LinkByName("vsrc")
	if err != nil {
		t.Fatalf("vsrc is not back in the host netns: %v", err)
	}
	if back.Attrs().Flags&net.FlagUp != 0 {
		t.Error("vsrc came back up")
	}
	if _, err := b.ctrH.LinkByName("net1"); err == nil {
		t.Error("net1 is still in the container netns")
	}
	// A second Remove must not hang on the stopped announcer.
	if err := a.Remove(); err == nil {
		t.Error("a second Remove found the link to move again")
	}
}

func TestAddRefusesBadAnnouncementWithoutTouchingTheLink(t *testing.T) {
	tb := newAddBed(t)
	before := tb.link(t, tb.hostH, "vsrc").Attrs()
	for _, ann := range []Announcement{
		{Count: 4},
		{Count: -1},
		{Count: 3, Interval: 50 * time.Millisecond},
		{Count: 2, Interval: 5 * time.Second},
		{Count: 1, Gateways: []netip.Addr{netip.MustParseAddr("fe80::1%eth0")}},
	} {
		a, err := Add(context.Background(), Spec{
			SrcName: "vsrc", DstName: "net1", NetNS: tb.ctr.Path(), HostNetNS: tb.host.Path(),
			MAC:      newMAC,
			Addrs:    []netip.Prefix{ctrV4, ctrV6},
			Announce: ann,
		})
		if err == nil {
			t.Errorf("Add accepted %+v", ann)
			if a != nil {
				_ = a.Remove()
			}
			continue
		}
		if !strings.Contains(err.Error(), "attach vsrc") {
			t.Errorf("Add(%+v) = %v, want an error naming the link", ann, err)
		}
		after, err := tb.hostH.LinkByName("vsrc")
		if err != nil {
			t.Fatalf("vsrc left the host netns after Add refused %+v: %v", ann, err)
		}
		at := after.Attrs()
		if at.Index != before.Index || !bytes.Equal(at.HardwareAddr, before.HardwareAddr) || at.Flags != before.Flags {
			t.Errorf("vsrc changed after Add refused %+v: %+v, was %+v", ann, at, before)
		}
		if got := tb.addrsOf(t, tb.hostH, "vsrc"); len(got) != 0 {
			t.Errorf("vsrc has addresses after Add refused %+v: %v", ann, got)
		}
	}
	if _, err := tb.ctrH.LinkByName("net1"); err == nil {
		t.Error("net1 appeared in the container netns")
	}
}

// Announcements never fail Add. Without carrier there is no ff02::1 route:
// when Add waited for it and gave up, the NAs are expected to fail and are
// reported as skipped; when told not to wait, their failure is reported in
// AnnounceErr and logged, and Add still succeeds.
func TestAddAnnounceWithoutCarrier(t *testing.T) {
	for _, waited := range []bool{true, false} {
		name := "waits gave up"
		waits := WaitTimeouts{LinkUp: 50 * time.Millisecond, BridgePort: 50 * time.Millisecond, McastRoute: 50 * time.Millisecond}
		if !waited {
			name = "no waits"
			waits = WaitTimeouts{}
		}
		t.Run(name, func(t *testing.T) {
			tb := newAddBed(t)
			tb.setUp(t, tb.hostH, "vpeer", false) // net1 will have no carrier
			var logs bytes.Buffer
			a, err := Add(context.Background(), Spec{
				SrcName: "vsrc", DstName: "net1", NetNS: tb.ctr.Path(), HostNetNS: tb.host.Path(),
				MAC:      newMAC,
				Addrs:    []netip.Prefix{ctrV4, ctrV6},
				Waits:    waits,
				Announce: Announcement{Count: 1},
				Logger:   slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
			})
			if err != nil {
				t.Fatalf("Add failed over announcements: %v", err)
			}
			t.Cleanup(func() { _ = a.Remove() })
			// The ARP socket sends into a link without carrier all the same.
			want := l2disco.RoundReport{ARP: []netip.Addr{ctrV4.Addr()}}
			if waited {
				want.SkippedNA = []netip.Addr{ctrV6.Addr()}
				if a.AnnounceErr != nil || logs.Len() != 0 {
					t.Errorf("AnnounceErr = %v, log %q; want neither for an expected NA failure", a.AnnounceErr, logs.String())
				}
			} else {
				want.Failed = 1
				if !errors.Is(a.AnnounceErr, l2disco.ErrNoMcastRoute) || !strings.Contains(a.AnnounceErr.Error(), "announce net1") {
					t.Errorf("AnnounceErr = %v, want ErrNoMcastRoute naming net1", a.AnnounceErr)
				}
				if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "2001:db8::20") {
					t.Errorf("log %q, want a warning naming the address", logs.String())
				}
			}
			if !reflect.DeepEqual(a.FirstRound, want) {
				t.Errorf("FirstRound = %+v, want %+v", a.FirstRound, want)
			}
		})
	}
}
