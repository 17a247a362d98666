// Command bench measures what users adopt ndp-announce for — how long a recycled IP stays
// unreachable — against bridge alone and bridge + tuning, and what the plugin costs (ADD latency,
// concurrency, memory) against bridge alone and against a no-op chained plugin (./noop, the floor),
// each in its own throwaway network namespaces. It writes BENCHMARKS.md and an SVG timeline of the
// peer's probes around the IP swap. Root only; `make bench` runs it.
//
// Usage:
//
//	bench [-runs 5] [-cycles 20] [-containers 50] [-only p1,p2,p3,p4]
//	      [-out BENCHMARKS.md] [-svg docs/blackhole-timeline.svg] [-json FILE]
//	      [-bin-dir DIR[:DIR...]] [-driver PATH]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

var (
	progressMu    sync.Mutex
	progressStart = time.Now()
)

// progress prints a line a person can follow, with the time since the start.
func progress(format string, args ...any) {
	progressMu.Lock()
	defer progressMu.Unlock()
	el := time.Since(progressStart).Round(time.Second)
	fmt.Fprintf(os.Stderr, "[bench %02d:%02d] %s\n", int(el.Minutes()), int(el.Seconds())%60, fmt.Sprintf(format, args...))
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func main() {
	if isWrapper() {
		os.Exit(wrapperMain())
	}
	os.Exit(run())
}

// options are the command line.
type options struct {
	runs, cycles, containers, capSec int
	handOffs                         int
	want                             map[string]bool // which of p1..p5 to run
	out, svg, jsonOut, fromJSON      string
	binDirs, driver                  string
}

func parseFlags() *options {
	repo, _ := os.Getwd()
	o := &options{}
	flag.IntVar(&o.runs, "runs", envInt("BENCH_RUNS", 5), "P1 rounds (env BENCH_RUNS)")
	flag.IntVar(&o.cycles, "cycles", envInt("BENCH_CYCLES", 30), "P2 ADD cycles per setup (env BENCH_CYCLES)")
	flag.IntVar(&o.containers, "containers", envInt("BENCH_CONTAINERS", 50), "P3 concurrent containers")
	flag.IntVar(&o.handOffs, "hand-offs", envInt("BENCH_HANDOFFS", 1000), "P5 hand-offs to the node service in one burst")
	only := flag.String("only", os.Getenv("BENCH_ONLY"), "comma-separated subset of p1,p2,p3,p4,p5 (env BENCH_ONLY)")
	flag.StringVar(&o.out, "out", "BENCHMARKS.md", "report to write")
	flag.StringVar(&o.svg, "svg", "docs/blackhole-timeline.svg", "P1 timeline picture to write")
	flag.StringVar(&o.jsonOut, "json", "", "also write the raw results here")
	flag.StringVar(&o.binDirs, "bin-dir", filepath.Join(repo, "bin")+":"+filepath.Join(repo, ".tools/bin"), "CNI plugin dirs")
	flag.StringVar(&o.driver, "driver", filepath.Join(repo, ".tools/bin/cnidriver"), "the libcni driver")
	flag.IntVar(&o.capSec, "cap", 60, "P1: seconds to wait for a reply before reporting \"> cap\"")
	flag.StringVar(&o.fromJSON, "from-json", "", "measure nothing: render the report and picture from a -json file")
	flag.Parse()
	o.want = map[string]bool{"p1": true, "p2": true, "p3": true, "p4": true, "p5": true}
	if *only != "" {
		o.want = map[string]bool{}
		for _, p := range strings.Split(*only, ",") {
			o.want[strings.TrimSpace(strings.ToLower(p))] = true
		}
	}
	return o
}

func run() int {
	o := parseFlags()
	// Descriptors this process inherited (from make, a shell, a CI runner) would otherwise pass
	// through nsenter, cnidriver and the plugins into every announcer, and show up in P4 as the
	// announcer's: start every child the way a runtime does, with 0-2 only.
	_ = unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC)
	var err error
	switch {
	case o.fromJSON != "":
		err = renderFromJSON(o)
	case os.Geteuid() != 0:
		err = errors.New("needs root (network namespaces)")
	default:
		err = measureAndWrite(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

func renderFromJSON(o *options) error {
	var res Results
	b, err := os.ReadFile(o.fromJSON)
	if err == nil {
		err = json.Unmarshal(b, &res)
	}
	if err != nil {
		return err
	}
	return writeOutputs(&res, o.out, o.svg)
}

// findBinaries finds ndp-announce and every other plugin a setup runs.
func findBinaries(binDirs string) (plugin string, err error) {
	if plugin, err = findInPath(binDirs, "ndp-announce"); err != nil {
		return "", fmt.Errorf("%w (run make build)", err)
	}
	for _, p := range []string{"bridge", "host-local", "tuning", noopPluginType, daemonBinary} {
		if _, err := findInPath(binDirs, p); err != nil {
			return "", fmt.Errorf("%w (make bench builds them all)", err)
		}
	}
	return plugin, nil
}

func measureAndWrite(o *options) error {
	plugin, err := findBinaries(o.binDirs)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "ndpb-bench-")
	if err != nil {
		return err
	}
	reg := newRegistry()
	env := labEnv{BinDirs: o.binDirs, Driver: o.driver, TmpRoot: tmp, Registry: reg}
	// An interrupt cancels the run; the labs still open are closed on the way out.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer func() {
		reg.closeAll()
		os.RemoveAll(tmp)
	}()
	res, err := measure(ctx, o, env, plugin)
	if err != nil {
		return err
	}
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", " ")
		if err := os.WriteFile(o.jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	return writeOutputs(res, o.out, o.svg)
}

// measure runs the parts asked for, in order, and stops at the first that fails.
func measure(ctx context.Context, o *options, env labEnv, plugin string) (*Results, error) {
	res := &Results{Machine: describeMachine(plugin, o.binDirs, o.driver), Started: time.Now()}
	parts := []struct {
		name string
		run  func() error
	}{
		{"p1", func() (err error) {
			res.P1Cap = time.Duration(o.capSec) * time.Second
			res.P1, err = RunP1(ctx, env, P1Options{Runs: o.runs, Interval: 20 * time.Millisecond, Cap: res.P1Cap, Tail: time.Second})
			return err
		}},
		{"p2", func() (err error) { res.P2, err = RunP2(ctx, env, plugin, o.cycles); return err }},
		{"p3", func() (err error) { res.P3, err = RunP3(ctx, env, o.containers, 5); return err }},
		{"p4", func() (err error) { res.P4, err = RunP4(ctx, env, plugin); return err }},
		{"p5", func() (err error) { res.P5, err = RunP5(ctx, env, o.handOffs, 32); return err }},
	}
	for _, p := range parts {
		if !o.want[p.name] {
			continue
		}
		t := time.Now()
		if err := p.run(); err != nil {
			return nil, fmt.Errorf("%s: %w", strings.ToUpper(p.name), err)
		}
		progress("%s done in %v", strings.ToUpper(p.name), time.Since(t).Round(time.Second))
	}
	res.Finished = time.Now()
	res.Machine.LoadEnd = loadAvg()
	return res, nil
}

// writeOutputs writes the picture (when P1 ran) and the report that links it.
func writeOutputs(res *Results, out, svg string) error {
	if len(res.P1) > 0 {
		if err := os.MkdirAll(filepath.Dir(svg), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(svg, []byte(TimelineSVG(res.P1, res.P1Cap)), 0o644); err != nil {
			return err
		}
		progress("wrote %s", svg)
	}
	rel, err := filepath.Rel(filepath.Dir(out), svg)
	if err != nil {
		rel = svg
	}
	if err := os.WriteFile(out, []byte(Report(res, rel)), 0o644); err != nil {
		return err
	}
	progress("wrote %s", out)
	return nil
}

func findInPath(dirs, name string) (string, error) {
	for _, d := range filepath.SplitList(dirs) {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return filepath.Abs(p)
		}
	}
	return "", fmt.Errorf("no executable %s in %s", name, dirs)
}
