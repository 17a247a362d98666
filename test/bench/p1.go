package main

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// P1: the black-hole. A peer talks to container A, A is deleted, B gets the same IPv4 and IPv6 with
// a new MAC; from the instant ADD(B) returns the peer probes both addresses every 20 ms.

// P1Case is one column of the comparison.
type P1Case struct {
	Setup Setup `json:"setup"`
	Stale bool  `json:"stale"` // the peer's entries for A had aged to STALE before the swap
}

func (c P1Case) String() string {
	state := "REACHABLE"
	if c.Stale {
		state = "STALE"
	}
	return c.Setup.Short() + ", peer entry " + state
}

// P1Run is one measurement.
type P1Run struct {
	Case    P1Case   `json:"case"`
	Run     int      `json:"run"`
	AMAC    string   `json:"aMAC"`
	BMAC    string   `json:"bMAC"`
	Before  [2]Neigh `json:"before"` // peer's entries (IPv4, IPv6) just before ADD(B)
	After   [2]Neigh `json:"after"`  // and once both answered (or the cap)
	AddMs   float64  `json:"addMs"`
	Series  []Series `json:"series"`
	Err     string   `json:"err,omitempty"`
	Elapsed float64  `json:"elapsedMs"`
}

// P1Options drive the whole of P1.
type P1Options struct {
	Runs     int
	Interval time.Duration
	Cap      time.Duration
	Tail     time.Duration
}

func p1Cases() []P1Case {
	var cs []P1Case
	for _, stale := range []bool{false, true} {
		for _, s := range []Setup{SetupBridge, SetupTuning, SetupNDPA} {
			cs = append(cs, P1Case{Setup: s, Stale: stale})
		}
	}
	return cs
}

// RunP1 runs every case of a round at once, each in its own lab: the black-hole is the kernel's
// timers, not CPU, so a round takes as long as its slowest case instead of their sum.
func RunP1(ctx context.Context, env labEnv, o P1Options) ([]P1Run, error) {
	cases := p1Cases()
	var all []P1Run
	for run := 1; run <= o.Runs; run++ {
		progress("P1 round %d/%d: %d swaps at once (each capped at %v)", run, o.Runs, len(cases), o.Cap)
		results := make([]P1Run, len(cases))
		var wg sync.WaitGroup
		for i, c := range cases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := runP1Once(ctx, env, c, run, o)
				results[i] = r
				if r.Err != "" {
					progress("  %-40s error: %s", c, r.Err)
					return
				}
				progress("  %-40s IPv4 %s, IPv6 %s", c, describeOutcome(r.Series[0]), describeOutcome(r.Series[1]))
			}()
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return all, err
		}
		all = append(all, results...)
	}
	return all, nil
}

func describeOutcome(s Series) string {
	o := OutcomeOf(s)
	if !o.Answered {
		return fmt.Sprintf("no reply in %s (%d lost)", fmtMs(o.Ms), o.Lost)
	}
	return fmt.Sprintf("first reply %s (%d lost)", fmtMs(o.Ms), o.Lost)
}

func runP1Once(ctx context.Context, env labEnv, c P1Case, run int, o P1Options) (r P1Run) {
	r = P1Run{Case: c, Run: run}
	start := time.Now()
	defer func() { r.Elapsed = ms(time.Since(start)) }()
	lab, err := NewLab(ctx, env)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer func() {
		if err := lab.Close(); err != nil && r.Err == "" {
			r.Err = err.Error()
		}
	}()
	conf, err := lab.WriteConflist("net", c.Setup, NDPAOptions{})
	if err == nil {
		err = p1PeerKnowsA(ctx, lab, conf, &r)
	}
	if err == nil {
		err = p1SwapToB(ctx, lab, conf, &r, o)
	}
	if err != nil {
		r.Err = err.Error()
	}
	return r
}

