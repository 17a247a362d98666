package iface

import (
	"net/netip"

	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
)

// announceTargets returns what Add announces: every IPv4 address and every
// non-link-local IPv6 address in effect (a link-local address follows from
// the MAC, so a new MAC never leaves a peer with a stale entry for it), and
// the gateways split by family.
func announceTargets(addrs []netip.Prefix, gateways []netip.Addr) l2disco.Targets {
	var t l2disco.Targets
	for _, p := range addrs {
		switch a := p.Addr().Unmap(); {
		case a.Is4():
			t.IPv4 = append(t.IPv4, a)
		case !a.IsLinkLocalUnicast():
			t.IPv6 = append(t.IPv6, a)
		}
	}
	for _, gw := range gateways {
		if gw.Unmap().Is4() {
			t.GatewaysV4 = append(t.GatewaysV4, gw.Unmap())
		} else {
			t.GatewaysV6 = append(t.GatewaysV6, gw)
		}
	}
	return t
}
