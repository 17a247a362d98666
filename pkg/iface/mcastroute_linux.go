package iface

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// WaitMcastRoute waits until the kernel has a route to ff02::1 out of
// t.IfName (the local-table multicast route addrconf adds once the link has
// carrier and IPv6 is enabled), or ctx ends. Without it an NA send fails with
// ENETUNREACH. The lookup names the output interface; moby's lookup with
// iif lo and source ::1 answers EMSGSIZE once the route exists.
//
// "No route" (ENETUNREACH) keeps it waiting; other errors end the wait. When
// the route exists it costs two netlink round trips.
func (c *Handle) WaitMcastRoute(ctx context.Context) WaitResult {
	w := startWait(CondMcastRoute, c.IfName)
	index := c.link.Attrs().Index

	check := func() (bool, error) {
		routes, err := c.h.RouteGetWithOptions(net.IPv6linklocalallnodes, &netlink.RouteGetOptions{OifIndex: index})
		switch {
		case errors.Is(err, unix.ENETUNREACH), err == nil && len(routes) == 0:
			w.res.LastState = "no route"
			return false, nil
		case err != nil:
			return false, fmt.Errorf("route get ff02::1 oif %s in %s: %w", c.IfName, c.ns, err)
		case routes[0].LinkIndex != index:
			w.res.LastState = fmt.Sprintf("route via ifindex %d", routes[0].LinkIndex)
			return false, nil
		}
		w.res.LastState = "route"
		return true, nil
	}
	if ok, err := check(); ok || err != nil {
		return w.done(ok, err)
	}
	// The route appears when addrconf sees carrier; either event wakes us.
	return w.done(watch(ctx, c.ns, index, check, unix.RTNLGRP_IPV6_ROUTE, unix.RTNLGRP_LINK))
}

// WaitMcastRoute opens t for one wait; see Handle.WaitMcastRoute.
func WaitMcastRoute(ctx context.Context, t Target) WaitResult {
	return withHandle(t, CondMcastRoute, t.IfName, func(c *Handle) WaitResult { return c.WaitMcastRoute(ctx) })
}
