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
func (a *Attachment) announce(ctx context.Context, c *Handle, p plan) {
	log := p.logger().With("link", p.DstName, "netns", p.NetNS, "mac", a.MAC.String())
	if p.Announce.Count == 0 {
		// Nothing to announce, but Add still returns a link that can be
		// heard: up, its port forwarding.
		a.Waits, _ = c.WaitReady(ctx, p.Waits, announceTargets(a.Addrs, nil).IPv6)
		return
	}
	an := c.Announce(ctx, a.Addrs, AnnounceOptions{Waits: p.Waits, Rounds: p.Announce.Count, Gateways: p.Announce.Gateways})
	a.Waits = an.Waits
	for _, r := range an.Waits {
		log.Debug("wait", "result", r)
	}
	a.FirstRound = an.Round1
	if an.Round1Err != nil {
		a.AnnounceErr = fmt.Errorf("announce %s in %s: round 1 of %d: %w", p.DstName, p.NetNS, p.Announce.Count, an.Round1Err)
		log.Warn("announcement round had failures", "round", 1, "of", p.Announce.Count, "report", an.Round1, "error", an.Round1Err)
	} else if an.Announcer != nil {
		log.Debug("announcement round sent", "round", 1, "of", p.Announce.Count, "report", an.Round1)
	}
	if an.Announcer == nil {
		return
	}
	s := an.Sender
	// A cancelled Add ends its announcements too; a gone link has nobody
	// left to announce.
	if p.Announce.Count == 1 || ctx.Err() != nil || errors.Is(an.Round1Err, l2disco.ErrLinkGone) {
		s.Close()
		return
	}
	an.Announcer.Logger = log
	// The rounds outlive Add's ctx (Add has returned by then) but keep its
	// values; only Remove cancels them.
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Closed as soon as the rounds end: the sockets would otherwise
		// keep the netns alive for as long as the Attachment lives.
		defer s.Close()
		err := an.Announcer.Run(bctx, p.Announce.Count-1, p.Announce.Interval)
		log.Debug("announcements ended", "rounds", p.Announce.Count, "interval", p.Announce.Interval, "reason", err)
	}()
	a.stopAnnouncing = func() {
		cancel()
		<-done
	}
}
