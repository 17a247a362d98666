package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// P3: many containers at once on one bridge, as a node does when a deployment scales up.

// P3Rep is one setup's burst: N ADDs at once, then N DELs at once.
type P3Rep struct {
	Setup   Setup   `json:"setup"`
	Rep     int     `json:"rep"`
	AddWall float64 `json:"addWallMs"`
	// CPU of everything the ADDs ran that was waited for (nsenter, cnidriver, every plugin), from
	// RUSAGE_CHILDREN; ndp-announce's detached announcers are not in it.
	AddCPU  float64 `json:"addCPUMs"`
	DelWall float64 `json:"delWallMs"`
	Failed  int     `json:"failed"`
	Left    string  `json:"left,omitempty"` // announcers, state or lock files, leases still there after DEL
}

// P3Result is every burst.
type P3Result struct {
	Containers int     `json:"containers"`
	Reps       []P3Rep `json:"reps"`
}

// p3Setups are the bursts compared, in report order; a new row is one entry. The no-op chained
// plugin is the floor any chained Go plugin pays here (one more process per ADD); tuning is the
// reference plugin a user would try.
var p3Setups = []Setup{SetupBridge, SetupNoop, SetupTuning, SetupNDPA, SetupNDPASvc}

// RunP3 alternates the setups, reps times each, each burst in a fresh lab.
func RunP3(ctx context.Context, env labEnv, n, reps int) (*P3Result, error) {
	progress("P3: %d concurrent ADDs then DELs on one bridge, %d times per setup", n, reps)
	res := &P3Result{Containers: n}
	for rep := 1; rep <= reps; rep++ {
		order := append([]Setup(nil), p3Setups...)
		if rep%2 == 0 {
			slices.Reverse(order)
		}
		for _, s := range order {
			r, err := p3Burst(ctx, env, s, n)
			if err != nil {
				return nil, err
			}
			r.Rep = rep
			res.Reps = append(res.Reps, r)
			left := "nothing left"
			if r.Left != "" {
				left = "LEFT: " + r.Left
			}
			progress("  P3 %d/%d %-22s %d ADDs in %s (%d failed, %s CPU), DELs in %s, %s",
				rep, reps, s.Short(), n, fmtMs(r.AddWall), r.Failed, fmtMs(r.AddCPU), fmtMs(r.DelWall), left)
		}
	}
	return res, nil
}

func p3Burst(ctx context.Context, env labEnv, s Setup, n int) (r P3Rep, err error) {
	r.Setup = s
	lab, err := NewLab(ctx, env)
	if err != nil {
		return r, err
	}
	defer func() {
		if cerr := lab.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	conf, err := lab.WriteConflist("net", s, NDPAOptions{})
	if err != nil {
		return r, err
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("c%d", i)
		if err := lab.AddContainer(ctx, names[i]); err != nil {
			return r, err
		}
	}
	all := func(f func(name string) error) (float64, []error) { return concurrently(names, f) }
	var addErrs, delErrs []error
	cpu0 := childrenCPU()
	r.AddWall, addErrs = all(func(name string) error {
		_, err := lab.CNIAdd(ctx, conf, name, "")
		return err
	})
	r.AddCPU = childrenCPU() - cpu0
	for _, e := range addErrs {
		if e != nil {
			r.Failed++
		}
	}
	r.DelWall, delErrs = all(func(name string) error {
		_, err := lab.CNIDel(ctx, name)
		return err
	})
	if err := errors.Join(delErrs...); err != nil {
		return r, err
	}
	if r.Failed > 0 {
		return r, fmt.Errorf("%d of %d ADDs failed: %w", r.Failed, n, errors.Join(addErrs...))
	}
	r.Left = leftovers(lab, conf)
	return r, nil
}

// concurrently runs f for every name at once and returns the wall time until the last returned.
func concurrently(names []string, f func(name string) error) (float64, []error) {
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	start := time.Now()
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(name)
		}()
	}
	wg.Wait()
	return ms(time.Since(start)), errs
}

// childrenCPU is the user + system CPU ms of this process's waited-for descendants so far.
func childrenCPU() float64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
}

// leftovers lists what DEL should have removed: announcer processes of this dataDir, its state and
// lock files, host-local's leases.
func leftovers(lab *Lab, conf *Conflist) string {
	var left []string
	if conf.DataDir != "" {
		if pids := announcerPIDs(conf.DataDir); len(pids) > 0 {
			left = append(left, fmt.Sprintf("%d announcers", len(pids)))
		}
		ents, _ := os.ReadDir(conf.DataDir)
		files := 0
		for _, e := range ents {
			if !isServiceFile(e.Name()) {
				files++
			}
		}
		if files > 0 {
			left = append(left, fmt.Sprintf("%d files in dataDir", files))
		}
	}
	ents, _ := os.ReadDir(filepath.Join(lab.Dir, "ipam", conf.Name))
	leases := 0
	for _, e := range ents {
		if n := e.Name(); n != "lock" && !strings.HasPrefix(n, "last_reserved_ip") {
			leases++
		}
	}
	if leases > 0 {
		left = append(left, fmt.Sprintf("%d host-local leases", leases))
	}
	return strings.Join(left, ", ")
}

// announcerPIDs finds ndp-announce background announcers whose command line names dataDir.
func announcerPIDs(dataDir string) []int {
	var pids []int
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("__announce")) || !bytes.Contains(b, []byte(`"dataDir":"`+dataDir+`"`)) {
			continue
		}
		var pid int
		if _, err := fmt.Sscanf(p, "/proc/%d/cmdline", &pid); err == nil && alive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// alive: the process exists and is not a zombie waiting for a reaper.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}