// p1PeerKnowsA adds A, lets the peer talk to it, and leaves the peer's entries for A in the
// case's state.
func p1PeerKnowsA(ctx context.Context, lab *Lab, conf *Conflist, r *P1Run) error {
	if err := lab.AddContainer(ctx, "a"); err != nil {
		return err
	}
	if _, err := lab.CNIAdd(ctx, conf, "a", fixedIPs); err != nil {
		return err
	}
	var err error
	if r.AMAC, err = lab.LinkMAC(ctx, "a"); err != nil {
		return err
	}
	for _, addr := range []string{recycledV4, recycledV6} {
		if err := peerTalksTo(ctx, lab, addr, r.AMAC); err != nil {
			return err
		}
	}
	want := "REACHABLE"
	if r.Case.Stale {
		// What an entry becomes once the peer has not heard from A for 15-45 s, set directly: left to
		// the kernel, the peer and A keep re-confirming each other with unicast probes (an entry used
		// in the last 5 s goes to DELAY, not STALE) and STALE may never show within a bounded wait.
		want = "STALE"
		for _, addr := range []string{recycledV4, recycledV6} {
			if _, err := inNS(ctx, lab.PeerNS, "ip", "neigh", "change", addr, "lladdr", r.AMAC, "dev", "eth0", "nud", "stale"); err != nil {
				return err
			}
		}
	}
	return waitPeerState(ctx, lab, want, 5*time.Second)
}

// p1SwapToB deletes A, adds B with A's addresses and a new MAC, and probes from the instant ADD(B)
// returned.
func p1SwapToB(ctx context.Context, lab *Lab, conf *Conflist, r *P1Run, o P1Options) error {
	if _, err := lab.CNIDel(ctx, "a"); err != nil {
		return err
	}
	if err := lab.RemoveContainer(ctx, "a"); err != nil {
		return err
	}
	if err := p1ReadPeer(ctx, lab, &r.Before); err != nil {
		return err
	}
	if err := lab.AddContainer(ctx, "b"); err != nil {
		return err
	}
	pinger, err := OpenPinger(lab.Peer.Path, netip.MustParseAddr(recycledV4), netip.MustParseAddr(recycledV6))
	if err != nil {
		return err
	}
	defer pinger.Close()
	addTook, err := lab.CNIAdd(ctx, conf, "b", fixedIPs)
	t0 := time.Now() // the instant ADD returned: every figure of P1 counts from here
	if err != nil {
		return err
	}
	r.AddMs = ms(addTook)
	if r.Series, err = pinger.Run(ctx, t0, PingOptions{Interval: o.Interval, Cap: o.Cap, Tail: o.Tail}); err != nil {
		return err
	}
	if err := p1ReadPeer(ctx, lab, &r.After); err != nil {
		return err
	}
	if r.BMAC, err = lab.LinkMAC(ctx, "b"); err != nil {
		return err
	}
	if r.BMAC == r.AMAC {
		return fmt.Errorf("B got A's MAC %s: not an IP-recycling case", r.AMAC)
	}
	return nil
}

// p1ReadPeer reads the peer's entries for the recycled IPv4 and IPv6.
func p1ReadPeer(ctx context.Context, lab *Lab, into *[2]Neigh) error {
	for i, addr := range []string{recycledV4, recycledV6} {
		n, err := lab.PeerNeigh(ctx, addr)
		if err != nil {
			return err
		}
		into[i] = n
	}
	return nil
}

// peerTalksTo: the peer pings addr until a reply comes (A's port may still be learning) and then
// holds A's MAC for it.
func peerTalksTo(ctx context.Context, lab *Lab, addr, mac string) error {
	for try := 0; try < 3; try++ {
		if lab.PingOnce(ctx, addr) {
			n, err := lab.PeerNeigh(ctx, addr)
			if err != nil {
				return err
			}
			if n.MAC != mac {
				return fmt.Errorf("peer's entry for %s is %s, want A's MAC %s", addr, n, mac)
			}
			return nil
		}
	}
	return fmt.Errorf("peer cannot reach A at %s", addr)
}

// waitPeerState waits until the peer's entries for both recycled addresses are in state want.
func waitPeerState(ctx context.Context, lab *Lab, want string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		ok := true
		var seen []string
		for _, addr := range []string{recycledV4, recycledV6} {
			n, err := lab.PeerNeigh(ctx, addr)
			if err != nil {
				return err
			}
			seen = append(seen, addr+": "+n.String())
			if n.State != want {
				ok = false
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("peer entries not %s after %v: %v", want, limit, seen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
