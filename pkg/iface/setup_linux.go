package iface

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/containernetworking/plugins/pkg/ns"

	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
	"github.com/ndp-announce/ndp-announce/pkg/sysctl"
)

// The steps below are the one ADD pipeline, once the interface is in the
// container's namespace with its addresses: the plugin's ADD runs them after
// bridge, and Add runs them after moving and addressing a link itself.
//
//	Configure: sysctls, IPv6 off where unused, which addresses survived
//	Announce:  the waits, then the first round of ARP / NA / gateway requests
//
// The caller runs the remaining rounds with Announced.Announcer.

// ConfigureOptions say what Configure does; the caller has validated them.
type ConfigureOptions struct {
	// Sysctls are applied in order.
	Sysctls []sysctl.Entry
	// DisableUnusedIPv6 sets disable_ipv6=1 when Addrs holds no IPv6
	// address, so that an IPv4-only interface joins no IPv6 multicast group
	// and is not open to NDP or RA spoofing; not when Sysctls set
	// disable_ipv6 themselves.
	DisableUnusedIPv6 bool
	// Addrs are the interface's addresses as the caller assigned them.
	Addrs []netip.Prefix
}

// Configured is what Configure did and found.
type Configured struct {
	// Changes has one entry per sysctl applied, the disable_ipv6 of
	// DisableUnusedIPv6 last.
	Changes []sysctl.Change
	// IPv6Disabled: DisableUnusedIPv6 turned IPv6 off (it was on).
	IPv6Disabled bool
	// Dropped are IPv6 addresses of Addrs that a sysctl removed
	// (disable_ipv6=1); Missing4 IPv4 addresses of Addrs not on the
	// interface. Neither is announced.
	Dropped, Missing4 []netip.Prefix
	// Addrs are the addresses in effect: ConfigureOptions.Addrs without
	// Dropped and Missing4.
	Addrs []netip.Prefix

	// before is the interface's addresses and routes before any sysctl was
	// written, for Unconfigure to restore what the sysctls took.
	before *netState
}

// disableIPv6 is DisableUnusedIPv6's sysctl. Optional: on an interface the
// kernel runs no IPv6 on (MTU below 1280) there is nothing to disable.
var disableIPv6 = func() sysctl.Entry {
	e, err := sysctl.Parse("net.ipv6.conf.IFNAME.disable_ipv6=1")
	if err != nil {
		panic(err)
	}
	e.Optional = true
	return e
}()

// Configure applies the sysctls and IPv6 housekeeping in one pass (one
// rollback path: Unconfigure), then reads which addresses survived them. On
// error nothing it wrote is left changed: the sysctls are restored, and so
// are the addresses and routes a sysctl flushed (disable_ipv6=1 removes the
// IPv6 ones, and re-enabling IPv6 does not bring them back). A sysctl error satisfies
// errors.Is(err, sysctl.ErrInvalid) when the configuration is at fault, and
// its *sysctl.EntryError index counts o.Sysctls (len(o.Sysctls) is
// DisableUnusedIPv6's entry).
func (c *Handle) Configure(o ConfigureOptions) (*Configured, error) {
	entries := o.Sysctls
	autoV6 := o.DisableUnusedIPv6 && !hasIPv6(o.Addrs) && !setsDisableIPv6(o.Sysctls)
	if autoV6 {
		entries = append(entries[:len(entries):len(entries)], disableIPv6)
	}
	var before *netState
	if flushesIPv6(o.Sysctls) {
		// Only then can a failure leave something that undoing the sysctls does not give back.
		// DisableUnusedIPv6's own entry runs only without IPv6 in the result, and then takes
		// just what the kernel re-creates (link-local, its own routes): no dumps on that path.
		var err error
		if before, err = c.readNetState(); err != nil {
			return nil, err
		}
	}
	changes, err := sysctl.ApplyIn(c, c.IfName, entries)
	if err != nil {
		// ApplyIn has put the sysctls back; what they flushed is ours to restore.
		if rerr := c.restoreNetState(before); rerr != nil {
			err = fmt.Errorf("%w (and restoring the interface: %w)", err, rerr)
		}
		return nil, err
	}
	cfg := &Configured{Changes: changes, before: before}
	if autoV6 {
		last := changes[len(changes)-1]
		cfg.IPv6Disabled = last.Written
	}
	missing, err := c.MissingAddrs(o.Addrs)
	if err != nil {
		if rerr := c.Unconfigure(cfg); rerr != nil {
			err = fmt.Errorf("%w (and restoring sysctls: %w)", err, rerr)
		}
		return nil, err
	}
	for _, m := range missing {
		if m.Addr().Is4() {
			cfg.Missing4 = append(cfg.Missing4, m)
		} else {
			cfg.Dropped = append(cfg.Dropped, m)
		}
	}
	cfg.Addrs = removePrefixes(o.Addrs, missing)
	return cfg, nil
}

