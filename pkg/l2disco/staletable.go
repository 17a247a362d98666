package l2disco

import (
	"net/netip"
	"time"
)

// staleTable decides which black-holed frames get a request: one per peer
// per interval, at most max peers, and none to a peer off our subnets.
type staleTable struct {
	prefixes []netip.Prefix
	interval time.Duration
	max      int
	peers    map[netip.Addr]*stalePeerState
}

type stalePeerState struct {
	last     time.Time // last request decided
	requests int       // requests sent
}

type decision int

const (
	decisionSend   decision = iota
	decisionWait            // asked less than an interval ago
	decisionIgnore          // never asked: off our subnets, or one peer too many
)

func newStaleTable(prefixes []netip.Prefix, interval time.Duration, max int) *staleTable {
	if interval <= 0 {
		interval = StaleRequestInterval
	}
	if max <= 0 {
		max = MaxStalePeers
	}
	return &staleTable{prefixes: prefixes, interval: interval, max: max, peers: map[netip.Addr]*stalePeerState{}}
}

// decide says what to do about p at now, and records a send.
func (t *staleTable) decide(p StalePeer, now time.Time) decision {
	if p.PeerIP.Is4() != p.OurIP.Is4() || !t.ours(p.OurIP) || !t.onLink(p.PeerIP) {
		return decisionIgnore
	}
	st, ok := t.peers[p.PeerIP]
	if !ok {
		if len(t.peers) >= t.max {
			return decisionIgnore
		}
		st = &stalePeerState{}
		t.peers[p.PeerIP] = st
	} else if now.Sub(st.last) < t.interval {
		return decisionWait
	}
	st.last = now
	return decisionSend
}

// first records a request sent to p and says whether it was p's first.
func (t *staleTable) first(p StalePeer) bool {
	st := t.peers[p.PeerIP]
	if st == nil {
		return false
	}
	st.requests++
	return st.requests == 1
}

// ours says whether a is one of our addresses.
func (t *staleTable) ours(a netip.Addr) bool {
	for _, p := range t.prefixes {
		if p.Addr().Unmap().WithZone("") == a {
			return true
		}
	}
	return false
}

// onLink says whether a peer at a may be sent a request: inside one of our
// subnets (not its network or broadcast address, not one of ours), or an
// IPv6 link-local address, which is on-link by definition.
func (t *staleTable) onLink(a netip.Addr) bool {
	if t.ours(a) {
		return false
	}
	if a.Is6() && a.IsLinkLocalUnicast() {
		return true
	}
	for _, p := range t.prefixes {
		p = netip.PrefixFrom(p.Addr().Unmap().WithZone(""), p.Bits())
		if p.Addr().Is4() != a.Is4() || !p.Contains(a) {
			continue
		}
		if a.Is4() && p.Bits() < 31 && (a == p.Masked().Addr() || a == lastAddr(p)) {
			return false
		}
		return true
	}
	return false
}

// lastAddr is an IPv4 prefix's broadcast address.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
