package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

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
			d.log.Warn("hand-off refused", "attachment", req.Announce.Key.String(), "err", err)
			return &handoff.Reply{Error: err.Error()}
		}
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
			d.log.Info("rounds stopped by DEL", "attachment", req.Stop.String())
		}
		return &handoff.Reply{OK: true, Stopped: boolInt(stopped)}
	case handoff.KindGC:
		n := d.jobs.gc(req.GC)
		d.log.Info("GC done", "network", req.GC.Network, "valid", len(req.GC.Valid), "stopped", n)
		return &handoff.Reply{OK: true, Stopped: n}
	}
	return &handoff.Reply{OK: true}
}

// announce starts the job of one attachment's remaining rounds.
func (d *Daemon) announce(req *handoff.Request, files []*os.File) error {
	a := req.Announce
	mac, err := a.HardwareAddr()
	if err != nil {
		closeFiles(files)
		return err
	}
	sender, err := adopt(req, files)
	if err != nil {
		return fmt.Errorf("sockets: %w", err)
	}
	log := d.log.With("network", a.Key.Network, "containerID", a.Key.ContainerID, "ifname", a.Key.IfName)
	path, nsID, why := netnsCheck(sender, a.NetNS)
	if why != nil {
		d.netnsOnce.Do(func() {
			d.log.Warn("netns paths are not visible to the service: rounds stop on DEL, a MAC change, the link gone or after the last round", "example", why.Error())
		})
		log.Debug("not watching the netns path", "why", why.Error())
	}
	r := &rounds{
		ann: &l2disco.Announcer{
			Sender: handoff.CountSends(sender, func(k handoff.FrameKind, err error) {
				d.metrics.sent(k, err, a.NoMcastRoute)
			}),
			MAC:          mac,
			Targets:      a.Targets,
			NoMcastRoute: a.NoMcastRoute,
			NetNSPath:    path,
			NetNS:        nsID,
		},
		count:       a.Rounds,
		interval:    a.Interval(),
		beforeRound: d.opts.BeforeRound,
		log:         log,
	}
	err = d.jobs.start(a.Key, func(ctx context.Context) {
		start := time.Now()
		err := r.run(ctx)
		log.Info("background rounds ended", "reason", endReason(err), "rounds", a.Rounds,
			"ms", time.Since(start).Milliseconds())
		d.closer.close(sender)
	})
	if err != nil {
		d.closer.close(sender)
		return err
	}
	log.Debug("background rounds accepted", "rounds", a.Rounds, "intervalMs", a.IntervalMs)
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
