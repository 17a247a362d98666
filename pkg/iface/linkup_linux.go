package iface

import (
	"context"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// WaitLinkUp waits until t.IfName is administratively and operationally up
// (see linkUp for why both), or ctx ends. When the link is already up it
// returns after one netlink round trip. Otherwise it subscribes to link
// events in the container netns, re-reads the link, and re-checks on every
// event for the link and every pollInterval.
func (c *Handle) WaitLinkUp(ctx context.Context) WaitResult {
	w := startWait(CondLinkUp, c.IfName)
	index := c.link.Attrs().Index
	seen := func(l netlink.Link) bool {
		up, state := linkUp(l.Attrs().RawFlags, uint8(l.Attrs().OperState))
		w.res.LastState = state
		return up
	}
	// The link openLink read is the first check: no extra round trip.
	if seen(c.link) {
		return w.done(true, nil)
	}

	check := func() (bool, error) {
		l, err := c.h.LinkByIndex(index)
		if err != nil {
			return false, fmt.Errorf("read link %s (index %d) in %s: %w", c.IfName, index, c.ns, err)
		}
		return seen(l), nil
	}
	// watch subscribes before its first re-read, which closes the race with
	// a change between the read above and the subscription. (LinkSubscribe's
	// ListExisting does the same with a dump of every link and a goroutine.)
	return w.done(watch(ctx, c.ns, index, check, unix.RTNLGRP_LINK))
}

// WaitLinkUp opens t for one wait; see Handle.WaitLinkUp.
func WaitLinkUp(ctx context.Context, t Target) WaitResult {
	return withHandle(t, CondLinkUp, t.IfName, func(c *Handle) WaitResult { return c.WaitLinkUp(ctx) })
}
