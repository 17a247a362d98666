package iface

import (
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
)

func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

func TestNewPlan(t *testing.T) {
	ok := Spec{SrcName: "veth0", NetNS: "/run/netns/x", Addrs: prefixes("198.51.100.2/24")}
	p, err := newPlan(ok)
	if err != nil {
		t.Fatalf("newPlan: %v", err)
	}
	if p.DstName != "veth0" || p.hasIPv6 || p.Waits != (WaitTimeouts{}) {
		t.Errorf("defaults not filled in, or waits added: %+v", p)
	}
	if p.Announce.Count != 0 || p.Announce.Interval != l2disco.DefaultInterval {
		t.Errorf("announcements: %+v, want off with the default interval", p.Announce)
	}
	announcing := ok
	announcing.Announce = Announcement{Count: 3, Interval: 100 * time.Millisecond, Gateways: []netip.Addr{
		netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("2001:db8::1")}}
	if p, err := newPlan(announcing); err != nil || p.Announce.Interval != 100*time.Millisecond {
		t.Errorf("newPlan(3 rounds 100ms apart) = %+v, %v", p.Announce, err)
	}
	withV6 := ok
	withV6.Addrs = prefixes("198.51.100.2/24", "2001:db8::2/64")
	withV6.Waits = WaitTimeouts{McastRoute: time.Second}
	p, err = newPlan(withV6)
	if err != nil || !p.hasIPv6 || p.Waits.LinkUp != 0 || p.Waits.McastRoute != time.Second {
		t.Errorf("newPlan(with IPv6) = %+v, %v", p, err)
	}

	bad := []struct {
		name string
		edit func(*Spec)
		want string
	}{
		{"no netns", func(s *Spec) { s.NetNS = "" }, "netns path is empty"},
		{"bad dst name", func(s *Spec) { s.DstName = "../x" }, "interface name"},
		{"no src name", func(s *Spec) { s.SrcName = "" }, "interface name is empty"},
		{"short MAC", func(s *Spec) { s.MAC = net.HardwareAddr{1, 2, 3} }, "6-byte"},
		{"mapped address", func(s *Spec) { s.Addrs = prefixes("::ffff:198.51.100.2/120") }, "plain IPv4 or IPv6"},
		{"not link-local", func(s *Spec) { s.LinkLocal = prefixes("2001:db8::9/64") }, "is not link-local"},
		{"bad sysctl", func(s *Spec) { s.Sysctls = []string{"net.ipv6.conf.IFNAME.disable_ipv6"} }, "entry 0"},
		{"too many rounds", func(s *Spec) { s.Announce.Count = 4 }, "count 4 is outside 0-3"},
		{"negative rounds", func(s *Spec) { s.Announce.Count = -1 }, "count -1"},
		{"interval too short", func(s *Spec) { s.Announce = Announcement{Count: 2, Interval: 50 * time.Millisecond} }, "interval 50ms"},
		{"interval too long", func(s *Spec) { s.Announce = Announcement{Count: 2, Interval: 3 * time.Second} }, "interval 3s"},
		{"bad interval while off", func(s *Spec) { s.Announce.Interval = -time.Second }, "interval -1s"},
		{"zoned gateway", func(s *Spec) { s.Announce.Gateways = []netip.Addr{netip.MustParseAddr("fe80::1%eth0")} }, "invalid gateway fe80::1%eth0"},
		{"unspecified gateway", func(s *Spec) { s.Announce.Gateways = []netip.Addr{netip.IPv4Unspecified()} }, "invalid gateway 0.0.0.0"},
		{"zero gateway", func(s *Spec) { s.Announce.Gateways = []netip.Addr{{}} }, "invalid gateway invalid IP"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.edit(&s)
			if _, err := newPlan(s); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("newPlan = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestRoutesFor(t *testing.T) {
	routes := prefixes("0.0.0.0/0", "198.51.100.128/25", "::/0", "2001:db8::8000:0/97")
	if got, want := routesFor(routes, true), prefixes("198.51.100.128/25", "2001:db8::8000:0/97"); !reflect.DeepEqual(got, want) {
		t.Errorf("routesFor(with IPv6) = %v, want %v", got, want)
	}
	if got, want := routesFor(routes, false), prefixes("198.51.100.128/25"); !reflect.DeepEqual(got, want) {
		t.Errorf("routesFor(no IPv6 left) = %v, want %v", got, want)
	}
}

func TestRemovePrefixes(t *testing.T) {
	all := prefixes("198.51.100.2/24", "2001:db8::2/64", "2001:db8::3/64")
	if got, want := removePrefixes(all, all[1:2]), prefixes("198.51.100.2/24", "2001:db8::3/64"); !reflect.DeepEqual(got, want) {
		t.Errorf("removePrefixes = %v, want %v", got, want)
	}
}

func TestPrefixToIPNet(t *testing.T) {
	for _, s := range []string{"198.51.100.2/24", "2001:db8::2/64", "2001:db8::/128"} {
		n := prefixToIPNet(netip.MustParsePrefix(s))
		if n.String() != s {
			t.Errorf("prefixToIPNet(%s) = %s", s, n)
		}
		if ones, bits := n.Mask.Size(); bits != len(n.IP)*8 || ones != netip.MustParsePrefix(s).Bits() {
			t.Errorf("prefixToIPNet(%s): IP of %d bytes, mask %d/%d", s, len(n.IP), ones, bits)
		}
	}
}
