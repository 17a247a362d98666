package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/ndp-announce/ndp-announce/pkg/announcer"
	"github.com/ndp-announce/ndp-announce/pkg/handoff"
	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
)

// rounds is one attachment's remaining rounds, as the service runs them.
type rounds struct {
	job announcer.Job
	t   l2disco.Transport
	log *slog.Logger
}

// run sends the rounds, each interval after the previous one, with announcer.Job's checks before
// each (netns still there, MAC unchanged, link present, addresses still on the interface), and
// says why they ended.
func (r *rounds) run(ctx context.Context) error { return r.job.Run(ctx, r.t, r.log) }

// adopt turns the files of an announce into a Sender and, if it has a listen window and its
// sockets, a Listener; it closes the files (both keep duplicates).
func adopt(req *handoff.Request, files []*os.File) (*l2disco.Sender, *l2disco.Listener, error) {
	byRole := map[handoff.FileRole]*os.File{}
	for i, role := range req.Files {
		byRole[role] = files[i]
	}
	defer closeFiles(files)
	ifindex := req.Announce.IfIndex
	sender, err := l2disco.NewSenderFromFiles(byRole[handoff.FileARP], byRole[handoff.FileICMP6], ifindex)
	if err != nil {
		return nil, nil, err
	}
	v4, v6 := byRole[handoff.FileListen4], byRole[handoff.FileListen6]
	if req.Announce.Listen == nil || (v4 == nil && v6 == nil) {
		return sender, nil, nil
	}
	ln, err := l2disco.NewListenerFromFiles(v4, v6, ifindex)
	if err != nil {
		sender.Close()
		return nil, nil, fmt.Errorf("listener: %w", err)
	}
	return sender, ln, nil
}

// netnsCheck decides whether the rounds can watch the attachment's netns path. The service may
// live in another mount namespace (a container) where the runtime's path does not exist or names
// something else; then the rounds stop on DEL, a MAC change or the link gone, and at the latest
// after the last round, so a deleted netns is never kept alive longer than that.
func netnsCheck(sender *l2disco.Sender, path string) (usePath string, why error) {
	pathNS, err := l2disco.NetNSIDOf(path)
	if err != nil {
		return "", fmt.Errorf("netns %s not visible to the service: %w", path, err)
	}
	sockNS, err := sender.NetNS()
	if err != nil {
		// SIOCGSKNS needs CAP_NET_ADMIN: the path exists here, so watch it as the detached process does.
		return path, nil
	}
	if pathNS != sockNS {
		return "", fmt.Errorf("netns %s names another namespace here than the sockets'", path)
	}
	return path, nil
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
