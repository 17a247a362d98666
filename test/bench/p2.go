package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// P2: what ndp-announce adds to ADD. The whole conflist is ADDed through libcni, bridge alone,
// bridge + tuning, bridge + a no-op chained plugin (the floor) and bridge + ndp-announce in turn on
// one bridge, so drift (page cache, CPU frequency) hits all of them alike.

// p2Variant is one conflist P2 times, side by side with the others in every cycle. Adding a row to
// P2 is one entry in p2Variants.
type p2Variant struct {
	Name  string // key: conflist and container names, P2Result rows
	Setup Setup
	Opts  NDPAOptions
	Label string // "" for the setup's label
	Short string // "" for the setup's short label
}

// p2Variants in report order. The report pairs every variant with "bridge" (added by a chained
// plugin) and the ndp-announce ones with "noop" (added over the floor), cycle by cycle.
var p2Variants = []p2Variant{
	{Name: p2Bridge, Setup: SetupBridge},
	{Name: "tuning", Setup: SetupTuning},
	{Name: p2Noop, Setup: SetupNoop},
	{Name: p2NDPA, Setup: SetupNDPA},
	// The same first round; its announcer only closes the sockets, so this and "ndpa" differ by the
	// announcer's rounds alone.
	{Name: "ndpa1", Setup: SetupNDPA, Opts: NDPAOptions{AdvertiseCount: 1},
		Label: "bridge + ndp-announce with advertiseCount 1 (nothing forked; ADD closes the sockets)",
		Short: "bridge+ndp-announce, advertiseCount 1"},
	// The rounds after the first go to the node service: no process forked.
	{Name: p2Service, Setup: SetupNDPASvc},
}

// The variants the report's targets are about.
const (
	p2Bridge = "bridge"
	p2Noop   = "noop"
	p2NDPA   = "ndpa"
	// p2Service is ndp-announce handing off to the node service.
	p2Service = "ndpa-service"
)

// P2Result holds the per-cycle timings in ms.
type P2Result struct {
	Cycles     int         `json:"cycles"`
	Variants   []P2Variant `json:"variants"`   // in p2Variants order
	ExecMs     []float64   `json:"execMs"`     // ndp-announce VERSION: process start to exit
	ExecBridge []float64   `json:"execBridge"` // bridge VERSION, the same for the reference plugin
	Steps      string      `json:"steps"`      // one ADD's log line of "ndpa", for the report
}

// P2Variant is one variant's timings; Add[i] and Del[i] are cycle i's, so two variants pair up.
type P2Variant struct {
	Name     string    `json:"name"`
	Setup    Setup     `json:"setup"`
	Label    string    `json:"label"`
	Short    string    `json:"short"`
	Add      []float64 `json:"add"`                // ADD of the whole conflist
	Del      []float64 `json:"del"`                // DEL, for the record
	PluginMs []float64 `json:"pluginMs,omitempty"` // ndp-announce's own "ms" of each ADD (its log)
}

// Variant is the named variant's timings, nil when it did not run.
func (p *P2Result) Variant(name string) *P2Variant {
	for i := range p.Variants {
		if p.Variants[i].Name == name {
			return &p.Variants[i]
		}
	}
	return nil
}

// p2Lab is a lab with one conflist per variant, all on its one bridge.
type p2Lab struct {
	lab   *Lab
	confs []*Conflist // p2Variants order
}

// RunP2 runs warm-up cycles, then `cycles` rounds of every variant, in rotating order.
func RunP2(ctx context.Context, env labEnv, plugin string, cycles int) (*P2Result, error) {
	progress("P2: ADD latency, %d cycles of %d setups side by side", cycles, len(p2Variants))
	lab, err := NewLab(ctx, env)
	if err != nil {
		return nil, err
	}
	defer lab.Close()
	pl := &p2Lab{lab: lab}
	res := &P2Result{Cycles: cycles}
	for _, v := range p2Variants {
		c, err := lab.WriteConflist(v.Name, v.Setup, v.Opts)
		if err != nil {
			return nil, err
		}
		pl.confs = append(pl.confs, c)
		res.Variants = append(res.Variants, P2Variant{Name: v.Name, Setup: v.Setup,
			Label: cmp.Or(v.Label, v.Setup.Label()), Short: cmp.Or(v.Short, v.Setup.Short())})
	}
	// Warm-up: first execs of each binary pay for page faults; not counted, and their log lines
	// are skipped below.
	const warm = 3
	for i := 0; i < warm; i++ {
		for k, v := range p2Variants {
			if _, _, err := pl.cycle(ctx, k, fmt.Sprintf("w%s%d", v.Name, i)); err != nil {
				return nil, err
			}
		}
	}
	for i := 0; i < cycles; i++ {
		if err := pl.round(ctx, res, i); err != nil {
			return nil, err
		}
		if (i+1)%5 == 0 || i+1 == cycles {
			var got []string
			for _, v := range res.Variants {
				got = append(got, fmt.Sprintf("%s %.1f ms", v.Name, v.Add[i]))
			}
			progress("  P2 cycle %d/%d: %s", i+1, cycles, strings.Join(got, ", "))
		}
	}
	if err := pl.readLogs(res, warm); err != nil {
		return nil, err
	}
	return res, timeProcessStarts(ctx, res, env.BinDirs, plugin)
}

