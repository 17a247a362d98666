package l2disco

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
)

// fakeTransport records sends and serves a scripted MAC.
type fakeTransport struct {
	mu      sync.Mutex
	sent    []string
	mac     net.HardwareAddr
	macErr  error
	failFor map[netip.Addr]error // send error per address (announced or target)
	// onMAC runs at each LinkMAC call, with the number of calls so far.
	onMAC func(n int)
	nMAC  int
}

func (f *fakeTransport) record(kind string, addr netip.Addr, src ...netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.failFor[addr]; err != nil {
		return err
	}
	s := kind + " " + addr.String()
	if len(src) > 0 {
		s += " from " + src[0].String()
	}
	f.sent = append(f.sent, s)
	return nil
}

func (f *fakeTransport) SendARPAnnouncement(_ net.HardwareAddr, a netip.Addr) error {
	return f.record("arp", a)
}
func (f *fakeTransport) SendARPRequest(_ net.HardwareAddr, s, t netip.Addr) error {
	return f.record("arp-req", t, s)
}
func (f *fakeTransport) SendUnsolicitedNA(_ net.HardwareAddr, a netip.Addr) error {
	return f.record("na", a)
}
func (f *fakeTransport) SendNeighborSolicitation(_ net.HardwareAddr, s, t netip.Addr) error {
	return f.record("ns", t, s)
}
func (f *fakeTransport) LinkMAC() (net.HardwareAddr, error) {
	f.mu.Lock()
	f.nMAC++
	n, hook := f.nMAC, f.onMAC
	f.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mac, f.macErr
}
func (f *fakeTransport) sends() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.sent...)
}

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func TestRoundSendsWhatTheTargetsSay(t *testing.T) {
	f := &fakeTransport{}
	a := &Announcer{Sender: f, MAC: testMAC, Targets: Targets{
		IPv4:       addrs("198.51.100.10", "198.51.100.11"),
		IPv6:       addrs("fe80::a", "2001:db8::a"),
		GatewaysV4: addrs("198.51.100.1"),
		GatewaysV6: addrs("2001:db8::1", "fe80::1"),
	}}
	rep, err := a.Round(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"arp 198.51.100.10", "arp 198.51.100.11", "na 2001:db8::a"}
	if got := f.sends(); !reflect.DeepEqual(got, want) {
		t.Fatalf("round without gateways sent %q, want %q (link-local not announced)", got, want)
	}
	if rep.Sent() != 3 || len(rep.ARP) != 2 || len(rep.NA) != 1 {
		t.Fatalf("report %+v", rep)
	}

	f.sent = nil
	rep, err = a.Round(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	want = append(want,
		"arp-req 198.51.100.1 from 198.51.100.10", "arp-req 198.51.100.1 from 198.51.100.11",
		"ns 2001:db8::1 from 2001:db8::a", "ns fe80::1 from 2001:db8::a")
	if got := f.sends(); !reflect.DeepEqual(got, want) {
		t.Fatalf("round with gateways sent\n%q\nwant\n%q", got, want)
	}
	if len(rep.GatewayARP) != 2 || len(rep.GatewayNS) != 2 {
		t.Fatalf("report %+v", rep)
	}
}

func TestRoundFailures(t *testing.T) {
	noRoute := fmt.Errorf("%w: sendmsg: network is unreachable", ErrNoMcastRoute)
	f := &fakeTransport{failFor: map[netip.Addr]error{
		netip.MustParseAddr("2001:db8::a"):   noRoute,
		netip.MustParseAddr("198.51.100.10"): errors.New("sendto: no buffer space available"),
	}}
	a := &Announcer{Sender: f, MAC: testMAC, Targets: Targets{
		IPv4: addrs("198.51.100.10", "198.51.100.11"),
		IPv6: addrs("2001:db8::a", "2001:db8::b"),
	}}
	rep, err := a.Round(t.Context(), false)
	if err == nil || !errors.Is(err, ErrNoMcastRoute) || rep.Failed != 2 {
		t.Fatalf("round = %+v, %v; want 2 failures including ErrNoMcastRoute", rep, err)
	}
	if want := []string{"arp 198.51.100.11", "na 2001:db8::b"}; !reflect.DeepEqual(f.sends(), want) {
		t.Fatalf("a failed send stopped the others: sent %q, want %q", f.sends(), want)
	}

	// When the caller found no multicast route, that failure is expected.
	f.sent = nil
	a.NoMcastRoute = true
	rep, err = a.Round(t.Context(), false)
	if errors.Is(err, ErrNoMcastRoute) || rep.Failed != 1 || !reflect.DeepEqual(rep.SkippedNA, addrs("2001:db8::a")) {
		t.Fatalf("round with NoMcastRoute = %+v, %v; want the NA skipped and only the ARP failure", rep, err)
	}

	// The gateway NS goes to a multicast group too: skipped alike, and only then.
	f.sent = nil
	f.failFor = map[netip.Addr]error{netip.MustParseAddr("2001:db8::1"): noRoute}
	a.Targets.GatewaysV6 = addrs("2001:db8::1")
	rep, err = a.Round(t.Context(), true)
	if err != nil || rep.Failed != 0 || !reflect.DeepEqual(rep.SkippedNS, addrs("2001:db8::1", "2001:db8::1")) {
		t.Fatalf("gateway round with NoMcastRoute = %+v, %v; want both NS skipped, no failure", rep, err)
	}
	a.NoMcastRoute = false
	if rep, err = a.Round(t.Context(), true); !errors.Is(err, ErrNoMcastRoute) || rep.Failed != 2 || rep.SkippedNS != nil {
		t.Fatalf("gateway round with a multicast route = %+v, %v; want the NS failures reported", rep, err)
	}
	a.Targets.GatewaysV6 = nil
	a.NoMcastRoute = true

	// A gone link ends the round at once.
	f.sent = nil
	f.failFor = map[netip.Addr]error{netip.MustParseAddr("198.51.100.10"): fmt.Errorf("%w: sendto: no such device or address", ErrLinkGone)}
	if _, err := a.Round(t.Context(), false); !errors.Is(err, ErrLinkGone) || len(f.sends()) != 0 {
		t.Fatalf("round on a gone link = %v after sending %q; want ErrLinkGone and nothing more", err, f.sends())
	}

	if _, err := (&Announcer{Sender: f, MAC: net.HardwareAddr{1, 2}}).Round(t.Context(), false); err == nil {
		t.Fatal("round with a 2-byte MAC succeeded")
	}
}

func TestRunRoundsAndStops(t *testing.T) {
	targets := Targets{IPv4: addrs("198.51.100.10")}
	t.Run("normal end", func(t *testing.T) {
		f := &fakeTransport{mac: testMAC}
		a := &Announcer{Sender: f, MAC: testMAC, Targets: targets}
		start := time.Now()
		if err := a.Run(t.Context(), 3, 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if n := len(f.sends()); n != 3 {
			t.Fatalf("%d sends in 3 rounds, want 3", n)
		}
		if d := time.Since(start); d < 60*time.Millisecond {
			t.Fatalf("3 rounds 20ms apart took %v: the first round must wait an interval too", d)
		}
	})
	t.Run("zero rounds", func(t *testing.T) {
		f := &fakeTransport{mac: testMAC}
		if err := (&Announcer{Sender: f, MAC: testMAC, Targets: targets}).Run(t.Context(), 0, time.Hour); err != nil || len(f.sends()) != 0 || f.nMAC != 0 {
			t.Fatalf("Run(0) = %v with %d sends, %d MAC reads; want nothing", err, len(f.sends()), f.nMAC)
		}
	})
	t.Run("MAC changes after the first round", func(t *testing.T) {
		f := &fakeTransport{mac: testMAC}
		f.onMAC = func(n int) {
			if n == 2 {
				f.mac = net.HardwareAddr{0x02, 0, 0, 0, 0, 0xbb}
			}
		}
		a := &Announcer{Sender: f, MAC: testMAC, Targets: targets}
		err := a.Run(t.Context(), 3, time.Millisecond)
		if !errors.Is(err, ErrMACChanged) || len(f.sends()) != 1 {
			t.Fatalf("Run = %v after %d sends; want ErrMACChanged after 1", err, len(f.sends()))
		}
	})
	t.Run("link gone", func(t *testing.T) {
		f := &fakeTransport{macErr: &OpError{Op: "read link MAC", IfIndex: 7, Err: ErrLinkGone}}
		err := (&Announcer{Sender: f, MAC: testMAC, Targets: targets}).Run(t.Context(), 3, time.Millisecond)
		if !errors.Is(err, ErrLinkGone) || len(f.sends()) != 0 {
			t.Fatalf("Run = %v after %d sends; want ErrLinkGone, nothing sent", err, len(f.sends()))
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		f := &fakeTransport{mac: testMAC}
		ctx, cancel := context.WithCancel(t.Context())
		f.onMAC = func(int) { cancel() }
		err := (&Announcer{Sender: f, MAC: testMAC, Targets: targets}).Run(ctx, 3, time.Millisecond)
		if !errors.Is(err, context.Canceled) || len(f.sends()) != 0 {
			t.Fatalf("Run = %v after %d sends; want context.Canceled before sending", err, len(f.sends()))
		}
		ctx, cancel = context.WithCancel(t.Context())
		cancel()
		if err := (&Announcer{Sender: f, MAC: testMAC, Targets: targets}).Run(ctx, 3, time.Hour); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run on a cancelled context = %v", err)
		}
	})
	t.Run("netns path replaced", func(t *testing.T) {
		// A plain file stands for the netns bind mount: what matters is that
		// the path keeps its device and inode.
		p := filepath.Join(t.TempDir(), "netns")
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		f := &fakeTransport{mac: testMAC}
		f.onMAC = func(n int) {
			if n == 1 { // after the first check: the runtime replaces the netns
				// Written beside p and renamed over it, so the inode differs.
				os.WriteFile(p+".new", nil, 0o600)
				os.Rename(p+".new", p)
			}
		}
		a := &Announcer{Sender: f, MAC: testMAC, Targets: targets, NetNSPath: p}
		err := a.Run(t.Context(), 3, time.Millisecond)
		if !errors.Is(err, ErrNetNSGone) || len(f.sends()) != 1 {
			t.Fatalf("Run = %v after %d sends; want ErrNetNSGone after 1", err, len(f.sends()))
		}
		os.Remove(p)
		if err := a.Run(t.Context(), 1, time.Millisecond); !errors.Is(err, ErrNetNSGone) {
			t.Fatalf("Run with the netns path missing = %v, want ErrNetNSGone", err)
		}
	})
}

func TestValidateSchedule(t *testing.T) {
	for _, tt := range []struct {
		count    int
		interval time.Duration
		ok       bool
	}{
		{0, time.Second, true},
		{3, 100 * time.Millisecond, true},
		{1, 2000 * time.Millisecond, true},
		{-1, time.Second, false},
		{4, time.Second, false},
		{3, 99 * time.Millisecond, false},
		{3, 2001 * time.Millisecond, false},
	} {
		err := ValidateSchedule(tt.count, tt.interval)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateSchedule(%d, %v) = %v, want ok=%v", tt.count, tt.interval, err, tt.ok)
		}
	}
}

func TestOpErrorNamesEverything(t *testing.T) {
	err := error(&OpError{Op: "send neighbor advertisement of", IfIndex: 4, IfName: "eth0",
		Addr: netip.MustParseAddr("2001:db8::a"), Err: fmt.Errorf("%w: boom", ErrNoMcastRoute)})
	want := "l2disco: send neighbor advertisement of 2001:db8::a on eth0 (ifindex 4): no IPv6 multicast route: boom"
	if err.Error() != want || !errors.Is(err, ErrNoMcastRoute) {
		t.Fatalf("OpError = %q, want %q wrapping ErrNoMcastRoute", err, want)
	}
}

// A round never sends more than MaxFrames frames, whatever the targets; the address announcements
// go first and what is over is counted as cut.
func TestRoundIsBounded(t *testing.T) {
	var v4, gws []netip.Addr
	for i := 0; i < 100; i++ {
		v4 = append(v4, netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 10)}))
		gws = append(gws, netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 150)}))
	}
	for _, max := range []int{0, 10} {
		tr := &fakeTransport{mac: testMAC}
		a := &Announcer{Sender: tr, MAC: testMAC, MaxFrames: max, Targets: Targets{IPv4: v4, GatewaysV4: gws}}
		rep, err := a.Round(context.Background(), true)
		if err != nil {
			t.Fatal(err)
		}
		bound := a.maxFrames()
		if n := len(tr.sends()); n != bound || rep.Sent() != bound {
			t.Errorf("MaxFrames %d: sent %d (report %d), want %d", max, n, rep.Sent(), bound)
		}
		if want := 100 + 100*100 - bound; rep.Cut != want {
			t.Errorf("MaxFrames %d: cut %d, want %d", max, rep.Cut, want)
		}
		if len(rep.ARP) != min(bound, 100) {
			t.Errorf("MaxFrames %d: %d announcements before the gateway requests, want %d", max, len(rep.ARP), min(bound, 100))
		}
	}
}

