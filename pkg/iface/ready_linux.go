package iface

import (
	"context"
	"net/netip"
	"time"
)

// WaitReady runs, in order, the waits a first announcement needs: link up, bridge port forwarding
// and, when there are IPv6 addresses to announce, the ff02::1 route and the end of DAD for them.
// A zero timeout skips that wait (DefaultWaits has the usual ones). It stops early when the rest
// cannot succeed: without carrier there is no forwarding port and no route, and waiting for them
// would only add their deadlines to ADD. mcastRouteOK says an NA can be routed; it is false when
// the route wait ran and was not met or could not run.
func (c *Handle) WaitReady(ctx context.Context, w WaitTimeouts, ipv6 []netip.Addr) (res []WaitResult, mcastRouteOK bool) {
	run := func(d time.Duration, wait func(context.Context) WaitResult) WaitResult {
		if d <= 0 {
			return WaitResult{Met: true}
		}
		wctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		r := wait(wctx)
		res = append(res, r)
		return r
	}
	up := run(w.LinkUp, c.WaitLinkUp)
	if !up.Met {
		return res, false
	}
	run(w.BridgePort, c.WaitBridgePort)
	if len(ipv6) == 0 {
		return res, false
	}
	mr := run(w.McastRoute, c.WaitMcastRoute)
	run(w.DAD, func(ctx context.Context) WaitResult { return c.WaitDAD(ctx, ipv6) })
	return res, mr.Met
}

// WaitReady opens t for the waits; see Handle.WaitReady.
func WaitReady(ctx context.Context, t Target, w WaitTimeouts, ipv6 []netip.Addr) (res []WaitResult, mcastRouteOK bool) {
	c, err := Open(t)
	if err != nil {
		return []WaitResult{startWait(CondLinkUp, t.IfName).done(false, err)}, false
	}
	defer c.Close()
	return c.WaitReady(ctx, w, ipv6)
}

// WaitTimeouts are the wait deadlines. Zero means do not wait, everywhere: in
// the plugin's config (linkUpTimeoutMs: 0), in Spec and in WaitReady.
type WaitTimeouts struct {
	LinkUp     time.Duration
	BridgePort time.Duration
	McastRoute time.Duration
	DAD        time.Duration // only waited for when an address is tentative
}

// DefaultWaits are the deadlines the plugin's config defaults to: long enough
// for a veth that bridge brought up a moment ago, short enough that a port
// that will not forward costs ADD little.
var DefaultWaits = WaitTimeouts{
	LinkUp:     5 * time.Second,
	BridgePort: 200 * time.Millisecond,
	McastRoute: 200 * time.Millisecond,
	DAD:        3 * time.Second,
}
