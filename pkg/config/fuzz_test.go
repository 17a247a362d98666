package config

import (
	"net/netip"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	current "github.com/containernetworking/cni/pkg/types/100"
)

// FuzzPrevResult holds the property ADD's safety rests on: whatever prevResult and CNI_IFNAME say,
// an input Load accepts names CNI_IFNAME in the container's sandbox exactly once, an ordinary
// interface name, and only valid addresses and gateways of that interface's own entries, so ADD
// touches and announces nothing but that interface.
func FuzzPrevResult(f *testing.F) {
	for _, s := range []struct{ prev, ifname string }{
		{bridgeResult, "eth0"},
		{bridgeResult, "all"},
		{`{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/c1"}],"ips":[{"interface":5,"address":"198.51.100.10/24"}]}`, "eth0"},
		{`{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/c1"}],"ips":[{"address":"::ffff:198.51.100.10/120","gateway":"::ffff:198.51.100.1"}]}`, "eth0"},
		{`{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/c1"},{"name":"eth0","sandbox":"/run/netns/c1"}],"ips":[{"interface":1,"address":"2001:db8::1/64"}]}`, "eth0"},
		{`{"cniVersion":"1.0.0","interfaces":[{"name":"lo","sandbox":"/run/netns/c1"}],"ips":[{"interface":0,"address":"198.51.100.10/24","gateway":"2001:db8::1"}]}`, "lo"},
		{`{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/c1"}],"ips":[{"interface":0.0,"address":"198.51.100.10/33"}],"routes":[{"dst":"x"}]}`, "eth0"},
		{`{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/c1"}],"ips":[{"interface":0,"address":"fe80::1%eth0/64"}]}`, "eth0"},
	} {
		f.Add([]byte(s.prev), s.ifname)
	}
	f.Fuzz(func(t *testing.T, prev []byte, ifname string) {
		const netns = "/run/netns/c1"
		stdin := append([]byte(`{"cniVersion":"1.0.0","name":"n","type":"ndp-announce","prevResult":`), prev...)
		stdin = append(stdin, '}')
		_, res, att, err := Load(&skel.CmdArgs{IfName: ifname, Netns: netns, StdinData: stdin})
		if err != nil {
			return
		}
		if CheckIfName(ifname) != nil {
			t.Fatalf("accepted CNI_IFNAME %q", ifname)
		}
		if att.Name != ifname || att.Index < 0 || att.Index >= len(res.Interfaces) {
			t.Fatalf("attachment %+v for %q in %d interfaces", att, ifname, len(res.Interfaces))
		}
		matches := 0
		for _, intf := range res.Interfaces {
			if intf.Name == ifname && intf.Sandbox == netns {
				matches++
			}
		}
		if intf := res.Interfaces[att.Index]; intf.Name != ifname || intf.Sandbox != netns || matches != 1 {
			t.Fatalf("attachment index %d is %+v, %d entries name %q", att.Index, intf, matches, ifname)
		}
		for _, p := range att.Addrs() {
			if !p.IsValid() || p.Addr().Is4In6() || p.Addr().Zone() != "" || !fromOwnEntry(res, att.Index, p) {
				t.Fatalf("attachment address %v (valid %v) is not a plain address of entry %d", p, p.IsValid(), att.Index)
			}
		}
		checkFamily(t, att.GwV4, true)
		checkFamily(t, att.GwV6, false)
	})
}

func fromOwnEntry(res *current.Result, idx int, p netip.Prefix) bool {
	for _, ipc := range res.IPs {
		if q, ok := toPrefix(ipc.Address); ok && q == p && ipBelongsTo(ipc, idx, res) {
			return true
		}
	}
	return false
}

func checkFamily(t *testing.T, gws []netip.Addr, v4 bool) {
	t.Helper()
	for _, gw := range gws {
		if !gw.IsValid() || gw.Is4() != v4 || gw.Is4In6() {
			t.Fatalf("gateway %v in the IPv4=%v list", gw, v4)
		}
	}
}
