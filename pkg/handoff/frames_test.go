package handoff

import (
	"errors"
	"net/netip"
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

// A round's report becomes per-kind sent and failed counts: failures are what was due and
// neither sent nor skipped.
func TestRoundFrames(t *testing.T) {
	targets := l2disco.Targets{
		IPv4: addrs("198.51.100.10", "198.51.100.11"), IPv6: addrs("2001:db8::a", "fe80::1"),
		GatewaysV4: addrs("198.51.100.1"), GatewaysV6: addrs("2001:db8::1"),
	}
	rep := l2disco.RoundReport{
		ARP: addrs("198.51.100.10"), NA: nil, SkippedNA: addrs("2001:db8::a"),
		GatewayARP: addrs("198.51.100.1", "198.51.100.1"), Failed: 1,
	}
	got := RoundFrames(rep, targets, true)
	want := Frames{
		Sent:   FrameCounts{ARP: 1, GatewayARP: 2},
		Failed: FrameCounts{ARP: 1, GatewayNS: 1},
	}
	if got != want {
		t.Errorf("RoundFrames = %+v, want %+v", got, want)
	}
	if noGw := RoundFrames(rep, targets, false); noGw.Failed.GatewayNS != 0 {
		t.Errorf("without gateways, a gateway NS counted as failed: %+v", noGw)
	}
}

// Count puts an expected no-route NA in neither column.
func TestCountSkipsExpectedNoRoute(t *testing.T) {
	var f Frames
	f.Count(FrameNA, l2disco.ErrNoMcastRoute, true)
	f.Count(FrameNA, l2disco.ErrNoMcastRoute, false)
	f.Count(FrameARP, nil, false)
	f.Count(FrameGatewayNS, errors.New("boom"), true)
	want := Frames{Sent: FrameCounts{ARP: 1}, Failed: FrameCounts{NA: 1, GatewayNS: 1}}
	if f != want {
		t.Errorf("counted %+v, want %+v", f, want)
	}
}
