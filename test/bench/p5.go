package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ndp-announce/ndp-announce/pkg/announcer"
	"github.com/ndp-announce/ndp-announce/pkg/handoff"
	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
)

// P5: the node service under a burst of hand-offs, as a node starting many pods at once gives it:
// its memory with all of them in flight and its CPU per hand-off.

// P5Result is one burst.
type P5Result struct {
	HandOffs    int     `json:"handOffs"`
	Concurrency int     `json:"concurrency"`
	Failed      int     `json:"failed"`
	WallMs      float64 `json:"wallMs"`     // the whole burst, as the clients saw it
	CPUMsPer    float64 `json:"cpuMsPer"`   // the service's CPU (user+system) per hand-off
	IdleRSSMB   float64 `json:"idleRSSMB"`  // before the burst
	RSSMB       float64 `json:"rssMB"`      // right after it, every attachment still in flight
	PeakRSSMB   float64 `json:"peakRSSMB"`  // VmHWM
	InFlightFor float64 `json:"inFlightMs"` // how long each attachment's rounds last
}

// p5Rounds keep every attachment in flight well past the burst.
const (
	p5Rounds   = 2
	p5Interval = 2 * time.Second
)

// RunP5 hands n attachments' sockets (opened on one container's eth0, a fresh pair each, as n
// ADDs would) to a service, conc at a time.
func RunP5(ctx context.Context, env labEnv, n, conc int) (*P5Result, error) {
	progress("P5: the node service, a burst of %d hand-offs, %d at a time", n, conc)
	lab, err := NewLab(ctx, env)
	if err != nil {
		return nil, err
	}
	defer lab.Close()
	svcConf, err := lab.WriteConflist("svc", SetupNDPASvc, NDPAOptions{})
	if err != nil {
		return nil, err
	}
	br, err := lab.WriteConflist("br", SetupBridge, NDPAOptions{})
	if err != nil {
		return nil, err
	}
	if err := lab.AddContainer(ctx, "c0"); err != nil {
		return nil, err
	}
	if _, err := lab.CNIAdd(ctx, br, "c0", fixedIPs); err != nil {
		return nil, err
	}
	pid := lab.services.list[0].cmd.Process.Pid
	u0, err := usageOf(pid)
	if err != nil {
		return nil, err
	}
	b := &p5Burst{nsPath: lab.containers["c0"].Path, network: svcConf.Name,
		client: &handoff.Client{Path: filepath.Join(svcConf.DataDir, handoff.SocketName), Timeout: time.Second}}
	start := time.Now()
	failed := b.run(n, conc)
	wall := time.Since(start)
	u1, err := usageOf(pid)
	if err != nil {
		return nil, err
	}
	res := &P5Result{HandOffs: n, Concurrency: conc, Failed: failed, WallMs: ms(wall),
		CPUMsPer: (u1.CPUMs - u0.CPUMs) / float64(n), IdleRSSMB: u0.RSSMB, RSSMB: u1.RSSMB, PeakRSSMB: u1.HWMMB,
		InFlightFor: ms(p5Rounds * p5Interval)}
	progress("  P5: %d hand-offs in %s (%d failed), service %.1f MB RSS (idle %.1f MB, peak %.1f MB), %.3f ms CPU each",
		n, fmtMs(res.WallMs), failed, res.RSSMB, res.IdleRSSMB, res.PeakRSSMB, res.CPUMsPer)
	if failed > 0 {
		return res, fmt.Errorf("%d of %d hand-offs failed", failed, n)
	}
	return res, nil
}

// p5Burst is the clients' side: what an ADD sends after its round 1.
type p5Burst struct {
	nsPath, network string
	client          *handoff.Client
}

// run makes n hand-offs with conc workers and returns how many failed.
func (b *p5Burst) run(n, conc int) int {
	var (
		mu     sync.Mutex
		failed int
		wg     sync.WaitGroup
	)
	next := make(chan int)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := b.one(i); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					progress("  P5 hand-off %d: %v", i, err)
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return failed
}

func (b *p5Burst) one(i int) error {
	s, err := l2disco.NewSenderInNetNS(b.nsPath, l2disco.SenderOptions{IfName: "eth0", IPv4: true, IPv6: true})
	if err != nil {
		return err
	}
	defer s.Close()
	mac, err := s.LinkMAC()
	if err != nil {
		return err
	}
	arp, icmp6, err := s.Files()
	if err != nil {
		return err
	}
	defer arp.Close()
	defer icmp6.Close()
	job := announcer.Job{
		Key:     announcer.Key{Network: b.network, ContainerID: fmt.Sprintf("burst-%d", i), IfName: "eth0"},
		NetNS:   b.nsPath,
		IfIndex: s.IfIndex(),
		MAC:     mac,
		Targets: l2disco.Targets{IPv4: []netip.Addr{netip.MustParseAddr(recycledV4)}, IPv6: []netip.Addr{netip.MustParseAddr(recycledV6)}},
		Rounds:  p5Rounds, Interval: p5Interval,
	}
	_, err = b.client.Do(&handoff.Request{Kind: handoff.KindAnnounce, Announce: &job,
		Report: &handoff.Report{}, Files: []handoff.FileRole{handoff.FileARP, handoff.FileICMP6}}, []*os.File{arp, icmp6})
	return err
}
