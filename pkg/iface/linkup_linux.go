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
func WaitLinkUp(ctx context.Context, t Target) WaitResult {
	w := startWait(CondLinkUp, t.IfName)
	cns, err := openNS(t.NetNS)
	if err != nil {
		return w.done(false, err)
	}
	defer cns.Close()
	h, err := cns.handle()
	if err != nil {
		return w.done(false, err)
	}
	defer h.Close()

	link, err := linkByName(h, cns, t.IfName)
	if err != nil {
		return w.done(false, err)
	}
	index := link.Attrs().Index
	seen := func(l netlink.Link) bool {
		up, state := linkUp(l.Attrs().RawFlags, uint8(l.Attrs().OperState))
		w.res.LastState = state
		return up
	}
	if seen(link) {
		return w.done(true, nil)
	}

	// Subscribing before the re-read below closes the race with a change
	// between the first read and the subscription. (LinkSubscribe's
	// ListExisting does the same with a dump of every link and a goroutine.)
	ev, err := subscribe(cns, index, unix.RTNLGRP_LINK)
	if err != nil {
		return w.done(false, err)
	}
	defer ev.Close()
	met, err := waitLoop(ctx, ev, func() (bool, error) {
		l, err := h.LinkByIndex(index)
		if err != nil {
			return false, fmt.Errorf("read link %s (index %d) in %s: %w", t.IfName, index, cns, err)
		}
		return seen(l), nil
	})
	return w.done(met, err)
}
