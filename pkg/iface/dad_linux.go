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
func WaitDAD(ctx context.Context, t Target, addrs []netip.Addr) WaitResult {
	w := startWait(CondDAD, t.IfName)
	c, err := openLink(t)
	if err != nil {
		return w.done(false, err)
	}
	defer c.Close()

	check := func() (bool, error) {
		have, err := addrList(c.h, c.ns, c.link, netlink.FAMILY_V6)
		if err != nil {
			return false, err
		}
		done, state, failed := dadStep(addrs, have)
		w.res.LastState = state
		if len(failed) > 0 {
			return false, fmt.Errorf("duplicate address detection failed for %s on %s", joinAddrs(failed), t.IfName)
		}
		return done, nil
	}
	if ok, err := check(); ok || err != nil {
		return w.done(ok, err)
	}
	return w.done(watch(ctx, c.ns, c.link.Attrs().Index, check, unix.RTNLGRP_IPV6_IFADDR))
}

// addrList lists the link's addresses of a family with their flags.
func addrList(h *netlink.Handle, r nsRef, link netlink.Link, family int) ([]addrFlags, error) {
	name := link.Attrs().Name
	list, err := listAll("addresses of "+name, func() ([]netlink.Addr, error) {
		return h.AddrList(link, family)
	})
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s in %s: %w", name, r, err)
	}
	out := make([]addrFlags, 0, len(list))
	for _, a := range list {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		out = append(out, addrFlags{Addr: ip.Unmap(), Flags: uint32(a.Flags)})
	}
	return out, nil
}
