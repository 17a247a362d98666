package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// P2: what ndp-announce adds to ADD. The whole conflist is ADDed through libcni, bridge alone and
// bridge + ndp-announce alternating on one bridge, so drift (page cache, CPU frequency) hits both.

// P2Result holds the per-cycle timings in ms.
type P2Result struct {
	Cycles     int       `json:"cycles"`
	Bridge     []float64 `json:"bridge"`    // ADD of bridge + host-local
	NDPA       []float64 `json:"ndpa"`      // ADD of bridge + host-local + ndp-announce
	Diff       []float64 `json:"diff"`      // NDPA[i] - Bridge[i], cycle by cycle
	NDPA1      []float64 `json:"ndpa1"`     // ndp-announce with advertiseCount 1: an announcer that only closes the sockets
	Diff1      []float64 `json:"diff1"`     // NDPA1[i] - Bridge[i]
	PluginMs1  []float64 `json:"pluginMs1"` // ndp-announce's own "ms" with advertiseCount 1
	Steps1     string    `json:"steps1"`
	PluginMs   []float64 `json:"pluginMs"`   // ndp-announce's own "ms" of each ADD (its log)
	DelBridge  []float64 `json:"delBridge"`  // DEL, for the record
	DelNDPA    []float64 `json:"delNDPA"`    //
	ExecMs     []float64 `json:"execMs"`     // ndp-announce VERSION: process start to exit
	ExecBridge []float64 `json:"execBridge"` // bridge VERSION, the same for the reference plugin
	Steps      []string  `json:"steps"`      // one ADD's log line, for the report
}

// RunP2 runs warm-up cycles, then `cycles` alternating pairs.
func RunP2(ctx context.Context, env labEnv, plugin string, cycles int) (*P2Result, error) {
	progress("P2: ADD latency, %d cycles of bridge alone, + ndp-announce, + ndp-announce advertiseCount 1", cycles)
	lab, err := NewLab(ctx, env)
	if err != nil {
		return nil, err
	}
	defer lab.Close()
	// Three conflists on one bridge: bridge alone, ndp-announce with its defaults, and ndp-announce
	// with advertiseCount 1, which sends the same first round and starts an announcer that only
	// closes the sockets, so the last two differ by the announcer's rounds alone.
	type variant struct {
		name string
		conf *Conflist
		add  *[]float64
		del  *[]float64
	}
	res := &P2Result{Cycles: cycles}
	variants := []*variant{{name: "bridge", add: &res.Bridge, del: &res.DelBridge},
		{name: "ndpa", add: &res.NDPA, del: &res.DelNDPA}, {name: "ndpa1", add: &res.NDPA1, del: new([]float64)}}
	for _, v := range variants {
		setup, o := SetupNDPA, NDPAOptions{}
		switch v.name {
		case "bridge":
			setup = SetupBridge
		case "ndpa1":
			o.AdvertiseCount = 1
		}
		if v.conf, err = lab.WriteConflist(v.name, setup, o); err != nil {
			return nil, err
		}
	}
	cycle := func(v *variant, name string) (add, del float64, err error) {
		if err := lab.AddContainer(ctx, name); err != nil {
			return 0, 0, err
		}
		a, err := lab.CNIAdd(ctx, v.conf, name, "")
		if err != nil {
			return 0, 0, err
		}
		d, err := lab.CNIDel(ctx, name)
		if err != nil {
			return 0, 0, err
		}
		return ms(a), ms(d), lab.RemoveContainer(ctx, name)
	}
	// Warm-up: first execs of each binary pay for page faults; not counted, and their log lines
	// are skipped below.
	const warm = 3
	for i := 0; i < warm; i++ {
		for _, v := range variants {
			if _, _, err := cycle(v, fmt.Sprintf("w%s%d", v.name, i)); err != nil {
				return nil, err
			}
		}
	}
	for i := 0; i < cycles; i++ {
		// Rotate the order, so no variant always follows the same one.
		got := map[string]float64{}
		for k := range variants {
			v := variants[(i+k)%len(variants)]
			add, del, err := cycle(v, fmt.Sprintf("%s%d", v.name, i))
			if err != nil {
				return nil, err
			}
			*v.add = append(*v.add, add)
			*v.del = append(*v.del, del)
			got[v.name] = add
		}
		res.Diff = append(res.Diff, got["ndpa"]-got["bridge"])
		res.Diff1 = append(res.Diff1, got["ndpa1"]-got["bridge"])
		if (i+1)%5 == 0 || i+1 == cycles {
			progress("  P2 cycle %d/%d: bridge %.1f ms, + ndp-announce %.1f ms, + ndp-announce advertiseCount 1 %.1f ms",
				i+1, cycles, got["bridge"], got["ndpa"], got["ndpa1"])
		}
	}
	confs := map[Setup]*Conflist{SetupNDPA: variants[1].conf}
	lines, err := addDoneLines(confs[SetupNDPA].LogFile)
	if err != nil {
		return nil, err
	}
	if len(lines) != warm+cycles {
		return nil, fmt.Errorf("ndp-announce logged %d ADDs, want %d", len(lines), warm+cycles)
	}
	for _, l := range lines[warm:] {
		res.PluginMs = append(res.PluginMs, l.Ms)
	}
	lines1, err := addDoneLines(variants[2].conf.LogFile)
	if err != nil {
		return nil, err
	}
	for _, l := range lines1[min(warm, len(lines1)):] {
		res.PluginMs1 = append(res.PluginMs1, l.Ms)
	}
	res.Steps1 = lines1[len(lines1)-1].Raw
	res.Steps = []string{lines[len(lines)-1].Raw}

	// Process start alone: VERSION does no work, so its wall time is exec + Go runtime start + exit.
	bridge, err := findInPath(env.BinDirs, "bridge")
	if err != nil {
		return nil, err
	}
	for i := 0; i < cycles; i++ {
		for _, p := range []struct {
			bin string
			out *[]float64
		}{{plugin, &res.ExecMs}, {bridge, &res.ExecBridge}} {
			d, err := timeVersion(ctx, p.bin)
			if err != nil {
				return nil, err
			}
			*p.out = append(*p.out, d)
		}
	}
	return res, nil
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
