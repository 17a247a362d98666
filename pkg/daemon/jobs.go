package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ndp-announce/ndp-announce/pkg/announcer"
	"github.com/ndp-announce/ndp-announce/pkg/handoff"
)

// ErrFull is a hand-off refused because the service runs its maximum of attachments; the plugin
// falls back to a detached process for it.
var ErrFull = errors.New("service at its attachment limit")

// A job is one attachment's background rounds.
type job struct {
	key    announcer.Key
	cancel context.CancelFunc
	done   chan struct{}
}

// stop cancels the job and waits for it to end (within one send: its rounds check ctx).
func (j *job) stop() {
	j.cancel()
	<-j.done
}

// registry holds the running jobs, at most one per attachment.
type registry struct {
	mu      sync.Mutex
	jobs    map[announcer.Key]*job
	max     int
	closed  bool
	wg      sync.WaitGroup
	changed func(n int) // told the number of jobs after each change
}

func newRegistry(max int, changed func(int)) *registry {
	return &registry{jobs: make(map[announcer.Key]*job), max: max, changed: changed}
}

// start runs fn as the job of key, replacing (stopping first) any job of the same key: a repeated
// ADD of an attachment announces its new state only.
func (r *registry) start(key announcer.Key, fn func(ctx context.Context)) error {
	for {
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			return errors.New("service is stopping")
		}
		old := r.jobs[key]
		if old == nil {
			break
		}
		delete(r.jobs, key)
		r.mu.Unlock()
		old.stop()
	}
	defer r.mu.Unlock()
	if len(r.jobs) >= r.max {
		return fmt.Errorf("%w of %d", ErrFull, r.max)
	}
	ctx, cancel := context.WithCancel(context.Background())
	j := &job{key: key, cancel: cancel, done: make(chan struct{})}
	r.jobs[key] = j
	r.changed(len(r.jobs))
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(j.done)
		defer r.remove(j)
		defer cancel()
		fn(ctx)
	}()
	return nil
}

// remove forgets j once it ended by itself, unless a newer job took its key.
func (r *registry) remove(j *job) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.jobs[j.key] == j {
		delete(r.jobs, j.key)
		r.changed(len(r.jobs))
	}
}

// stop ends the job of key, if any, and says whether there was one.
func (r *registry) stop(key announcer.Key) bool {
	r.mu.Lock()
	j := r.jobs[key]
	if j != nil {
		delete(r.jobs, key)
		r.changed(len(r.jobs))
	}
	r.mu.Unlock()
	if j == nil {
		return false
	}
	j.stop()
	return true
}

// gc ends the jobs of network whose attachment is not in valid, and says how many.
func (r *registry) gc(g *handoff.GC) int {
	keep := make(map[announcer.Key]bool, len(g.Valid))
	for _, v := range g.Valid {
		keep[announcer.Key{Network: g.Network, ContainerID: v.ContainerID, IfName: v.IfName}] = true
	}
	r.mu.Lock()
	var doomed []*job
	for k, j := range r.jobs {
		if k.Network == g.Network && !keep[k] {
			doomed = append(doomed, j)
			delete(r.jobs, k)
		}
	}
	r.changed(len(r.jobs))
	r.mu.Unlock()
	stopAll(doomed)
	return len(doomed)
}

// close refuses new jobs, ends the running ones, and returns their keys.
func (r *registry) close() []announcer.Key {
	r.mu.Lock()
	r.closed = true
	var all []*job
	var keys []announcer.Key
	for k, j := range r.jobs {
		all = append(all, j)
		keys = append(keys, k)
	}
	clear(r.jobs)
	r.changed(0)
	r.mu.Unlock()
	stopAll(all)
	r.wg.Wait()
	return keys
}

func (r *registry) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.jobs)
}

// stopAll cancels every job first, then waits: they end in parallel.
func stopAll(jobs []*job) {
	for _, j := range jobs {
		j.cancel()
	}
	for _, j := range jobs {
		<-j.done
	}
}
