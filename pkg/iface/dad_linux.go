package iface

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// WaitDAD waits until none of addrs on t.IfName is tentative (duplicate
// address detection still running), or ctx ends. A tentative address cannot
// be the source of an NA (EADDRNOTAVAIL). If DAD fails for any of them the
// wait stops at once: Err names the duplicates. IPv4 addresses are ignored,
// addresses not on the interface do not hold the wait (LastState names
// them). When nothing is tentative it costs two netlink round trips.
func (c *Handle) WaitDAD(ctx context.Context, addrs []netip.Addr) WaitResult {
	w := startWait(CondDAD, c.IfName)

	check := func() (bool, error) {
		have, err := addrList(c.h, c.ns, c.link, netlink.FAMILY_V6)
		if err != nil {
			return false, err
		}
		done, state, failed := dadStep(addrs, have)
		w.res.LastState = state
		if len(failed) > 0 {
			return false, fmt.Errorf("duplicate address detection failed for %s on %s", joinAddrs(failed), c.IfName)
		}
		return done, nil
	}
	if ok, err := check(); ok || err != nil {
		return w.done(ok, err)
	}
	return w.done(watch(ctx, c.ns, c.link.Attrs().Index, check, unix.RTNLGRP_IPV6_IFADDR))
}

// WaitDAD opens t for one wait; see Handle.WaitDAD.
func WaitDAD(ctx context.Context, t Target, addrs []netip.Addr) WaitResult {
	return withHandle(t, CondDAD, t.IfName, func(c *Handle) WaitResult { return c.WaitDAD(ctx, addrs) })
}
