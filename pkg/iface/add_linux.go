package iface

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
	"github.com/ndp-announce/ndp-announce/pkg/sysctl"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Attachment is a link Add configured in a netns.
type Attachment struct {
	Spec  Spec // as given, with DstName and Announce.Interval filled in
	Index int  // ifindex in Spec.NetNS
	MAC   net.HardwareAddr
	// Addrs are the addresses in effect: Spec.Addrs minus Dropped.
	Addrs []netip.Prefix
	// Dropped are IPv6 addresses a sysctl removed (disable_ipv6=1): release
	// them, do not announce them.
	Dropped []netip.Prefix
	Waits   []WaitResult

	// FirstRound is what Add's synchronous announcement round sent (zero
	// when Spec.Announce.Count is 0 or nothing could be sent).
	FirstRound l2disco.RoundReport
	// AnnounceErr says why the first round failed in whole or in part: the
	// sockets could not be opened, or sends failed. It does not fail Add.
	AnnounceErr error

	// stopAnnouncing cancels the background rounds and returns once they
	// have ended and their sockets are closed; nil when none run.
	stopAnnouncing func()
}

// Add moves link s.SrcName from the host netns into s.NetNS and configures
// it: name, MAC, IPv6 on only if addressed, addresses, master, link-local
// addresses, sysctls, up, routes; then waits (bounded, never failing Add)
// for link up, bridge port forwarding and, with IPv6, the ff02::1 route.
// IPv6 addresses that a sysctl removed are reported in Dropped.
//
// Then, if s.Announce.Count > 0, it sends the first round of unsolicited ARP
// (each IPv4 address) and Neighbour Advertisements (each non-link-local IPv6
// address still on the link), and the directed requests to s.Announce.Gateways,
// before it returns; the other rounds follow in the background until done or
// Remove. An announcement failure does not fail Add: it is logged to
// s.Logger and kept in Attachment.AnnounceErr.
//
// If anything fails after the move, the link goes back to the host netns
// under its original name, so the caller can clean it up or retry.
func Add(ctx context.Context, s Spec) (*Attachment, error) {
	p, err := newPlan(s)
	if err != nil {
		return nil, err
	}
	hns, err := openNS(p.HostNetNS)
	if err != nil {
		return nil, err
	}
	defer hns.Close()
	hh, err := hns.handle()
	if err != nil {
		return nil, err
	}
	defer hh.Close()
	cns, err := openNS(p.NetNS)
	if err != nil {
		return nil, err
	}
	defer cns.Close()
	ch, err := cns.handle()
	if err != nil {
		return nil, err
	}
	defer ch.Close()

	link, err := linkByName(hh, hns, p.SrcName)
	if err != nil {
		return nil, err
	}
	if err := hh.LinkSetNsFd(link, int(cns.fd)); err != nil {
		return nil, fmt.Errorf("move %s from %s to %s: %w", p.SrcName, hns, cns, err)
	}
	a, err := configure(ch, cns, p)
	if err != nil {
		if rerr := moveBack(ch, cns, hns, p.Spec, p.DstName); rerr != nil {
			p.logger().Error("could not return link to the host netns after a failed attach",
				"link", p.SrcName, "netns", p.NetNS, "error", rerr, "cause", err)
		}
		return nil, err
	}
	var mcastRouteOK bool
	a.Waits, mcastRouteOK = waitReady(ctx, p, a)
	a.announce(ctx, p, mcastRouteOK)
	return a, nil
}

