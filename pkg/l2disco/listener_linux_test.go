package l2disco

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/ndp-announce/ndp-announce/internal/nstest"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The deaf peer: a Linux stack with the two sysctls hardened images set,
// which drop every unsolicited ARP and NA (as gVisor and Windows do in
// their own ways). Only requests addressed to it change its entries.
func (l *lab) makePeerDeaf(t *testing.T) {
	t.Helper()
	nstest.Sysctl(t, l.peer, "net.ipv4.conf.eth0.drop_gratuitous_arp", "1")
	nstest.Sysctl(t, l.peer, "net.ipv6.conf.eth0.drop_unsolicited_na", "1")
}

// peerTraffic makes the peer send a UDP datagram to each of ips every
// 10 ms, as an application that keeps talking to the old pod's address
// does, until the test ends. Its kernel picks the destination MAC from its
// neighbour entries.
func (l *lab) peerTraffic(t *testing.T, ips ...netip.Addr) {
	t.Helper()
	var socks []int
	err := l.peer.Do(func(ns.NetNS) error {
		for _, ip := range ips {
			dom := unix.AF_INET
			if ip.Is6() {
				dom = unix.AF_INET6
			}
			fd, err := unix.Socket(dom, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			socks = append(socks, fd)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("peer sockets: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			for i, ip := range ips {
				var sa unix.Sockaddr = &unix.SockaddrInet6{Port: 9, Addr: ip.As16()}
				if ip.Is4() {
					sa = &unix.SockaddrInet4{Port: 9, Addr: ip.As4()}
				}
				// Errors (an ICMP port unreachable once we answer) do
				// not matter: only the frames do.
				_ = unix.Sendto(socks[i], []byte("probe"), unix.MSG_DONTWAIT, sa)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		for _, fd := range socks {
			unix.Close(fd)
		}
	})
}

// watch opens a listener on the container's eth0 for both addresses and a
// StaleWatch over it, both closed when the test ends.
func (l *lab) watch(t *testing.T, window time.Duration) *StaleWatch {
	t.Helper()
	ln, err := NewListenerInNetNS(l.ctr.Path(), ListenerOptions{
		IfIndex: l.ctrIndex, MAC: labCtrMAC, Addrs: []netip.Addr{labCtrV4.Addr(), labCtrV6.Addr()},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s := l.sender(t, SenderOptions{IfIndex: l.ctrIndex, IPv4: true, IPv6: true})
	return &StaleWatch{
		Listener: ln, Sender: s, MAC: labCtrMAC,
		Prefixes: []netip.Prefix{labCtrV4, labCtrV6},
		Start:    time.Now(), Window: window,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	}
}

// testWriter puts log lines in the test's output.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

type watchResult struct {
	rep   StaleReport
	err   error
	ended time.Time
}

func runWatch(ctx context.Context, w *StaleWatch) <-chan watchResult {
	out := make(chan watchResult, 1)
	go func() {
		rep, err := w.Run(ctx)
		out <- watchResult{rep, err, time.Now()}
	}()
	return out
}

func TestStaleWatchCorrectsDeafPeer(t *testing.T) {
	l := newLab(t)
	l.makePeerDeaf(t)
	ips := []netip.Addr{labCtrV4.Addr(), labCtrV6.Addr()}
	for _, ip := range ips {
		l.peerEth0().SetNeigh(t, ip, labOldMAC, netlink.NUD_STALE)
	}
	l.peerTraffic(t, ips...)
	c := l.capture(t)

	// Control: the peer ignores a whole announcement round and keeps
	// sending to the old MAC, which the bridge floods to us.
	s := l.sender(t, SenderOptions{IfIndex: l.ctrIndex, IPv4: true, IPv6: true})
	a := &Announcer{Sender: s, MAC: labCtrMAC, Targets: Targets{IPv4: ips[:1], IPv6: ips[1:]}}
	if rep, err := a.Round(t.Context(), false); err != nil || rep.Sent() != 2 {
		t.Fatalf("round: %+v, %v", rep, err)
	}
	for _, ip := range ips {
		if got := l.peerEth0().WatchNeigh(t, ip, labCtrMAC, observe); !bytes.Equal(got, labOldMAC) {
			t.Fatalf("control: the deaf peer's entry for %s became %s after an announcement, want %s kept", ip, got, labOldMAC)
		}
	}

	w := l.watch(t, 10*time.Second)
	var (
		mu   sync.Mutex
		reqs []StaleRequest
	)
	w.OnRequest = func(r StaleRequest) { mu.Lock(); reqs = append(reqs, r); mu.Unlock() }
	ctx, cancel := context.WithCancel(t.Context())
	res := runWatch(ctx, w)
	for _, ip := range ips {
		if got := l.peerEth0().WatchNeigh(t, ip, labCtrMAC, 5*time.Second); !bytes.Equal(got, labCtrMAC) {
			t.Errorf("with the listener the deaf peer's entry for %s is %s, want %s", ip, got, labCtrMAC)
		}
	}
	// Once corrected the peer sends to our MAC: nothing more is black-holed,
	// so nothing more is sent (the interval would allow one a second).
	time.Sleep(1500 * time.Millisecond)
	cancel()
	r := <-res
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("run: %v, want context.Canceled", r.err)
	}
	t.Logf("report %+v", r.rep)
	if r.rep.Peers != 2 || r.rep.Requests != 2 || r.rep.Failed != 0 {
		t.Errorf("report %+v: want 2 peers (one per family), 2 requests, none failed", r.rep)
	}
	mu.Lock()
	defer mu.Unlock()
	fams := map[string]bool{}
	for _, q := range reqs {
		fams[q.Peer.Family()] = true
		if !bytes.Equal(q.Peer.PeerMAC, labPeerMAC) || !bytes.Equal(q.Peer.StaleMAC, labOldMAC) || q.After <= 0 {
			t.Errorf("request %+v: want peer %s, stale MAC %s, a positive delay", q, labPeerMAC, labOldMAC)
		}
	}
	if !fams[FamilyIPv4] || !fams[FamilyIPv6] {
		t.Errorf("requests %+v: want one per family", reqs)
	}
	checkDirectedARP(t, c)
}

// checkDirectedARP finds the listener's ARP request among the frames the
// peer received: addressed to the peer's MAC, not broadcast, from our
// address and MAC for the peer's address.
func checkDirectedARP(t *testing.T, c *capture) {
	t.Helper()
	want, _ := ARPRequest(labCtrMAC, labCtrV4.Addr(), labPeerV4.Addr())
	frames := c.frames(t, 50*time.Millisecond, func(f []byte) bool {
		return len(f) >= ethHeaderLen+arpLen && binary.BigEndian.Uint16(f[ethTypeOff:]) == etherTypeARP &&
			bytes.Equal(f[ethHeaderLen:ethHeaderLen+arpLen], want)
	})
	// Our kernel may also broadcast the same request when it answers the
	// peer's now delivered datagrams; ours is the one to the peer's MAC.
	var directed int
	for _, f := range frames {
		if dst := net.HardwareAddr(f[ethDstOff:ethSrcOff]); bytes.Equal(dst, labPeerMAC) {
			directed++
		} else if !bytes.Equal(dst, EthernetBroadcast) {
			t.Errorf("ARP request from us sent to %s", dst)
		}
	}
	if directed != 1 {
		t.Errorf("captured %d ARP requests from us to the peer's MAC %s, want 1", directed, labPeerMAC)
	}
}

func TestStaleWatchIdleOnHealthyPeer(t *testing.T) {
	l := newLab(t)
	ips := []netip.Addr{labCtrV4.Addr(), labCtrV6.Addr()}
	// The peer already has our MAC: its frames are to us, not black-holed.
	for _, ip := range ips {
		l.peerEth0().SetNeigh(t, ip, labCtrMAC, netlink.NUD_REACHABLE)
	}
	l.peerTraffic(t, ips...)
	const window = time.Second
	w := l.watch(t, window)
	r := <-runWatch(t.Context(), w)
	if r.err != nil {
		t.Fatalf("run: %v", r.err)
	}
	if r.rep != (StaleReport{}) {
		t.Errorf("report %+v on a healthy segment, want nothing seen or sent", r.rep)
	}
	// The window ends on time: not before, and not much after on a loaded
	// machine.
	if end := w.Start.Add(window); r.ended.Before(end) || r.ended.After(end.Add(time.Second)) {
		t.Errorf("run ended %v after the window's end, want within [0, 1s]", r.ended.Sub(end))
	}
}

// Frames to another pod's address, also flooded past us (its MAC aged out
// of the bridge), are none of our business.
func TestStaleFilterInKernelKeepsOnlyOurAddresses(t *testing.T) {
	l := newLab(t)
	other := netip.MustParseAddr("198.51.100.11")
	l.peerEth0().SetNeigh(t, other, labOldMAC, netlink.NUD_STALE)
	l.peerEth0().SetNeigh(t, labCtrV4.Addr(), labOldMAC, netlink.NUD_STALE)
	w := l.watch(t, 600*time.Millisecond)
	w.Sender = nopDirected{} // count only; the peer stays stale
	l.peerTraffic(t, other)
	r := <-runWatch(t.Context(), w)
	if r.err != nil || r.rep.Frames != 0 {
		t.Fatalf("frames to %s only: report %+v, %v; want none received", other, r.rep, r.err)
	}
	l.peerTraffic(t, labCtrV4.Addr())
	w.Start = time.Now()
	r = <-runWatch(t.Context(), w)
	if r.err != nil || r.rep.Frames == 0 || r.rep.Peers != 1 {
		t.Fatalf("frames to our address: report %+v, %v; want frames from one peer", r.rep, r.err)
	}
}

// nopDirected sends nothing and reports our MAC.
type nopDirected struct{}

func (nopDirected) SendARPRequestTo(net.HardwareAddr, netip.Addr, netip.Addr, net.HardwareAddr) error {
	return nil
}
func (nopDirected) SendNeighborSolicitationTo(net.HardwareAddr, netip.Addr, netip.Addr) error {
	return nil
}
func (nopDirected) LinkMAC() (net.HardwareAddr, error) { return labCtrMAC, nil }

func TestStaleWatchStopsWhenLinkGoes(t *testing.T) {
	l := newLab(t)
	w := l.watch(t, time.Minute)
	res := runWatch(t.Context(), w)
	if err := l.ctrH.LinkDel(mustLink(t, l.ctrH, labIf)); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-res:
		// Deleting a link takes it down first: the readers may see it
		// down while it still exists.
		if !errors.Is(r.err, ErrLinkGone) && !errors.Is(r.err, unix.ENETDOWN) {
			t.Errorf("run after the link was deleted: %v, want ErrLinkGone or ENETDOWN", r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run still listening 5s after its link was deleted")
	}
}

// The runtime deleted the pod's netns without DEL: the watch lets go of it within a check or two
// instead of keeping it, and its veth, alive for the rest of the window.
func TestStaleWatchStopsWhenNetNSGoes(t *testing.T) {
	l := newLab(t)
	w := l.watch(t, time.Minute)
	w.NetNSPath = l.ctr.Path()
	res := runWatch(t.Context(), w)
	time.Sleep(NetNSCheckInterval) // running, with the path checked at least once
	if err := unix.Unmount(w.NetNSPath, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(w.NetNSPath); err != nil {
		t.Fatal(err)
	}
	gone := time.Now()
	select {
	case r := <-res:
		if !errors.Is(r.err, ErrNetNSGone) {
			t.Errorf("run after the netns was deleted: %v, want ErrNetNSGone", r.err)
		}
		if took := r.ended.Sub(gone); took > 3*NetNSCheckInterval {
			t.Errorf("run ended %v after the netns went, want within %v", took, 3*NetNSCheckInterval)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run still listening 5s after its netns was deleted")
	}
}

func TestListenerFilesHandOff(t *testing.T) {
	l := newLab(t)
	ln, err := NewListenerInNetNS(l.ctr.Path(), ListenerOptions{IfIndex: l.ctrIndex, MAC: labCtrMAC, Addrs: []netip.Addr{labCtrV4.Addr()}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	v4, v6, err := ln.Files()
	if err != nil || v4 == nil || v6 != nil {
		t.Fatalf("files of an IPv4-only listener: %v, %v, %v", v4, v6, err)
	}
	defer v4.Close()
	if _, err := NewListenerFromFiles(nil, v4, l.ctrIndex); err == nil {
		t.Fatal("an IPv4 socket adopted as the IPv6 one")
	}
	if _, err := NewListenerFromFiles(v4, nil, l.ctrIndex+1); err == nil {
		t.Fatal("a socket adopted for another interface")
	}
	adopted, err := NewListenerFromFiles(v4, nil, l.ctrIndex)
	if err != nil {
		t.Fatal(err)
	}
	defer adopted.Close()
	l.peerEth0().SetNeigh(t, labCtrV4.Addr(), labOldMAC, netlink.NUD_STALE)
	l.peerTraffic(t, labCtrV4.Addr())
	w := l.watch(t, 2*time.Second)
	w.Listener = adopted
	w.Prefixes = []netip.Prefix{labCtrV4}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	res := runWatch(ctx, w)
	if got := l.peerEth0().WatchNeigh(t, labCtrV4.Addr(), labCtrMAC, 2*time.Second); !bytes.Equal(got, labCtrMAC) {
		t.Errorf("through the adopted socket the peer's entry is %s, want %s", got, labCtrMAC)
	}
	cancel()
	<-res
}
