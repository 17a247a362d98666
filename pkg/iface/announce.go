package iface

import (
	"net/netip"

	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
)

// announceTargets returns what Add announces: every IPv4 address and every
// non-link-local IPv6 address in effect, once each (a link-local address
// follows from the MAC, so a new MAC never leaves a peer with a stale entry
// for it), and the gateways split by family, once each and only those on
// the link: inside one of the addresses' prefixes, or IPv6 link-local. A
// gateway elsewhere cannot hear a frame sent here, so a request to it is
// only noise, and a result listing hundreds would multiply it.
func announceTargets(addrs []netip.Prefix, gateways []netip.Addr) l2disco.Targets {
	var t l2disco.Targets
	seen := map[netip.Addr]bool{}
	for _, p := range addrs {
		a := p.Addr().Unmap()
		if seen[a] {
			continue
		}
		seen[a] = true
		switch {
		case a.Is4():
			t.IPv4 = append(t.IPv4, a)
		case !a.IsLinkLocalUnicast():
			t.IPv6 = append(t.IPv6, a)
		}
	}
	for _, gw := range gateways {
		gw = gw.Unmap()
		if seen[gw] || !onLink(gw, addrs) {
			continue
		}
		seen[gw] = true
		if gw.Is4() {
			t.GatewaysV4 = append(t.GatewaysV4, gw)
		} else {
			t.GatewaysV6 = append(t.GatewaysV6, gw)
		}
	}
	return t
}

// onLink says whether gw is reachable without a router from an interface
// with addrs.
func onLink(gw netip.Addr, addrs []netip.Prefix) bool {
	if gw.Is6() && gw.IsLinkLocalUnicast() {
		return true
	}
	for _, p := range addrs {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits())
		if p.Addr().Is4() == gw.Is4() && p.Masked().Contains(gw) {
			return true
		}
	}
	return false
}