// configure does everything between the move and the waits; its error
// makes Add move the link back.
func configure(h *netlink.Handle, r nsRef, p plan) (*Attachment, error) {
	t := Target{NetNS: p.NetNS, IfName: p.DstName, HostNetNS: p.HostNetNS}
	fail := func(op string, err error) (*Attachment, error) {
		return nil, fmt.Errorf("attach %s as %s in %s: %s: %w", p.SrcName, p.DstName, r, op, err)
	}
	link, err := linkByName(h, r, p.SrcName)
	if err != nil {
		return fail("find moved link", err)
	}
	if err := h.LinkSetDown(link); err != nil {
		return fail("set down", err)
	}
	if p.DstName != p.SrcName {
		if err := h.LinkSetName(link, p.DstName); err != nil {
			return fail("rename", err)
		}
	}
	if p.MAC != nil {
		if err := h.LinkSetHardwareAddr(link, p.MAC); err != nil {
			return fail("set MAC "+p.MAC.String(), err)
		}
	}
	// IPv6 must be on before IPv6 addresses can be added, and off on an
	// IPv4-only interface (see Spec.KeepUnusedIPv6).
	if p.hasIPv6 || !p.KeepUnusedIPv6 {
		if _, err := SetIPv6Disabled(t, !p.hasIPv6); err != nil {
			return fail("set disable_ipv6", err)
		}
	}
	for _, a := range p.Addrs {
		flags := 0
		if a.Addr().Unmap().Is6() {
			flags = unix.IFA_F_NODAD
		}
		if err := h.AddrAdd(link, &netlink.Addr{IPNet: prefixToIPNet(a), Flags: flags}); err != nil {
			return fail("add address "+a.String(), err)
		}
	}
	if p.Master != "" {
		master, err := linkByName(h, r, p.Master)
		if err != nil {
			return fail("find master", err)
		}
		if err := h.LinkSetMasterByIndex(link, master.Attrs().Index); err != nil {
			return fail("set master "+p.Master, err)
		}
	}
	for _, a := range p.LinkLocal {
		if err := h.AddrAdd(link, &netlink.Addr{IPNet: prefixToIPNet(a)}); err != nil {
			return fail("add link-local address "+a.String(), err)
		}
	}
	if _, err := sysctl.Apply(p.NetNS, p.DstName, p.sysctls); err != nil {
		return fail("apply sysctls", err)
	}
	// A sysctl (disable_ipv6=1) may have removed IPv6 addresses.
	var dropped []netip.Prefix
	if p.hasIPv6 {
		missing, err := MissingAddrs(t, p.Addrs)
		if err != nil {
			return fail("check addresses", err)
		}
		for _, m := range missing {
			if m.Addr().Unmap().Is6() {
				dropped = append(dropped, m)
			} else {
				return fail("check addresses", fmt.Errorf("IPv4 address %s is gone", m))
			}
		}
		if len(dropped) > 0 {
			p.logger().Info("IPv6 addresses removed by sysctls", "link", p.DstName, "netns", p.NetNS, "dropped", dropped)
		}
	}
	addrs := removePrefixes(p.Addrs, dropped)

	if err := h.LinkSetUp(link); err != nil {
		return fail("set up", err)
	}
	// Routes need the link up.
	index := link.Attrs().Index
	for _, rt := range routesFor(p.Routes, hasIPv6(addrs)) {
		route := &netlink.Route{LinkIndex: index, Scope: netlink.SCOPE_LINK, Dst: prefixToIPNet(rt.Masked())}
		if err := h.RouteAdd(route); err != nil {
			return fail("add route "+rt.String(), err)
		}
	}
	fresh, err := h.LinkByIndex(index)
	if err != nil {
		return fail("read back", err)
	}
	spec := p.Spec
	return &Attachment{
		Spec:    spec,
		Index:   index,
		MAC:     fresh.Attrs().HardwareAddr,
		Addrs:   addrs,
		Dropped: dropped,
	}, nil
}

// waitReady runs Add's waits and logs each result. mcastRouteOK is false
// when the ff02::1 route wait ran and was not met, or could not run because
// the link never came up.
func waitReady(ctx context.Context, p plan, a *Attachment) (res []WaitResult, mcastRouteOK bool) {
	t := Target{NetNS: p.NetNS, IfName: p.DstName, HostNetNS: p.HostNetNS}
	var v6 []netip.Addr
	for _, pfx := range a.Addrs {
		if pfx.Addr().Is6() {
			v6 = append(v6, pfx.Addr())
		}
	}
	res, mcastRouteOK = WaitReady(ctx, t, p.Waits, v6)
	for _, r := range res {
		p.logger().Debug("wait", "result", r)
	}
	return res, mcastRouteOK
}

// Remove stops the background announcements, waiting until they have ended
// and their sockets are closed, then moves the link back to the host netns
// under its original name. Stopping first means no round is sent from a
// link that is going down or already belongs to another netns.
func (a *Attachment) Remove() error {
	if a.stopAnnouncing != nil {
		a.stopAnnouncing()
	}
	hns, err := openNS(a.Spec.HostNetNS)
	if err != nil {
		return err
	}
	defer hns.Close()
	cns, err := openNS(a.Spec.NetNS)
	if err != nil {
		return err
	}
	defer cns.Close()
	h, err := cns.handle()
	if err != nil {
		return err
	}
	defer h.Close()
	return moveBack(h, cns, hns, a.Spec, a.Spec.DstName)
}

// moveBack returns a link to the host netns: down, original name, moved.
// Addresses, routes, master and per-interface sysctls do not survive a
// netns move, so there is nothing else to undo.
func moveBack(h *netlink.Handle, cns, hns nsRef, s Spec, curName string) error {
	link, err := h.LinkByName(curName)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) && curName != s.SrcName {
		// Failed before or at the rename.
		link, err = h.LinkByName(s.SrcName)
	}
	if err != nil {
		return fmt.Errorf("find %s in %s: %w", curName, cns, err)
	}
	if err := h.LinkSetDown(link); err != nil {
		return fmt.Errorf("set %s down in %s: %w", link.Attrs().Name, cns, err)
	}
	if link.Attrs().Name != s.SrcName {
		if err := h.LinkSetName(link, s.SrcName); err != nil {
			return fmt.Errorf("rename %s back to %s in %s: %w", link.Attrs().Name, s.SrcName, cns, err)
		}
	}
	hostFD, err := hns.nsFD()
	if err != nil {
		return fmt.Errorf("open %s: %w", hns, err)
	}
	defer hostFD.Close()
	if err := h.LinkSetNsFd(link, int(hostFD)); err != nil {
		return fmt.Errorf("move %s from %s to %s: %w", s.SrcName, cns, hns, err)
	}
	return nil
}