// round is cycle i of every variant. The order rotates, so no variant always follows the same one.
func (pl *p2Lab) round(ctx context.Context, res *P2Result, i int) error {
	n := len(p2Variants)
	for k := range n {
		j := (i + k) % n
		add, del, err := pl.cycle(ctx, j, fmt.Sprintf("%s%d", p2Variants[j].Name, i))
		if err != nil {
			return err
		}
		v := &res.Variants[j]
		v.Add, v.Del = append(v.Add, add), append(v.Del, del)
	}
	return nil
}

// cycle is one container's life with variant k: netns, ADD, DEL, netns gone.
func (pl *p2Lab) cycle(ctx context.Context, k int, name string) (add, del float64, err error) {
	lab := pl.lab
	if err := lab.AddContainer(ctx, name); err != nil {
		return 0, 0, err
	}
	a, err := lab.CNIAdd(ctx, pl.confs[k], name, "")
	if err != nil {
		return 0, 0, err
	}
	d, err := lab.CNIDel(ctx, name)
	if err != nil {
		return 0, 0, err
	}
	return ms(a), ms(d), lab.RemoveContainer(ctx, name)
}

// readLogs takes every ndp-announce variant's own ADD time from its log, past the warm-up.
func (pl *p2Lab) readLogs(res *P2Result, warm int) error {
	for k, c := range pl.confs {
		if c.LogFile == "" {
			continue
		}
		lines, err := addDoneLines(c.LogFile)
		if err != nil {
			return err
		}
		if len(lines) != warm+res.Cycles {
			return fmt.Errorf("%s: ndp-announce logged %d ADDs, want %d", p2Variants[k].Name, len(lines), warm+res.Cycles)
		}
		for _, l := range lines[warm:] {
			res.Variants[k].PluginMs = append(res.Variants[k].PluginMs, l.Ms)
		}
		if p2Variants[k].Name == p2NDPA {
			res.Steps = lines[len(lines)-1].Raw
		}
	}
	return nil
}

// timeProcessStarts: VERSION does no work, so its wall time is exec + Go runtime start + exit.
func timeProcessStarts(ctx context.Context, res *P2Result, binDirs, plugin string) error {
	bridge, err := findInPath(binDirs, "bridge")
	if err != nil {
		return err
	}
	for i := 0; i < res.Cycles; i++ {
		for _, p := range []struct {
			bin string
			out *[]float64
		}{{plugin, &res.ExecMs}, {bridge, &res.ExecBridge}} {
			d, err := timeVersion(ctx, p.bin)
			if err != nil {
				return err
			}
			*p.out = append(*p.out, d)
		}
	}
	return nil
}

func timeVersion(ctx context.Context, bin string) (float64, error) {
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(os.Environ(), "CNI_COMMAND=VERSION")
	cmd.Stdin = strings.NewReader(`{"cniVersion":"1.1.0"}`)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("%s VERSION: %w: %s", bin, err, out)
	}
	return ms(time.Since(start)), nil
}

// addDone is one "ADD done" line of ndp-announce's log.
type addDone struct {
	Ms  float64
	Raw string
}

func addDoneLines(path string) ([]addDone, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ndp-announce log: %w", err)
	}
	defer f.Close()
	var out []addDone
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		var l struct {
			Msg string  `json:"msg"`
			Ms  float64 `json:"ms"`
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "ADD done" {
			out = append(out, addDone{Ms: l.Ms, Raw: sc.Text()})
		}
	}
	return out, sc.Err()
}
