package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/ndp-announce/ndp-announce/pkg/announcer"
	"github.com/ndp-announce/ndp-announce/pkg/daemon"
	"github.com/ndp-announce/ndp-announce/pkg/handoff"
)

// startService runs the node service (pkg/daemon) on the bed's dataDir, in this process, until
// the test ends; ADD finds it at dataDir/announcer.sock.
func (b *bed) startService(t *testing.T, o daemon.Options) {
	t.Helper()
	o.DataDir = b.dataDir
	d, err := daemon.New(o)
	if err != nil {
		t.Fatalf("start the node service: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("node service: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the node service did not stop within 10s")
		}
	})
}

// serviceStop asks the service to stop an attachment's rounds, as DEL does, and says how many it stopped.
func (b *bed) serviceStop(t *testing.T, network, id string) int {
	t.Helper()
	c := &handoff.Client{Path: filepath.Join(b.dataDir, handoff.SocketName)}
	key := announcer.Key{Network: network, ContainerID: id, IfName: bedIf}
	rep, err := c.Do(&handoff.Request{Kind: handoff.KindStop, Stop: &key}, nil)
	if err != nil {
		t.Fatalf("stop %s in the service: %v", id, err)
	}
	return rep.Stopped
}

// With the node service up, ADD hands it the rounds after the first: no process is forked, the
// service's round 2 replaces the peer's re-staled entry, and DEL stops the rest there.
func TestServiceRunsTheRounds(t *testing.T) {
	b := newBed(t)
	b.startService(t, daemon.Options{})
	a := b.attach(t, attachOptions{})
	a.staleNeigh(t)
	const interval = time.Second
	conf := a.conf(t, map[string]any{"advertiseCount": 3, "advertiseIntervalMs": int(interval / time.Millisecond)})
	if _, err := a.add(t, conf); err != nil {
		t.Fatalf("ADD: %v", err)
	}
	if pids := announcerChildren(t); len(pids) > 0 {
		t.Errorf("ADD forked announcers %v although the service runs", pids)
	}
	a.requirePeerLearns(t, observe, "round 1")
	a.staleNeigh(t)
	a.requirePeerLearns(t, interval+observe, "the service's round 2")
	if err := a.del(conf); err != nil {
		t.Fatalf("DEL: %v", err)
	}
	if n := b.serviceStop(t, b.network, a.id); n != 0 {
		t.Errorf("the service still had %d jobs of %s after DEL", n, a.id)
	}
	// Round 3 was due an interval after round 2: it must not come.
	a.staleNeigh(t)
	a.requirePeerKeepsOld(t, interval+observe/2, "DEL")
	requireNoState(t, b.dataDir, "DEL")
}

// GC stops in the service the rounds of this network's attachments that are not valid, and only
// those.
func TestServiceGC(t *testing.T) {
	b := newBed(t)
	b.startService(t, daemon.Options{})
	valid, stale, other := b.attach(t, attachOptions{}), b.attach(t, attachOptions{}), b.attach(t, attachOptions{})
	for _, a := range []*attachment{valid, stale} {
		if _, err := a.add(t, a.conf(t, longRounds())); err != nil {
			t.Fatalf("ADD %s: %v", a.id, err)
		}
	}
	otherFields := longRounds()
	otherFields["name"] = "ndpa-other"
	if _, err := other.add(t, other.conf(t, otherFields)); err != nil {
		t.Fatalf("ADD %s in another network: %v", other.id, err)
	}
	if err := b.gc(t, []types.GCAttachment{{ContainerID: valid.id, IfName: bedIf}}); err != nil {
		t.Fatalf("GC: %v", err)
	}
	for _, c := range []struct {
		network, id string
		want        int
	}{{b.network, stale.id, 0}, {b.network, valid.id, 1}, {"ndpa-other", other.id, 1}} {
		if n := b.serviceStop(t, c.network, c.id); n != c.want {
			t.Errorf("after GC the service had %d jobs of %s/%s, want %d", n, c.network, c.id, c.want)
		}
	}
}

// A service that is full refuses the hand-off, and ADD falls back to the detached announcer: the
// rounds are not lost, and DEL stops both kinds.
func TestServiceFullFallsBack(t *testing.T) {
	b := newBed(t)
	b.startService(t, daemon.Options{MaxAttachments: 1})
	inService, fallback := b.attach(t, attachOptions{}), b.attach(t, attachOptions{})
	conf := inService.conf(t, longRounds())
	if _, err := inService.add(t, conf); err != nil {
		t.Fatalf("ADD: %v", err)
	}
	if pids := announcerChildren(t); len(pids) > 0 {
		t.Fatalf("the first ADD forked announcers %v although the service had room", pids)
	}
	fbConf := fallback.conf(t, longRounds())
	pid := fallback.addRunning(t, fbConf)
	requireDelStops(t, fallback.args(fbConf), pid, b.dataDir)
	if err := inService.del(conf); err != nil {
		t.Fatalf("DEL: %v", err)
	}
	if n := b.serviceStop(t, b.network, inService.id); n != 0 {
		t.Errorf("the service still had %d jobs of %s after DEL", n, inService.id)
	}
}
