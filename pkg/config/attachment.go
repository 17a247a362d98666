package config

import (
	"fmt"
	"net"
	"net/netip"
	"os"

	current "github.com/containernetworking/cni/pkg/types/100"
)

// Attachment is the container interface as the previous plugin reported it.
type Attachment struct {
	Index int // in result.Interfaces
	Name  string
	IPv4  []netip.Prefix
	IPv6  []netip.Prefix
	GwV4  []netip.Addr
	GwV6  []netip.Addr
}

// FindAttachment finds CNI_IFNAME in the container sandbox. A result for another sandbox, or one
// without the interface, means we are chained wrongly: a config error.
func FindAttachment(res *current.Result, ifName, netns string) (*Attachment, error) {
	idx := -1
	for i, intf := range res.Interfaces {
		if intf.Name != ifName || !sameNetNS(intf.Sandbox, netns) {
			continue
		}
		if idx >= 0 {
			// Which one is ours is anybody's guess: do nothing rather than act on the wrong one.
			return nil, Error(fmt.Sprintf("prevResult.interfaces[%d]", i), "%q in sandbox %q again (also interfaces[%d]): the container interface must be listed once", ifName, netns, idx)
		}
		idx = i
	}
	if idx < 0 {
		return nil, Error("prevResult.interfaces", "no interface %q in sandbox %q: chain ndp-announce after the plugin that creates it", ifName, netns)
	}
	a := &Attachment{Index: idx, Name: ifName}
	for _, ipc := range res.IPs {
		if !ipBelongsTo(ipc, idx, res) {
			continue
		}
		pfx, ok := toPrefix(ipc.Address)
		if !ok {
			continue
		}
		gw, gwOK := netip.AddrFromSlice(ipc.Gateway)
		if pfx.Addr().Is4() {
			a.IPv4 = append(a.IPv4, pfx)
			if gwOK {
				a.GwV4 = appendUnique(a.GwV4, gw.Unmap())
			}
		} else {
			a.IPv6 = append(a.IPv6, pfx)
			if gwOK {
				a.GwV6 = appendUnique(a.GwV6, gw)
			}
		}
	}
	return a, nil
}

// ipBelongsTo: an IP with no interface index belongs to us only when we are the sole sandbox interface
// (0.3.x results from some plugins omit it).
func ipBelongsTo(ipc *current.IPConfig, idx int, res *current.Result) bool {
	if ipc.Interface != nil {
		return *ipc.Interface == idx
	}
	sandboxed := 0
	for _, intf := range res.Interfaces {
		if intf.Sandbox != "" {
			sandboxed++
		}
	}
	return sandboxed == 1
}

func toPrefix(n net.IPNet) (netip.Prefix, bool) {
	addr, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(addr.Unmap(), ones), true
}

func appendUnique(list []netip.Addr, a netip.Addr) []netip.Addr {
	for _, x := range list {
		if x == a {
			return list
		}
	}
	return append(list, a)
}

// sameNetNS compares two netns paths; runtimes sometimes report the same namespace through different
// paths (a symlink, /proc/PID/ns/net), so fall back to comparing the files.
func sameNetNS(a, b string) bool {
	if a == b {
		return true
	}
	if a == "" || b == "" {
		return false
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA != nil || errB != nil {
		return false
	}
	return os.SameFile(sa, sb)
}

// DropIPv6 removes from the result the IPv6 addresses of our interface that are no longer on it (a
// sysctl such as disable_ipv6=1 removed them), and the IPv6 routes once none of its IPv6 is left, so
// that the result tells the truth and the previous plugin's CHECK still passes.
func DropIPv6(res *current.Result, a *Attachment, missing []netip.Prefix) {
	if len(missing) == 0 {
		return
	}
	gone := make(map[netip.Prefix]bool, len(missing))
	for _, m := range missing {
		gone[m] = true
	}
	kept := res.IPs[:0]
	for _, ipc := range res.IPs {
		if pfx, ok := toPrefix(ipc.Address); ok && pfx.Addr().Is6() && ipBelongsTo(ipc, a.Index, res) && gone[pfx] {
			continue
		}
		kept = append(kept, ipc)
	}
	res.IPs = kept

	var left []netip.Prefix
	for _, p := range a.IPv6 {
		if !gone[p] {
			left = append(left, p)
		}
	}
	a.IPv6 = left
	if len(left) > 0 {
		return
	}
	a.GwV6 = nil
	if anyIPv6(res) {
		return // another interface of the result still uses IPv6 routes
	}
	routes := res.Routes[:0]
	for _, r := range res.Routes {
		if r.Dst.IP.To4() == nil {
			continue
		}
		routes = append(routes, r)
	}
	res.Routes = routes
}

func anyIPv6(res *current.Result) bool {
	for _, ipc := range res.IPs {
		if ipc.Address.IP.To4() == nil {
			return true
		}
	}
	return false
}

// Addrs are the interface's IPv4 and IPv6 addresses.
func (a *Attachment) Addrs() []netip.Prefix {
	return append(append([]netip.Prefix(nil), a.IPv4...), a.IPv6...)
}

// Gateways are the gateways of the interface's addresses, when announce is set.
func (a *Attachment) Gateways(announce bool) []netip.Addr {
	if !announce {
		return nil
	}
	return append(append([]netip.Addr(nil), a.GwV4...), a.GwV6...)
}
