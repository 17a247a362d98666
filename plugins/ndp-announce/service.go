package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ndp-announce/ndp-announce/pkg/announcer"
	"github.com/ndp-announce/ndp-announce/pkg/config"
	"github.com/ndp-announce/ndp-announce/pkg/handoff"
	"github.com/ndp-announce/ndp-announce/pkg/iface"
	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
)

// serviceClient talks to the node service of dataDir, if one listens (pkg/daemon).
func serviceClient(dataDir string) *handoff.Client {
	return &handoff.Client{Path: filepath.Join(dataDir, handoff.SocketName)}
}

// reportOnly tells the service about an ADD that announced nothing.
func reportOnly(an *iface.Announced, plan *config.Plan, start time.Time) {
	sendReport(serviceClient(plan.Conf.DataDir), serviceReport(an, start), nil)
}

// startBackground gives the rounds after the first to the node service, or else to a detached
// process, and says which in the ADD log line. With no round left nothing is forked: the sockets
// go to the service, which pays their close (an RCU grace period, 6-23 ms measured), or ADD
// closes them itself.
func startBackground(claim *announcer.Claim, job announcer.Job, an *iface.Announced, plan *config.Plan, start time.Time) string {
	if err := claim.Err(); err != nil {
		// A dataDir others can write into may hold a socket that is not the service's.
		return "not started: " + err.Error()
	}
	client := serviceClient(plan.Conf.DataDir)
	report := serviceReport(an, start)
	if job.Rounds == 0 {
		if err := sendReport(client, report, an.Sender); err != nil {
			return "none: no round left (service: " + err.Error() + ")"
		}
		return "none: no round left (sockets to the service)"
	}
	if claim.Cancelled() {
		return "not started: " + announcer.ErrDeleted.Error()
	}
	err := handOff(client, job, report, an)
	if err == nil {
		// A DEL that came before the service had the job found nothing to stop there, but it
		// removed the claim: stop the job ourselves. A later DEL finds the job.
		if claim.Cancelled() {
			stopInService(plan.Conf.DataDir, job.Key)
			return "stopped: " + announcer.ErrDeleted.Error()
		}
		return fmt.Sprintf("service: %d more rounds every %v", job.Rounds, job.Interval)
	}
	handoff.RecordFallback(plan.Conf.DataDir)
	pid, serr := claim.Start(job, an.Sender, announcer.ProcessOptions{
		DataDir: plan.Conf.DataDir, LogFile: plan.Conf.LogFile, LogLevel: plan.LogLevel,
		Listener: an.Listener,
	})
	if serr != nil {
		return fmt.Sprintf("fallback: %v; not started: %v", err, serr)
	}
	return fmt.Sprintf("fallback: %v: pid %d: %d more rounds every %v", err, pid, job.Rounds, job.Interval)
}

// handOff passes the job and duplicates of the sender's (and the black-hole listener's) sockets to
// the service, which listens for the job's whole window.
func handOff(c *handoff.Client, job announcer.Job, report *handoff.Report, an *iface.Announced) error {
	files, roles, err := senderFiles(an.Sender)
	if err != nil {
		return err
	}
	defer func() { closeFiles(files) }() // the listener's too, appended below
	if job.Listen != nil && an.Listener != nil {
		v4, v6, err := an.Listener.Files()
		if err != nil {
			return err
		}
		for _, f := range []struct {
			file *os.File
			role handoff.FileRole
		}{{v4, handoff.FileListen4}, {v6, handoff.FileListen6}} {
			if f.file != nil {
				files, roles = append(files, f.file), append(roles, f.role)
			}
		}
	} else {
		job.Listen = nil
	}
	_, err = c.Do(&handoff.Request{Kind: handoff.KindAnnounce, Announce: &job, Report: report, Files: roles}, files)
	return err
}

// sendReport gives the service ADD's figures and its sockets, and lets go of them as soon as they
// are sent.
func sendReport(c *handoff.Client, report *handoff.Report, sender *l2disco.Sender) error {
	var files []*os.File
	var roles []handoff.FileRole
	if sender != nil {
		var err error
		if files, roles, err = senderFiles(sender); err != nil {
			return err
		}
		defer closeFiles(files)
		c.Release = func() {
			closeFiles(files)
			sender.Close()
		}
	}
	_, err := c.Do(&handoff.Request{Kind: handoff.KindReport, Report: report, Files: roles}, files)
	return err
}

func senderFiles(s *l2disco.Sender) ([]*os.File, []handoff.FileRole, error) {
	arp, icmp6, err := s.Files()
	if err != nil {
		return nil, nil, err
	}
	var files []*os.File
	var roles []handoff.FileRole
	if arp != nil {
		files, roles = append(files, arp), append(roles, handoff.FileARP)
	}
	if icmp6 != nil {
		files, roles = append(files, icmp6), append(roles, handoff.FileICMP6)
	}
	return files, roles, nil
}

// closeFiles closes files, also ones closed already (Release's), whose second close is a no-op error.
func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// serviceReport is what the service counts of this ADD: its duration so far, round 1, the waits.
func serviceReport(an *iface.Announced, start time.Time) *handoff.Report {
	r := &handoff.Report{
		AddSeconds: time.Since(start).Seconds(),
		// The targets hold gateways only when round 1 sent them requests.
		FirstRound: handoff.RoundFrames(an.Round1, an.Targets, true),
	}
	for _, w := range an.Waits {
		cond, ok := waitCondition[w.Condition]
		if !ok {
			continue
		}
		out := handoff.WaitTimeout
		switch {
		case w.Skipped != "":
			out = handoff.WaitSkipped
		case w.Met:
			out = handoff.WaitMet
		}
		r.Waits = append(r.Waits, handoff.Wait{Condition: cond, Outcome: out, Seconds: w.Waited.Seconds()})
	}
	return r
}

// waitCondition labels pkg/iface's waits for the metrics.
var waitCondition = map[string]handoff.WaitCondition{
	iface.CondLinkUp:     handoff.WaitLinkUp,
	iface.CondBridgePort: handoff.WaitBridgePort,
	iface.CondMcastRoute: handoff.WaitMcastRoute,
	iface.CondDAD:        handoff.WaitDAD,
}

// stopInService stops the attachment's rounds in the service. A service that is down or
// restarting has nothing to stop (its jobs died with it), so that is no error.
func stopInService(dataDir string, key announcer.Key) string {
	rep, err := serviceClient(dataDir).Do(&handoff.Request{Kind: handoff.KindStop, Stop: &key}, nil)
	switch {
	case err != nil:
		return err.Error()
	case rep.Stopped > 0:
		return "stopped"
	}
	return "nothing to stop"
}

// gcInService stops the rounds of this network's attachments that are not valid.
func gcInService(dataDir, network string, valid []handoff.ValidAtt) string {
	rep, err := serviceClient(dataDir).Do(&handoff.Request{Kind: handoff.KindGC,
		GC: &handoff.GC{Network: network, Valid: valid}}, nil)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("stopped %d", rep.Stopped)
}
