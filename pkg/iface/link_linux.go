package iface

import (
	"net"
)

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

// LinkInfo reads t.IfName in t.NetNS (one netlink round trip).
func LinkInfo(t Target) (Link, error) {
	c, err := openLink(t)
	if err != nil {
		return Link{}, err
	}
	defer c.Close()
	l := c.link
	a := l.Attrs()
	return Link{
		Index:     a.Index,
		Name:      a.Name,
		Kind:      l.Type(),
		MAC:       a.HardwareAddr,
		MTU:       a.MTU,
		Flags:     a.Flags,
		OperState: operStateName(uint8(a.OperState)),
	}, nil
}

// LinkIndex returns t.IfName's ifindex in t.NetNS.
func LinkIndex(t Target) (int, error) {
	l, err := LinkInfo(t)
	return l.Index, err
}
