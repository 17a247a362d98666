package daemon

import (
	"bufio"
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ndp-announce/ndp-announce/internal/nstest"
	"github.com/ndp-announce/ndp-announce/pkg/announcer"
	"github.com/ndp-announce/ndp-announce/pkg/handoff"
	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
)

// The daemon's lab: one throwaway netns holding a veth pair. "a" is the attachment (its sockets are
// handed to the service); a packet socket on "b" sees every frame the service sends on "a".
var (
	labMAC  = net.HardwareAddr{0x02, 0x00, 0x5e, 0x11, 0x00, 0x0a}
	labAddr = netip.MustParseAddr("198.51.100.10")
)

type lab struct {
	ns     ns.NetNS
	aIndex int
	frames chan time.Time // ARP announcements of labAddr seen on b
}

func newLab(t testing.TB) *lab {
	t.Helper()
	nstest.RequireRoot(t)
	l := &lab{ns: nstest.NewNetNS(t), frames: make(chan time.Time, 64)}
	h := nstest.Handle(t, l.ns)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "a", HardwareAddr: labMAC}, PeerName: "b"}
	if err := h.LinkAdd(veth); err != nil {
		t.Fatalf("add veth: %v", err)
	}
	for _, name := range []string{"a", "b"} {
		link, err := h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(link); err != nil {
			t.Fatal(err)
		}
		if name == "a" {
			l.aIndex = link.Attrs().Index
			addr := &netlink.Addr{IPNet: &net.IPNet{IP: labAddr.AsSlice(), Mask: net.CIDRMask(24, 32)}}
			if err := h.AddrAdd(link, addr); err != nil {
				t.Fatal(err)
			}
		}
	}
	l.capture(t, h)
	return l
}

// capture reads ARP frames on b and reports each announcement of labAddr.
func (l *lab) capture(t testing.TB, h *netlink.Handle) {
	t.Helper()
	b, err := h.LinkByName("b")
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	err = l.ns.Do(func(ns.NetNS) error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ARP)))
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: b.Attrs().Index})
	})
	if err != nil {
		t.Fatalf("capture socket: %v", err)
	}
	f := os.NewFile(uintptr(fd), "capture")
	t.Cleanup(func() { f.Close() })
	go func() {
		buf := make([]byte, 128)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			// ARP for IPv4 over Ethernet: sender IP at 14, target IP at 24; equal = announcement.
			if n >= 28 && netip.AddrFrom4([4]byte(buf[14:18])) == labAddr && netip.AddrFrom4([4]byte(buf[24:28])) == labAddr {
				l.frames <- time.Now()
			}
		}
	}()
}

func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

// sockets opens the attachment's sender on a, as ADD does, and returns its files for a hand-off.
func (l *lab) sockets(t testing.TB) []*os.File {
	t.Helper()
	s, err := l2disco.NewSenderInNetNS(l.ns.Path(), l2disco.SenderOptions{IfName: "a", IPv4: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	arp, _, err := s.Files()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { arp.Close() })
	return []*os.File{arp}
}

// announce is the request ADD sends for the lab's attachment.
func (l *lab) announce(container string, rounds int, interval time.Duration) *handoff.Request {
	return &handoff.Request{
		Kind: handoff.KindAnnounce,
		Announce: &announcer.Job{
			Key:      announcer.Key{Network: "lab", ContainerID: container, IfName: "a"},
			NetNS:    l.ns.Path(),
			IfIndex:  l.aIndex,
			MAC:      labMAC,
			Targets:  l2disco.Targets{IPv4: []netip.Addr{labAddr}},
			Rounds:   rounds,
			Interval: interval,
		},
		Report: &handoff.Report{
			AddSeconds: 0.004,
			FirstRound: handoff.Frames{Sent: handoff.FrameCounts{ARP: 1}},
			Waits:      []handoff.Wait{{Condition: handoff.WaitLinkUp, Outcome: handoff.WaitMet, Seconds: 0.001}},
		},
		Files: []handoff.FileRole{handoff.FileARP},
	}
}

// startDaemon runs a service in a fresh data dir until the test ends.
func startDaemon(t testing.TB, opts Options) (*Daemon, *handoff.Client) {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.MetricsAddress == "" {
		opts.MetricsAddress = "127.0.0.1:0"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return d, &handoff.Client{Path: d.SocketPath(), Timeout: 2 * time.Second}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// metric scrapes /metrics and returns the value of the series written exactly as series
// (`name{label="v",...}`), failing the test if it is absent.
func metric(t testing.TB, d *Daemon, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + d.MetricsAddr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no series %s in /metrics", series)
	return 0
}

// eventually polls cond until it holds or a deadline generous for a loaded machine passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
