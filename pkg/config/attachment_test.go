package config

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
)

// bridgeResult is what the reference bridge plugin returns for a dual-stack container on eth0.
const bridgeResult = `{
  "cniVersion": "1.0.0",
  "interfaces": [
    {"name": "cni0", "mac": "02:00:00:00:00:01"},
    {"name": "veth1", "mac": "02:00:00:00:00:02"},
    {"name": "eth0", "mac": "02:00:00:00:00:03", "sandbox": "/run/netns/c1"}
  ],
  "ips": [
    {"interface": 2, "address": "198.51.100.10/24", "gateway": "198.51.100.1"},
    {"interface": 2, "address": "2001:db8:1::10/64", "gateway": "2001:db8:1::1"}
  ],
  "routes": [
    {"dst": "0.0.0.0/0", "gw": "198.51.100.1"},
    {"dst": "::/0", "gw": "2001:db8:1::1"},
    {"dst": "203.0.113.0/24"}
  ]
}`

func parseResult(t *testing.T, s string) *current.Result {
	t.Helper()
	var res current.Result
	if err := json.Unmarshal([]byte(s), &res); err != nil {
		t.Fatal(err)
	}
	return &res
}

func TestFindAttachment(t *testing.T) {
	res := parseResult(t, bridgeResult)
	a, err := FindAttachment(res, "eth0", "/run/netns/c1")
	if err != nil {
		t.Fatal(err)
	}
	if a.Index != 2 || len(a.IPv4) != 1 || len(a.IPv6) != 1 {
		t.Fatalf("attachment %+v", a)
	}
	if a.IPv4[0] != netip.MustParsePrefix("198.51.100.10/24") || a.IPv6[0] != netip.MustParsePrefix("2001:db8:1::10/64") {
		t.Errorf("addresses %v %v", a.IPv4, a.IPv6)
	}
	if len(a.GwV4) != 1 || a.GwV4[0] != netip.MustParseAddr("198.51.100.1") || len(a.GwV6) != 1 || a.GwV6[0] != netip.MustParseAddr("2001:db8:1::1") {
		t.Errorf("gateways %v %v", a.GwV4, a.GwV6)
	}
}

func TestFindAttachmentAbsent(t *testing.T) {
	res := parseResult(t, bridgeResult)
	for _, tc := range []struct{ ifname, netns string }{
		{"eth1", "/run/netns/c1"},  // another interface
		{"eth0", "/run/netns/c2"},  // another sandbox
		{"veth1", "/run/netns/c1"}, // host side: no sandbox
	} {
		_, err := FindAttachment(res, tc.ifname, tc.netns)
		var cniErr *types.Error
		if !errors.As(err, &cniErr) || cniErr.Code != types.ErrInvalidNetworkConfig || !strings.Contains(cniErr.Msg, "prevResult.interfaces") {
			t.Errorf("%s in %s: got %v, want code 7 naming prevResult.interfaces", tc.ifname, tc.netns, err)
		}
	}
}

func TestDropIPv6(t *testing.T) {
	res := parseResult(t, bridgeResult)
	a, err := FindAttachment(res, "eth0", "/run/netns/c1")
	if err != nil {
		t.Fatal(err)
	}
	DropIPv6(res, a, []netip.Prefix{netip.MustParsePrefix("2001:db8:1::10/64")})
	if len(res.IPs) != 1 || res.IPs[0].Address.IP.To4() == nil {
		t.Errorf("IPs after drop: %v", res.IPs)
	}
	if len(res.Routes) != 2 {
		t.Errorf("routes after drop: %v, want the two IPv4 routes", res.Routes)
	}
	for _, r := range res.Routes {
		if r.Dst.IP.To4() == nil {
			t.Errorf("IPv6 route left: %v", r)
		}
	}
	if len(a.IPv6) != 0 || len(a.GwV6) != 0 {
		t.Errorf("attachment still has IPv6: %v %v", a.IPv6, a.GwV6)
	}
}

// With one IPv6 address gone and another left, routes stay: the interface still speaks IPv6.
func TestDropIPv6KeepsRoutesWhileSomeIPv6Left(t *testing.T) {
	res := parseResult(t, strings.Replace(bridgeResult,
		`{"interface": 2, "address": "2001:db8:1::10/64", "gateway": "2001:db8:1::1"}`,
		`{"interface": 2, "address": "2001:db8:1::10/64", "gateway": "2001:db8:1::1"},
		 {"interface": 2, "address": "2001:db8:2::10/64"}`, 1))
	a, err := FindAttachment(res, "eth0", "/run/netns/c1")
	if err != nil {
		t.Fatal(err)
	}
	DropIPv6(res, a, []netip.Prefix{netip.MustParsePrefix("2001:db8:1::10/64")})
	if len(res.IPs) != 2 || len(res.Routes) != 3 || len(a.IPv6) != 1 {
		t.Errorf("IPs %v routes %v attachment %v", res.IPs, res.Routes, a.IPv6)
	}
}