// Before each round Run re-reads the addresses: one removed since is no longer announced, and
// with none left Run stops.
func TestRunDropsAddressesGoneFromTheInterface(t *testing.T) {
	f := &fakeTransport{mac: testMAC}
	have := addrs("198.51.100.10", "2001:db8::10")
	var mu sync.Mutex
	a := &Announcer{Sender: f, MAC: testMAC,
		Targets: Targets{IPv4: addrs("198.51.100.10"), IPv6: addrs("2001:db8::10")},
		Addrs: func() ([]netip.Addr, error) {
			mu.Lock()
			defer mu.Unlock()
			return append([]netip.Addr(nil), have...), nil
		},
	}
	f.onMAC = func(n int) {
		mu.Lock()
		defer mu.Unlock()
		switch n {
		case 2: // before round 2: the IPv4 address moved away
			have = addrs("2001:db8::10")
		case 3: // before round 3: nothing of ours left
			have = nil
		}
	}
	err := a.Run(context.Background(), 3, MinInterval)
	if !errors.Is(err, ErrAddrsGone) {
		t.Fatalf("Run = %v, want ErrAddrsGone", err)
	}
	want := []string{"arp 198.51.100.10", "na 2001:db8::10", "na 2001:db8::10"}
	if got := f.sends(); !reflect.DeepEqual(got, want) {
		t.Errorf("sent %v, want %v", got, want)
	}
}
