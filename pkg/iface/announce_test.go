package iface

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
)

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

func TestAnnounceTargets(t *testing.T) {
	got := announceTargets(
		prefixes("198.51.100.20/24", "2001:db8::20/64", "fe80::20/64", "198.51.100.21/32", "2001:db8:1::20/64"),
		addrs("198.51.100.1", "2001:db8::1", "fe80::1"))
	want := l2disco.Targets{
		IPv4:       addrs("198.51.100.20", "198.51.100.21"),
		IPv6:       addrs("2001:db8::20", "2001:db8:1::20"),
		GatewaysV4: addrs("198.51.100.1"),
		GatewaysV6: addrs("2001:db8::1", "fe80::1"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("announceTargets =\n%+v\nwant\n%+v", got, want)
	}
	// Each address and gateway once; gateways off the link, or ours, not at all.
	got = announceTargets(
		prefixes("198.51.100.20/24", "198.51.100.20/24", "::ffff:198.51.100.20/120", "2001:db8::20/64", "2001:db8::20/64"),
		addrs("198.51.100.1", "198.51.100.1", "203.0.113.1", "198.51.100.20", "2001:db8::1", "2001:db8:9::1", "2001:db8::1", "fe80::1"))
	want = l2disco.Targets{
		IPv4:       addrs("198.51.100.20"),
		IPv6:       addrs("2001:db8::20"),
		GatewaysV4: addrs("198.51.100.1"),
		GatewaysV6: addrs("2001:db8::1", "fe80::1"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("announceTargets with duplicates =\n%+v\nwant\n%+v", got, want)
	}
	if got := announceTargets(prefixes("fe80::20/64"), nil); len(got.IPv4)+len(got.IPv6) != 0 {
		t.Errorf("a link-local address alone gives targets %+v, want none", got)
	}
}
