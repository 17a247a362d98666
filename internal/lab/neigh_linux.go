package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
)

// Neigh is one entry of a neighbour table.
type Neigh struct {
	MAC   net.HardwareAddr
	State string // "REACHABLE", "STALE", ... as ip neigh prints it; "" when there is no entry
}

func (n Neigh) String() string {
	if n.State == "" {
		return "no entry"
	}
	return n.MAC.String() + " " + n.State
}

// Family is the netlink address family of ip.
func Family(ip netip.Addr) int {
	if ip.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

// ReadNeigh reads the entry link index in h's netns has for ip, over netlink.
func ReadNeigh(h *netlink.Handle, index int, ip netip.Addr) (Neigh, error) {
	neighs, err := h.NeighList(index, Family(ip))
	// An interrupted dump still returns the entries; a change during it is
	// what the callers poll for anyway.
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return Neigh{}, fmt.Errorf("list neighbours on ifindex %d: %w", index, err)
	}
	for _, n := range neighs {
		if a, ok := netip.AddrFromSlice(n.IP); ok && a.Unmap() == ip {
			return Neigh{MAC: n.HardwareAddr, State: stateName(n.State)}, nil
		}
	}
	return Neigh{}, nil
}

// Neigh reads the entry link index in n has for ip.
func (n *NetNS) Neigh(index int, ip netip.Addr) (Neigh, error) {
	return ReadNeigh(n.Handle, index, ip)
}

var nudNames = []struct {
	bit  int
	name string
}{
	{netlink.NUD_INCOMPLETE, "INCOMPLETE"}, {netlink.NUD_REACHABLE, "REACHABLE"}, {netlink.NUD_STALE, "STALE"},
	{netlink.NUD_DELAY, "DELAY"}, {netlink.NUD_PROBE, "PROBE"}, {netlink.NUD_FAILED, "FAILED"},
	{netlink.NUD_NOARP, "NOARP"}, {netlink.NUD_PERMANENT, "PERMANENT"},
}

// stateName spells NUD state bits the way ip neigh does, "," between them.
func stateName(state int) string {
	var names []string
	for _, n := range nudNames {
		if state&n.bit != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "NONE"
	}
	return strings.Join(names, ",")
}

// Usable reports whether the entry names a MAC the kernel sends to: an
// INCOMPLETE or FAILED entry is still asking, or gave up.
func (n Neigh) Usable() bool {
	return n.MAC != nil && n.State != "" && !strings.Contains(n.State, "INCOMPLETE") && !strings.Contains(n.State, "FAILED")
}
