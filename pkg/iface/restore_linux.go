package iface

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// netState is what a sysctl can take from an interface that undoing the
// sysctl does not give back: disable_ipv6=1 flushes the IPv6 addresses and
// the routes through them, and disable_ipv6=0 brings back only the
// link-local one. Configure reads it before writing any sysctl, so that a
// failed ADD leaves the interface as it found it.
type netState struct {
	addrs  []netlink.Addr
	routes []netlink.Route
}

// readNetState reads the interface's addresses and the routes through it, in
// every table (two netlink dumps).
func (c *Handle) readNetState() (*netState, error) {
	addrs, err := listAll("addresses of "+c.IfName, func() ([]netlink.Addr, error) {
		return c.h.AddrList(c.link, netlink.FAMILY_ALL)
	})
	if err != nil {
		return nil, fmt.Errorf("list addresses of %s in %s: %w", c.IfName, c.ns, err)
	}
	routes, err := listAll("routes of "+c.IfName, func() ([]netlink.Route, error) {
		return c.h.RouteListFiltered(netlink.FAMILY_ALL,
			&netlink.Route{LinkIndex: c.link.Attrs().Index, Table: unix.RT_TABLE_UNSPEC},
			netlink.RT_FILTER_OIF|netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, fmt.Errorf("list routes of %s in %s: %w", c.IfName, c.ns, err)
	}
	return &netState{addrs: addrs, routes: routes}, nil
}

// restoreNetState adds back the addresses, then the routes, of s that are
// gone now. Addresses come back with their flags and lifetimes (DAD runs
// again where it ran before); what the kernel re-creates by itself
// (link-local addresses, its own routes) is left to it.
func (c *Handle) restoreNetState(s *netState) error {
	if s == nil {
		return nil
	}
	now, err := c.readNetState()
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range s.addrs {
		if hasAddr(now.addrs, a) {
			continue
		}
		a := a
		if err := c.h.AddrReplace(c.link, &a); err != nil {
			errs = append(errs, fmt.Errorf("restore address %s on %s: %w", a.IPNet, c.IfName, err))
		}
	}
	if now, err = c.readNetState(); err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, r := range s.routes {
		// The kernel's own (prefix, local, multicast) come back with the addresses, some of them
		// only once the address is past DAD: adding them here would duplicate them.
		if r.Protocol == unix.RTPROT_KERNEL || hasRoute(now.routes, r) {
			continue
		}
		r := r
		if err := c.h.RouteAdd(&r); err != nil && !errors.Is(err, unix.EEXIST) {
			errs = append(errs, fmt.Errorf("restore route %s on %s: %w", routeString(r), c.IfName, err))
		}
	}
	return errors.Join(errs...)
}

func hasAddr(list []netlink.Addr, a netlink.Addr) bool {
	for _, b := range list {
		if b.IPNet.String() == a.IPNet.String() {
			return true
		}
	}
	return false
}

func hasRoute(list []netlink.Route, r netlink.Route) bool {
	for _, b := range list {
		if b.Table == r.Table && b.Type == r.Type && b.Priority == r.Priority &&
			ipNetString(b.Dst) == ipNetString(r.Dst) && b.Gw.Equal(r.Gw) {
			return true
		}
	}
	return false
}

func ipNetString(n *net.IPNet) string {
	if n == nil {
		return "default"
	}
	return n.String()
}

func routeString(r netlink.Route) string {
	s := ipNetString(r.Dst)
	if r.Gw != nil {
		s += " via " + r.Gw.String()
	}
	return fmt.Sprintf("%s table %d", s, r.Table)
}
