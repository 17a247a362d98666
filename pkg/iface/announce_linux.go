package iface

import (
	"context"
	"errors"
	"fmt"

	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
)

// announce sends the first round of unsolicited ARP / NA on a's link and, if
// more are due, starts a goroutine for the rest that a.Remove stops.
//
// Nothing here fails Add: the link is configured and usable, and a peer with
// a stale entry recovers on its own in seconds. Failures are logged and kept
// in a.AnnounceErr so that a caller can still act on them.
func (a *Attachment) announce(ctx context.Context, p plan, mcastRouteOK bool) {
	if p.Announce.Count == 0 {
		return
	}
	log := p.logger().With("link", p.DstName, "netns", p.NetNS, "mac", a.MAC.String())
	targets := announceTargets(a.Addrs, p.Announce.Gateways)
	v4, v6 := len(targets.IPv4) > 0, len(targets.IPv6) > 0
	if !v4 && !v6 {
		log.Debug("no addresses to announce")
		return
	}
	// Only the families in use: an IPv4-only link has IPv6 disabled, and
	// the ICMPv6 socket would be useless there.
	s, err := l2disco.NewSenderInNetNS(p.NetNS, l2disco.SenderOptions{IfIndex: a.Index, IPv4: v4, IPv6: v6})
	if err != nil {
		a.AnnounceErr = fmt.Errorf("announce %s in %s: %w", p.DstName, p.NetNS, err)
		log.Warn("cannot announce addresses", "error", err)
		return
	}
	an := &l2disco.Announcer{
		Sender:  s,
		MAC:     a.MAC,
		Targets: targets,
		// Without the route the NAs cannot be sent; that is expected and
		// reported as skipped, not failed.
		NoMcastRoute: !mcastRouteOK,
		NetNSPath:    p.NetNS,
		Logger:       log,
	}
	rep, err := an.Round(ctx, len(p.Announce.Gateways) > 0)
	a.FirstRound = rep
	if err != nil {
		a.AnnounceErr = fmt.Errorf("announce %s in %s: round 1 of %d: %w", p.DstName, p.NetNS, p.Announce.Count, err)
		log.Warn("announcement round had failures", "round", 1, "of", p.Announce.Count, "report", rep, "error", err)
	} else {
		log.Debug("announcement round sent", "round", 1, "of", p.Announce.Count, "report", rep)
	}
	// A cancelled Add ends its announcements too; a gone link has nobody
	// left to announce.
	if p.Announce.Count == 1 || ctx.Err() != nil || errors.Is(err, l2disco.ErrLinkGone) {
		s.Close()
		return
	}
	// The rounds outlive Add's ctx (Add has returned by then) but keep its
	// values; only Remove cancels them.
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Closed as soon as the rounds end: the sockets would otherwise
		// keep the netns alive for as long as the Attachment lives.
		defer s.Close()
		err := an.Run(bctx, p.Announce.Count-1, p.Announce.Interval)
		log.Debug("announcements ended", "rounds", p.Announce.Count, "interval", p.Announce.Interval, "reason", err)
	}()
	a.stopAnnouncing = func() {
		cancel()
		<-done
	}
}
