package iface

import (
	"context"
	"net/netip"
	"time"
)

// WaitReady runs, in order, the waits a first announcement needs: link up, bridge port forwarding
// and, when there are IPv6 addresses to announce, the ff02::1 route and the end of DAD for them.
// A timeout of 0 means the default, a negative one skips that wait. It stops early when the rest
// cannot succeed: without carrier there is no forwarding port and no route, and waiting for them
// would only add their deadlines to ADD. mcastRouteOK says an NA can be routed; it is false when
// the route wait ran and was not met or could not run.
func WaitReady(ctx context.Context, t Target, w WaitTimeouts, ipv6 []netip.Addr) (res []WaitResult, mcastRouteOK bool) {
	w = w.withDefaults()
	run := func(d time.Duration, wait func(context.Context) WaitResult) WaitResult {
		if d < 0 {
			return WaitResult{Met: true}
		}
		wctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		r := wait(wctx)
		res = append(res, r)
		return r
	}
	up := run(w.LinkUp, func(ctx context.Context) WaitResult { return WaitLinkUp(ctx, t) })
	if !up.Met {
		return res, false
	}
	run(w.BridgePort, func(ctx context.Context) WaitResult { return WaitBridgePort(ctx, t) })
	if len(ipv6) == 0 {
		return res, false
	}
	mr := run(w.McastRoute, func(ctx context.Context) WaitResult { return WaitMcastRoute(ctx, t) })
	run(w.DAD, func(ctx context.Context) WaitResult { return WaitDAD(ctx, t, ipv6) })
	return res, mr.Met
}
