package iface

import (
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// MissingAddrs opens t and returns the entries of want that are not on it
// (see Handle.MissingAddrs).
func MissingAddrs(t Target, want []netip.Prefix) ([]netip.Prefix, error) {
	c, err := Open(t)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.MissingAddrs(want)
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
