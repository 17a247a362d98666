package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/ndp-announce/ndp-announce/pkg/announcer"
	"github.com/ndp-announce/ndp-announce/pkg/handoff"
	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
)

// serveConn answers the one request of a connection.
func (d *Daemon) serveConn(c *net.UnixConn) {
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(connTimeout)); err != nil {
		return
	}
	if uid, err := peerUID(c); err != nil || uid != uint32(os.Geteuid()) {
		d.refuse(c, fmt.Errorf("peer uid %d (err %v) is not ours", uid, err))
		return
	}
	req, files, err := handoff.ReadRequest(c)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
		d.refuse(c, err)
		return
	}
	rep := d.handle(req, files)
	if err := handoff.WriteReply(c, rep); err != nil {
		d.log.Warn("cannot reply to the plugin", "kind", req.Kind, "err", err)
	}
}

// refuse answers no and logs why. The plugin falls back; the request changed nothing.
func (d *Daemon) refuse(c *net.UnixConn, err error) {
	d.log.Warn("request refused", "err", err)
	rep := &handoff.Reply{Error: err.Error()}
	if errors.Is(err, handoff.ErrVersion) {
		rep.Versions = []int{handoff.Version}
	}
	handoff.WriteReply(c, rep)
}

// handle acts on a valid request; it owns files.
func (d *Daemon) handle(req *handoff.Request, files []*os.File) *handoff.Reply {
	switch req.Kind {
	case handoff.KindAnnounce:
		if err := d.announce(req, files); err != nil {
			d.log.Warn("hand-off refused", "attachment", keyString(req.Announce.Key), "err", err)
			return &handoff.Reply{Error: err.Error()}
		}
		d.metrics.accepted.Add(1)
		d.metrics.report(req.Report)
	case handoff.KindReport:
		d.metrics.report(req.Report)
		// The plugin let go of its copies when it sent them: ours are the last, and their close
		// (an RCU grace period each) is the closer's to wait for, not ADD's.
		for _, f := range files {
			d.closer.close(f)
		}
	case handoff.KindStop:
		stopped := d.jobs.stop(*req.Stop)
		if stopped {
			d.log.Info("rounds stopped by DEL", "attachment", keyString(*req.Stop))
		}
		return &handoff.Reply{OK: true, Stopped: boolInt(stopped)}
	case handoff.KindGC:
		n := d.jobs.gc(req.GC)
		d.log.Info("GC done", "network", req.GC.Network, "valid", len(req.GC.Valid), "stopped", n)
		return &handoff.Reply{OK: true, Stopped: n}
	}
	return &handoff.Reply{OK: true}
}

// announce starts the job of one attachment's remaining rounds and, with a listen window, its
// black-hole listener: the job lasts until both are over (or DEL, GC, a new ADD stop it).
func (d *Daemon) announce(req *handoff.Request, files []*os.File) error {
	job := *req.Announce
	sender, ln, err := adopt(req, files)
	if err != nil {
		return fmt.Errorf("sockets: %w", err)
	}
	log := d.log.With("network", job.Key.Network, "containerID", job.Key.ContainerID, "ifname", job.Key.IfName)
	path, why := netnsCheck(sender, job.NetNS)
	if why != nil {
		d.netnsOnce.Do(func() {
			d.log.Warn("netns paths are not visible to the service: rounds stop on DEL, a MAC change, the link gone or after the last round", "example", why.Error())
		})
		log.Debug("not watching the netns path", "why", why.Error())
	}
	job.NetNS = path
	r := &rounds{
		job: job,
		t: handoff.CountSends(sender, func(k handoff.FrameKind, err error) {
			d.metrics.sent(k, err, job.NoMcastRoute)
		}),
		log: log,
	}
	// The window counts from ADD's hand-off, as the detached process counts from its start.
	start := time.Now()
	err = d.jobs.start(job.Key, func(ctx context.Context) {
		defer d.closer.close(sender)
		listening := d.listen(ctx, job, ln, sender, start, log)
		err := r.run(ctx)
		log.Info("background rounds ended", "reason", endReason(err), "rounds", job.Rounds, "ms", time.Since(start).Milliseconds())
		<-listening
	})
	if err != nil {
		d.closer.close(sender)
		if ln != nil {
			d.closer.close(ln)
		}
		return err
	}
	log.Debug("background rounds accepted", "rounds", job.Rounds, "interval", job.Interval, "listen", ln != nil)
	return nil
}

// listen runs the job's black-hole listener, if it has one, for its window (or until ctx ends),
// counting each peer corrected; the returned channel closes when it is over.
func (d *Daemon) listen(ctx context.Context, job announcer.Job, ln *l2disco.Listener, s *l2disco.Sender, start time.Time, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	if ln == nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		defer d.closer.close(ln)
		rep, err := job.Watch(ctx, ln, s, start, log, func(r l2disco.StaleRequest) { d.metrics.stalePeer(r.Peer.PeerIP) })
		log.Info("black-hole listener ended", "report", rep, "reason", endReason(err), "ms", time.Since(start).Milliseconds())
	}()
	return done
}

func keyString(k announcer.Key) string { return k.Network + "/" + k.ContainerID + "/" + k.IfName }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
