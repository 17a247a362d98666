package iface

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// Handle is one interface of a container with its network namespace opened
// once: a single namespace descriptor and a single netlink handle serve
// every step that follows (sysctls, address checks, waits, sockets), so an
// ADD opens the container's namespace exactly one time.
type Handle struct {
	Target
	ns   nsRef
	h    *netlink.Handle
	link netlink.Link // as read by Open
}

// Open opens t.NetNS and a netlink handle in it and reads t.IfName (one
// netlink round trip). On error nothing is left open.
func Open(t Target) (*Handle, error) {
	c, err := openHandle(t)
	if err != nil {
		return nil, err
	}
	if err := c.readLink(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// openHandle opens the namespace and a netlink handle in it, not yet the
// link (Add opens it before the link is moved in).
func openHandle(t Target) (*Handle, error) {
	r, err := openNS(t.NetNS)
	if err != nil {
		return nil, err
	}
	h, err := r.handle()
	if err != nil {
		r.Close()
		return nil, err
	}
	return &Handle{Target: t, ns: r, h: h}, nil
}

// readLink (re-)reads the interface by name.
func (c *Handle) readLink() error {
	link, err := linkByName(c.h, c.ns, c.IfName)
	if err != nil {
		return err
	}
	c.link = link
	return nil
}

// Close releases the netlink handle and the namespace.
func (c *Handle) Close() {
	c.h.Close()
	c.ns.Close()
}

// Do runs fn on an OS thread inside the container's namespace, for work that
// resolves against the calling thread's namespace: /proc/sys/net, creating
// sockets. fn must not start goroutines. It makes a Handle a sysctl.NetNS.
func (c *Handle) Do(fn func(ns.NetNS) error) error { return c.ns.do(fn) }

// Link is what a caller needs to open sockets on an interface and announce
// its addresses.
type Link struct {
	Index     int
	Name      string
	Kind      string // "veth", "macvlan", ...
	MAC       net.HardwareAddr
	MTU       int
	Flags     net.Flags
	OperState string // "up", "down", "lowerlayerdown", "unknown", ...
}

// Link describes the interface as Open read it.
func (c *Handle) Link() Link {
	a := c.link.Attrs()
	return Link{
		Index:     a.Index,
		Name:      a.Name,
		Kind:      c.link.Type(),
		MAC:       a.HardwareAddr,
		MTU:       a.MTU,
		Flags:     a.Flags,
		OperState: operStateName(uint8(a.OperState)),
	}
}

// LinkInfo reads t.IfName in t.NetNS (one netlink round trip).
func LinkInfo(t Target) (Link, error) {
	c, err := Open(t)
	if err != nil {
		return Link{}, err
	}
	defer c.Close()
	return c.Link(), nil
}

// Addrs returns the interface's addresses of a family (netlink.FAMILY_V4,
// FAMILY_V6, FAMILY_ALL) now.
func (c *Handle) Addrs(family int) ([]netip.Addr, error) {
	have, err := addrList(c.h, c.ns, c.link, family)
	if err != nil {
		return nil, err
	}
	addrs := make([]netip.Addr, len(have))
	for i, a := range have {
		addrs[i] = a.Addr
	}
	return addrs, nil
}

// MissingAddrs returns the entries of want whose address is not on the
// interface now, e.g. IPv6 addresses a sysctl (disable_ipv6) removed after
// IPAM assigned them. Only addresses are compared, not prefix lengths.
func (c *Handle) MissingAddrs(want []netip.Prefix) ([]netip.Prefix, error) {
	if len(want) == 0 {
		return nil, nil
	}
	have, err := c.Addrs(netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("read addresses of %s: %w", c.IfName, err)
	}
	return missingPrefixes(want, have), nil
}
