package iface

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
	"github.com/ndp-announce/ndp-announce/pkg/sysctl"
)

// Spec says how Add moves an existing link into a network namespace and
// configures it, the way Docker's libnetwork does.
type Spec struct {
	SrcName   string           // the link's name in HostNetNS
	DstName   string           // its name in NetNS; "" keeps SrcName
	NetNS     string           // the target netns path (required)
	HostNetNS string           // where the link is now and goes back to; "" = current netns
	MAC       net.HardwareAddr // nil keeps the link's MAC
	// Addrs are the IPv4 and IPv6 addresses. IPv6 ones are added with
	// IFA_F_NODAD: they are assigned by IPAM, and a tentative address could
	// not send the NAs that announce it.
	Addrs     []netip.Prefix
	LinkLocal []netip.Prefix // extra link-local addresses
	// Routes are on-link (scope link) routes, added once the link is up.
	// Default routes are skipped: choosing the gateway is the caller's job.
	Routes []netip.Prefix
	Master string // a bridge in NetNS to enslave the link to; "" for none
	// Sysctls ("net.<family>.<table>.IFNAME.<name>=<value>") are applied in
	// order in NetNS, after the addresses, with IFNAME = DstName.
	Sysctls []string
	// KeepUnusedIPv6 leaves IPv6 enabled on a link without an IPv6 address.
	// By default it is disabled, so that an IPv4-only interface joins no
	// IPv6 multicast group and is not open to NDP or RA spoofing.
	KeepUnusedIPv6 bool
	// Waits are the deadlines of the waits before the first announcement;
	// a zero one is not waited for. DefaultWaits are the plugin's.
	Waits WaitTimeouts
	// Announce says how Add tells peers the addresses' new MAC once the
	// waits are over. The zero value announces nothing.
	Announce Announcement
	// Logger receives what Add and the background announcer have to say,
	// including announcement failures, which never fail Add. nil means
	// slog.Default().
	Logger *slog.Logger
}

// Announcement is the unsolicited ARP / Neighbour Advertisement schedule.
type Announcement struct {
	// Count is the number of rounds, 0-3 (0 = off). Add sends the first
	// before it returns; the rest follow in the background, Interval apart,
	// until they are done or Remove stops them.
	Count int
	// Interval is the gap between rounds, 100ms-2s; 0 means
	// l2disco.DefaultInterval.
	Interval time.Duration
	// Gateways get one directed ARP request or Neighbour Solicitation in
	// the first round, from each of our addresses of their family: some
	// stacks (gVisor) learn a new MAC only from requests addressed to them,
	// and the gateway is the peer that matters most.
	Gateways []netip.Addr
}

// plan is a checked Spec: everything Add could refuse is refused before a
// link is touched.
type plan struct {
	Spec
	sysctls []sysctl.Entry
	hasIPv6 bool
}

func newPlan(s Spec) (plan, error) {
	p := plan{Spec: s}
	if p.DstName == "" {
		p.DstName = p.SrcName
	}
	var errs []error
	if p.NetNS == "" {
		errs = append(errs, errors.New("target netns path is empty"))
	}
	for _, name := range []string{p.SrcName, p.DstName} {
		if err := sysctl.CheckIfName(name); err != nil {
			errs = append(errs, err)
		}
	}
	if p.MAC != nil && len(p.MAC) != 6 {
		errs = append(errs, fmt.Errorf("MAC %s is not a 6-byte Ethernet address", p.MAC))
	}
	for _, list := range [][]netip.Prefix{p.Addrs, p.LinkLocal, p.Routes} {
		for _, a := range list {
			if !a.IsValid() || a.Addr().Is4In6() || a.Addr().Zone() != "" {
				errs = append(errs, fmt.Errorf("invalid prefix %s (want a plain IPv4 or IPv6 prefix)", a))
			}
		}
	}
	for _, a := range p.LinkLocal {
		if !a.Addr().IsLinkLocalUnicast() {
			errs = append(errs, fmt.Errorf("link-local address %s is not link-local", a))
		}
	}
	p.hasIPv6 = hasIPv6(p.Addrs)
	entries, err := sysctl.ParseList(p.Sysctls)
	if err != nil {
		errs = append(errs, err)
	}
	p.sysctls = entries
	if p.Announce.Interval == 0 {
		p.Announce.Interval = l2disco.DefaultInterval
	}
	// Checked even when Count is 0: a bad interval is a config mistake
	// whether or not announcements are on today.
	if err := l2disco.ValidateSchedule(p.Announce.Count, p.Announce.Interval); err != nil {
		errs = append(errs, err)
	}
	for _, gw := range p.Announce.Gateways {
		if !gw.IsValid() || gw.Is4In6() || gw.Zone() != "" || gw.IsUnspecified() || gw.IsMulticast() {
			errs = append(errs, fmt.Errorf("invalid gateway %s (want a plain unicast IPv4 or IPv6 address)", gw))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return plan{}, fmt.Errorf("attach %s: %w", s.SrcName, err)
	}
	return p, nil
}

// routesFor returns the routes to add: no default routes, and no IPv6
// routes once no IPv6 address is left (they would fail, or point nowhere).
func routesFor(routes []netip.Prefix, ipv6Left bool) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range routes {
		if r.Bits() == 0 || (r.Addr().Unmap().Is6() && !ipv6Left) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// removePrefixes returns list without the entries in drop.
func removePrefixes(list, drop []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range list {
		keep := true
		for _, d := range drop {
			if p == d {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, p)
		}
	}
	return out
}

func hasIPv6(list []netip.Prefix) bool {
	for _, p := range list {
		if p.Addr().Unmap().Is6() {
			return true
		}
	}
	return false
}

// logger returns the Spec's logger or the default one.
func (s Spec) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	a := p.Addr().Unmap()
	bits := a.BitLen()
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(p.Bits(), bits)}
}