// Unconfigure restores every sysctl Configure wrote, newest first, then the
// addresses and routes they removed.
func (c *Handle) Unconfigure(cfg *Configured) error {
	if cfg == nil {
		return nil
	}
	if err := sysctl.RevertIn(c, cfg.Changes); err != nil {
		return err
	}
	return c.restoreNetState(cfg.before)
}

// flushesIPv6 says an entry turns IPv6 off, which removes the interface's IPv6 addresses and the
// routes through them.
func flushesIPv6(entries []sysctl.Entry) bool {
	for _, e := range entries {
		if isDisableIPv6(e) && e.Value != "0" {
			return true
		}
	}
	return false
}

func isDisableIPv6(e sysctl.Entry) bool {
	return e.Family == "ipv6" && e.Table == "conf" && e.Name == "disable_ipv6"
}

func setsDisableIPv6(entries []sysctl.Entry) bool {
	for _, e := range entries {
		if isDisableIPv6(e) {
			return true
		}
	}
	return false
}

// AnnounceOptions say what Announce waits for and sends.
type AnnounceOptions struct {
	Waits WaitTimeouts
	// Rounds is the number of rounds in all, 0 for none. Announce sends the
	// first; the caller runs the rest with Announced.Announcer.
	Rounds int
	// Gateways get a directed ARP request / Neighbour Solicitation in the
	// first round from each of our addresses of their family.
	Gateways []netip.Addr
	// Listen also opens a black-hole listener on the interface for the
	// addresses announced (Announced.Listener).
	Listen bool
}

// Announced is what Announce waited for and sent.
type Announced struct {
	Targets l2disco.Targets
	Waits   []WaitResult
	// Round1 is what the first round sent; Round1Err why some or all of it
	// failed, or why nothing could be sent (the sockets did not open).
	Round1    l2disco.RoundReport
	Round1Err error
	// Announcer runs the remaining rounds on Sender, the sockets opened in
	// the container's namespace; the caller owns Sender and closes it. Both
	// are nil when nothing was sent.
	Announcer *l2disco.Announcer
	Sender    *l2disco.Sender
	// Listener is the black-hole listener AnnounceOptions.Listen asked for,
	// opened with Sender; the caller owns it. Nil when it could not be
	// opened (ListenErr says why; the announcements go ahead without it).
	Listener  *l2disco.Listener
	ListenErr error
}

// Announce waits, each wait bounded and none failing it, until a first
// announcement can be heard, then sends it: an unsolicited ARP for every
// IPv4 address of addrs, an NA for every global IPv6 one, and the gateway
// requests. Nothing here fails: the interface works without it.
func (c *Handle) Announce(ctx context.Context, addrs []netip.Prefix, o AnnounceOptions) *Announced {
	a := &Announced{Targets: announceTargets(addrs, o.Gateways)}
	v4, v6 := len(a.Targets.IPv4) > 0, len(a.Targets.IPv6) > 0
	if o.Rounds == 0 || (!v4 && !v6) {
		return a
	}
	waits, mcastOK := c.WaitReady(ctx, o.Waits, a.Targets.IPv6)
	a.Waits = waits
	link := c.Link()
	var sender *l2disco.Sender
	err := c.Do(func(ns.NetNS) (err error) {
		// Only the families in use: an IPv4-only link has IPv6 disabled,
		// and an ICMPv6 socket would be useless there.
		sender, err = l2disco.NewSender(l2disco.SenderOptions{IfIndex: link.Index, IfName: c.IfName, IPv4: v4, IPv6: v6})
		if err == nil && o.Listen {
			a.Listener, a.ListenErr = l2disco.NewListener(l2disco.ListenerOptions{
				IfIndex: link.Index, MAC: link.MAC, Addrs: append(a.Targets.IPv4[:len(a.Targets.IPv4):len(a.Targets.IPv4)], a.Targets.IPv6...),
			})
		}
		return err
	})
	if err != nil {
		a.Round1Err = fmt.Errorf("open sockets on %s: %w", c.IfName, err)
		return a
	}
	a.Sender = sender
	a.Announcer = &l2disco.Announcer{
		Sender: sender,
		MAC:    link.MAC,
		// Without the route the NAs cannot be sent; that is expected and
		// reported as skipped, not failed.
		NoMcastRoute: v6 && !mcastOK,
		Targets:      a.Targets,
		NetNSPath:    c.NetNS,
	}
	a.Round1, a.Round1Err = a.Announcer.Round(ctx, len(o.Gateways) > 0)
	return a
}
