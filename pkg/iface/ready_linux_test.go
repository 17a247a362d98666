package iface

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// A link that never comes up costs its own deadline only: the bridge port, route and DAD waits
// cannot succeed without carrier and are not run.
func TestWaitReadyStopsWhenTheLinkStaysDown(t *testing.T) {
	tb := newTestbed(t) // links created down
	start := time.Now()
	res, mcastOK := WaitReady(context.Background(), tb.target, WaitTimeouts{
		LinkUp: 100 * time.Millisecond, BridgePort: time.Second, McastRoute: time.Second, DAD: time.Second,
	}, []netip.Addr{netip.MustParseAddr("2001:db8::10")})
	if took := time.Since(start); took > 700*time.Millisecond {
		t.Errorf("WaitReady took %v with the link down; want about the link-up deadline", took)
	}
	if len(res) != 1 || res[0].Condition != CondLinkUp || res[0].Met {
		t.Errorf("results %v, want only an unmet link-up wait", res)
	}
	if mcastOK {
		t.Error("mcastRouteOK with the link down")
	}
}

// Up and forwarding: every wait runs and is met; without IPv6 the route and DAD waits are skipped.
func TestWaitReadyAllMet(t *testing.T) {
	tb := newTestbed(t)
	tb.bringUp(t)
	res, mcastOK := WaitReady(context.Background(), tb.target, DefaultWaits, []netip.Addr{})
	if len(res) != 2 || !res[0].Met || !res[1].Met || mcastOK {
		t.Errorf("IPv4 only: results %v mcastOK %v, want link up and bridge port met, no route wait", res, mcastOK)
	}
	res, mcastOK = WaitReady(context.Background(), tb.target, DefaultWaits, []netip.Addr{netip.MustParseAddr("2001:db8::10")})
	if len(res) != 4 || !mcastOK {
		t.Errorf("with IPv6: results %v mcastOK %v, want four waits and the route found", res, mcastOK)
	}
}
