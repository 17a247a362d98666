package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/ndp-announce/ndp-announce/pkg/handoff"
	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
)

// rounds is one attachment's remaining rounds, as the service runs them.
type rounds struct {
	ann      *l2disco.Announcer
	count    int
	interval time.Duration
	// beforeRound, if set, runs before each round and may change the announcer's targets (issue 10:
	// drop the addresses removed since ADD); an error ends the job.
	beforeRound func(context.Context, *l2disco.Announcer) error
	log         *slog.Logger
}

// run sends the rounds, each interval after the previous one, with l2disco's checks before each
// (netns still there, MAC unchanged, link present), and says why it ended.
func (r *rounds) run(ctx context.Context) error {
	r.ann.Logger = r.log
	if r.beforeRound == nil {
		return r.ann.Run(ctx, r.count, r.interval)
	}
	for i := 1; i <= r.count; i++ {
		if err := r.beforeRound(ctx, r.ann); err != nil {
			return err
		}
		// One round per Run: the same checks and timer, with beforeRound in between.
		if err := r.ann.Run(ctx, 1, r.interval); err != nil {
			return err
		}
	}
	return nil
}

// adopt turns the files of an announce into a Sender and closes them (the Sender keeps duplicates).
func adopt(req *handoff.Request, files []*os.File) (*l2disco.Sender, error) {
	var arp, icmp6 *os.File
	for i, role := range req.Files {
		switch role {
		case handoff.FileARP:
			arp = files[i]
		case handoff.FileICMP6:
			icmp6 = files[i]
		}
	}
	defer closeFiles(files)
	return l2disco.NewSenderFromFiles(arp, icmp6, req.Announce.IfIndex)
}

// netnsCheck decides whether the rounds can watch the attachment's netns path. The service may
// live in another mount namespace (a container) where the runtime's path does not exist or names
// something else; then the rounds stop on DEL, a MAC change or the link gone, and at the latest
// after the last round, so a deleted netns is never kept alive longer than that.
func netnsCheck(sender *l2disco.Sender, path string) (usePath string, id l2disco.NetNSID, why error) {
	sockNS, err := sender.NetNS()
	if err != nil {
		// Cannot ask the socket: trust the path, as the detached process does.
		return path, l2disco.NetNSID{}, nil
	}
	pathNS, err := l2disco.NetNSIDOf(path)
	if err != nil {
		return "", sockNS, fmt.Errorf("netns %s not visible to the service: %w", path, err)
	}
	if pathNS != sockNS {
		return "", sockNS, fmt.Errorf("netns %s names another namespace here than the sockets'", path)
	}
	return path, sockNS, nil
}

// endReason is the log's word for how a job ended.
func endReason(err error) string {
	switch {
	case err == nil:
		return "done"
	case errors.Is(err, context.Canceled):
		return "stopped"
	default:
		return err.Error()
	}
}

// closer closes senders off the jobs' and the replies' path: the last close of a packet socket
// waits for an RCU grace period (6-23 ms measured), and a DEL waiting on its job should not.
type closer struct {
	ch chan io.Closer
	wg sync.WaitGroup
}

func newCloser(workers, queue int) *closer {
	c := &closer{ch: make(chan io.Closer, queue)}
	for range workers {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for s := range c.ch {
				s.Close()
			}
		}()
	}
	return c
}

// close queues s; with the queue full it closes s now rather than block a job forever.
func (c *closer) close(s io.Closer) {
	select {
	case c.ch <- s:
	default:
		s.Close()
	}
}

// drain closes what is queued and stops the workers.
func (c *closer) drain() {
	close(c.ch)
	c.wg.Wait()
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}
