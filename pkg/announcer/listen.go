package announcer

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
)

// Listen is an attachment's black-hole listener (l2disco.StaleWatch): how
// long after ADD it listens, and our addresses with their prefix lengths,
// which say both which frames count and which peers may be sent a request.
type Listen struct {
	Window   time.Duration  `json:"window"`
	Prefixes []netip.Prefix `json:"prefixes"`
}

// Watch runs the job's listener on ln from start until j.Listen.Window has
// passed or ctx ends, sending requests through s; onRequest, if set, is
// called for each (metrics). See l2disco.StaleWatch.Run for what it
// returns. A job without Listen returns at once.
func (j Job) Watch(ctx context.Context, ln *l2disco.Listener, s l2disco.DirectedTransport, start time.Time, log *slog.Logger, onRequest func(l2disco.StaleRequest)) (l2disco.StaleReport, error) {
	if j.Listen == nil || ln == nil {
		return l2disco.StaleReport{}, nil
	}
	w := &l2disco.StaleWatch{
		Listener:  ln,
		Sender:    s,
		MAC:       j.MAC,
		Prefixes:  j.Listen.Prefixes,
		Start:     start,
		Window:    j.Listen.Window,
		Logger:    log,
		OnRequest: onRequest,
		NetNSPath: j.NetNS,
	}
	return w.Run(ctx)
}
