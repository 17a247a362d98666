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
	c, err := openHandle(Target{NetNS: p.NetNS, IfName: p.DstName, HostNetNS: p.HostNetNS})
	if err != nil {
		return nil, err
	}
	defer c.Close()

	link, err := linkByName(hh, hns, p.SrcName)
	if err != nil {
		return nil, err
	}
	if err := hh.LinkSetNsFd(link, int(c.ns.fd)); err != nil {
		return nil, fmt.Errorf("move %s from %s to %s: %w", p.SrcName, hns, c.ns, err)
	}
	a, err := configure(c, p)
	if err != nil {
		if rerr := c.moveBack(hns, p.SrcName); rerr != nil {
			p.logger().Error("could not return link to the host netns after a failed attach",
				"link", p.SrcName, "netns", p.NetNS, "error", rerr, "cause", err)
		}
		return nil, err
	}
	a.announce(ctx, c, p)
	return a, nil
}

// configure does everything between the move and the waits; its error
// makes Add move the link back.
func configure(c *Handle, p plan) (*Attachment, error) {
	fail := func(op string, err error) (*Attachment, error) {
		return nil, fmt.Errorf("attach %s as %s in %s: %s: %w", p.SrcName, p.DstName, c.ns, op, err)
	}
	link, err := linkByName(c.h, c.ns, p.SrcName)
	if err != nil {
		return fail("find moved link", err)
	}
	if err := setLink(c, link, p); err != nil {
		return fail("configure", err)
	}
	if err := c.readLink(); err != nil {
		return fail("read back", err)
	}
	// The plugin's steps from here on: sysctls, IPv6 off where unused.
	cfg, err := c.Configure(ConfigureOptions{Sysctls: p.sysctls, DisableUnusedIPv6: !p.KeepUnusedIPv6, Addrs: p.Addrs})
	if err != nil {
		return fail("apply sysctls", err)
	}
	if len(cfg.Missing4) > 0 {
		return fail("check addresses", fmt.Errorf("IPv4 addresses %v are gone", cfg.Missing4))
	}
	if len(cfg.Dropped) > 0 {
		p.logger().Info("IPv6 addresses removed by sysctls", "link", p.DstName, "netns", p.NetNS, "dropped", cfg.Dropped)
	}
	if err := c.h.LinkSetUp(c.link); err != nil {
		return fail("set up", err)
	}
	// Routes need the link up.
	index := c.link.Attrs().Index
	for _, rt := range routesFor(p.Routes, hasIPv6(cfg.Addrs)) {
		route := &netlink.Route{LinkIndex: index, Scope: netlink.SCOPE_LINK, Dst: prefixToIPNet(rt.Masked())}
		if err := c.h.RouteAdd(route); err != nil {
			return fail("add route "+rt.String(), err)
		}
	}
	if err := c.readLink(); err != nil {
		return fail("read back", err)
	}
	return &Attachment{
		Spec:    p.Spec,
		Index:   index,
		MAC:     c.link.Attrs().HardwareAddr,
		Addrs:   cfg.Addrs,
		Dropped: cfg.Dropped,
	}, nil
}

// setLink renames the moved link and sets its MAC, addresses and master,
// with IPv6 on first when it gets IPv6 addresses (they cannot be added
// otherwise). The link stays down.
func setLink(c *Handle, link netlink.Link, p plan) error {
	h := c.h
	if err := h.LinkSetDown(link); err != nil {
		return fmt.Errorf("set down: %w", err)
	}
	if p.DstName != p.SrcName {
		if err := h.LinkSetName(link, p.DstName); err != nil {
			return fmt.Errorf("rename: %w", err)
		}
	}
	if p.MAC != nil {
		if err := h.LinkSetHardwareAddr(link, p.MAC); err != nil {
			return fmt.Errorf("set MAC %s: %w", p.MAC, err)
		}
	}
	if p.hasIPv6 {
		if _, err := sysctl.ApplyIn(c, p.DstName, []sysctl.Entry{enableIPv6}); err != nil {
			return fmt.Errorf("enable IPv6: %w", err)
		}
	}
	for _, a := range p.Addrs {
		flags := 0
		if a.Addr().Unmap().Is6() {
			flags = unix.IFA_F_NODAD
		}
		if err := h.AddrAdd(link, &netlink.Addr{IPNet: prefixToIPNet(a), Flags: flags}); err != nil {
			return fmt.Errorf("add address %s: %w", a, err)
		}
	}
	if p.Master != "" {
		master, err := linkByName(h, c.ns, p.Master)
		if err != nil {
			return fmt.Errorf("find master: %w", err)
		}
		if err := h.LinkSetMasterByIndex(link, master.Attrs().Index); err != nil {
			return fmt.Errorf("set master %s: %w", p.Master, err)
		}
	}
	for _, a := range p.LinkLocal {
		if err := h.AddrAdd(link, &netlink.Addr{IPNet: prefixToIPNet(a)}); err != nil {
			return fmt.Errorf("add link-local address %s: %w", a, err)
		}
	}
	return nil
}

// enableIPv6 turns IPv6 on for a link that gets IPv6 addresses.
var enableIPv6 = func() sysctl.Entry {
	e, err := sysctl.Parse("net.ipv6.conf.IFNAME.disable_ipv6=0")
	if err != nil {
		panic(err)
	}
	return e
}()

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
	c, err := openHandle(Target{NetNS: a.Spec.NetNS, IfName: a.Spec.DstName, HostNetNS: a.Spec.HostNetNS})
	if err != nil {
		return err
	}
	defer c.Close()
	return c.moveBack(hns, a.Spec.SrcName)
}

// moveBack returns a link to the host netns: down, original name, moved.
// Addresses, routes, master and per-interface sysctls do not survive a
// netns move, so there is nothing else to undo.
// The link is c.IfName, or still srcName when Add failed before or at the
// rename; it goes back as srcName.
func (c *Handle) moveBack(hns nsRef, srcName string) error {
	h, cns := c.h, c.ns
	link, err := h.LinkByName(c.IfName)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) && c.IfName != srcName {
		link, err = h.LinkByName(srcName)
	}
	if err != nil {
		return fmt.Errorf("find %s in %s: %w", c.IfName, cns, err)
	}
	if err := h.LinkSetDown(link); err != nil {
		return fmt.Errorf("set %s down in %s: %w", link.Attrs().Name, cns, err)
	}
	if link.Attrs().Name != srcName {
		if err := h.LinkSetName(link, srcName); err != nil {
			return fmt.Errorf("rename %s back to %s in %s: %w", link.Attrs().Name, srcName, cns, err)
		}
	}
	return hns.withFD(func(fd int) error {
		if err := h.LinkSetNsFd(link, fd); err != nil {
			return fmt.Errorf("move %s from %s to %s: %w", srcName, cns, hns, err)
		}
		return nil
	})
}
