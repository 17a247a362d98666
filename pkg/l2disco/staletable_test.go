package l2disco

import (
	"net/netip"
	"testing"
	"time"
)

func stalePeerAt(peer, ours string) StalePeer {
	return StalePeer{PeerMAC: testPeerMAC, PeerIP: netip.MustParseAddr(peer), OurIP: netip.MustParseAddr(ours), StaleMAC: testStaleMAC}
}

func TestStaleTableOnePerPeerPerInterval(t *testing.T) {
	tb := newStaleTable([]netip.Prefix{netip.MustParsePrefix("198.51.100.10/24"), netip.MustParsePrefix("2001:db8::a/64")}, time.Second, 0)
	t0 := time.Now()
	v4, v6 := stalePeerAt("198.51.100.20", "198.51.100.10"), stalePeerAt("2001:db8::14", "2001:db8::a")
	for _, step := range []struct {
		p    StalePeer
		at   time.Duration
		want decision
	}{
		{v4, 0, decisionSend},
		{v6, 0, decisionSend}, // the other family of the same host: its own entry
		{v4, 10 * time.Millisecond, decisionWait},
		{v4, 999 * time.Millisecond, decisionWait},
		{v6, 500 * time.Millisecond, decisionWait},
		{v4, time.Second, decisionSend}, // still black-holed: ask again
		{v4, 1500 * time.Millisecond, decisionWait},
	} {
		if got := tb.decide(step.p, t0.Add(step.at)); got != step.want {
			t.Fatalf("%s at +%v: decision %d, want %d", step.p.PeerIP, step.at, got, step.want)
		}
	}
	if !tb.first(v4) || tb.first(v4) {
		t.Fatal("first: want true once, then false")
	}
}

func TestStaleTableBoundsPeers(t *testing.T) {
	tb := newStaleTable([]netip.Prefix{netip.MustParsePrefix("203.0.113.10/24")}, 0, 3)
	now := time.Now()
	for i, want := range []decision{decisionSend, decisionSend, decisionSend, decisionIgnore, decisionIgnore} {
		p := stalePeerAt(netip.AddrFrom4([4]byte{203, 0, 113, byte(20 + i)}).String(), "203.0.113.10")
		if got := tb.decide(p, now); got != want {
			t.Fatalf("peer %d: decision %d, want %d", i+1, got, want)
		}
	}
	// A known peer is still served after the bound is reached.
	if got := tb.decide(stalePeerAt("203.0.113.20", "203.0.113.10"), now.Add(time.Hour)); got != decisionSend {
		t.Fatalf("known peer after the bound: decision %d, want send", got)
	}
	if len(tb.peers) != 3 {
		t.Fatalf("%d peers tracked, want 3", len(tb.peers))
	}
}

func TestStaleTableSendsOnlyOnLink(t *testing.T) {
	tb := newStaleTable([]netip.Prefix{netip.MustParsePrefix("198.51.100.10/24"), netip.MustParsePrefix("2001:db8::a/64")}, 0, 0)
	for _, c := range []struct {
		peer, ours string
		want       decision
	}{
		{"198.51.100.254", "198.51.100.10", decisionSend},
		{"203.0.113.7", "198.51.100.10", decisionIgnore},    // routed to us: another subnet
		{"198.51.100.0", "198.51.100.10", decisionIgnore},   // the network address
		{"198.51.100.255", "198.51.100.10", decisionIgnore}, // the subnet broadcast
		{"198.51.100.10", "198.51.100.10", decisionIgnore},  // ourselves
		{"198.51.100.20", "198.51.100.11", decisionIgnore},  // not to our address
		{"2001:db8::ffff", "2001:db8::a", decisionSend},
		{"2001:db8:1::1", "2001:db8::a", decisionIgnore},
		{"fe80::14", "2001:db8::a", decisionSend},         // link-local: on-link by definition
		{"2001:db8::14", "198.51.100.10", decisionIgnore}, // families crossed
	} {
		if got := tb.decide(stalePeerAt(c.peer, c.ours), time.Now()); got != c.want {
			t.Errorf("peer %s to %s: decision %d, want %d", c.peer, c.ours, got, c.want)
		}
	}
	// A /31 (RFC 3021) has no network or broadcast address.
	p2p := newStaleTable([]netip.Prefix{netip.MustParsePrefix("203.0.113.0/31")}, 0, 0)
	if got := p2p.decide(stalePeerAt("203.0.113.1", "203.0.113.0"), time.Now()); got != decisionSend {
		t.Errorf("/31 peer: decision %d, want send", got)
	}
}
