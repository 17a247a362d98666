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

func run() int {
	repo, _ := os.Getwd()
	var (
		runs       = flag.Int("runs", envInt("BENCH_RUNS", 5), "P1 rounds (env BENCH_RUNS)")
		cycles     = flag.Int("cycles", envInt("BENCH_CYCLES", 30), "P2 ADD cycles per setup (env BENCH_CYCLES)")
		containers = flag.Int("containers", envInt("BENCH_CONTAINERS", 50), "P3 concurrent containers")
		only       = flag.String("only", os.Getenv("BENCH_ONLY"), "comma-separated subset of p1,p2,p3,p4 (env BENCH_ONLY)")
		out        = flag.String("out", "BENCHMARKS.md", "report to write")
		svg        = flag.String("svg", "docs/blackhole-timeline.svg", "P1 timeline picture to write")
		jsonOut    = flag.String("json", "", "also write the raw results here")
		binDirs    = flag.String("bin-dir", filepath.Join(repo, "bin")+":"+filepath.Join(repo, ".tools/bin"), "CNI plugin dirs")
		driver     = flag.String("driver", filepath.Join(repo, ".tools/bin/cnidriver"), "the libcni driver")
		capSec     = flag.Int("cap", 60, "P1: seconds to wait for a reply before reporting \"> cap\"")
		fromJSON   = flag.String("from-json", "", "measure nothing: render the report and picture from a -json file")
	)
	flag.Parse()
	// Descriptors this process inherited (from make, a shell, a CI runner) would otherwise pass
	// through nsenter, cnidriver and the plugins into every announcer, and show up in P4 as the
	// announcer's: start every child the way a runtime does, with 0-2 only.
	_ = unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC)
	if *fromJSON != "" {
		var res Results
		b, err := os.ReadFile(*fromJSON)
		if err == nil {
			err = json.Unmarshal(b, &res)
		}
		if err == nil {
			err = writeOutputs(&res, *out, *svg)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		return 0
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: needs root (network namespaces)")
		return 1
	}
	want := map[string]bool{"p1": true, "p2": true, "p3": true, "p4": true}
	if *only != "" {
		want = map[string]bool{}
		for _, p := range strings.Split(*only, ",") {
			want[strings.TrimSpace(strings.ToLower(p))] = true
		}
	}
	plugin, err := findInPath(*binDirs, "ndp-announce")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err, "(run make build)")
		return 1
	}
	for _, p := range []string{"bridge", "host-local", "tuning", noopPluginType} {
		if _, err := findInPath(*binDirs, p); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err, "(make bench builds them all)")
			return 1
		}
	}

	tmp, err := os.MkdirTemp("", "ndpb-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	reg := newRegistry()
	env := labEnv{BinDirs: *binDirs, Driver: *driver, TmpRoot: tmp, Registry: reg}

	// An interrupt cancels the run; the labs still open are closed on the way out.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer func() {
		reg.closeAll()
		os.RemoveAll(tmp)
	}()

	res := &Results{Machine: describeMachine(plugin, *binDirs, *driver), Started: time.Now()}
	var runErr error
	step := func(name string, f func() error) {
		if runErr != nil || !want[name] {
			return
		}
		t := time.Now()
		if err := f(); err != nil {
			runErr = fmt.Errorf("%s: %w", strings.ToUpper(name), err)
			return
		}
		progress("%s done in %v", strings.ToUpper(name), time.Since(t).Round(time.Second))
	}
	step("p1", func() (err error) {
		res.P1Cap = time.Duration(*capSec) * time.Second
		res.P1, err = RunP1(ctx, env, P1Options{Runs: *runs, Interval: 20 * time.Millisecond, Cap: res.P1Cap, Tail: time.Second})
		return err
	})
	step("p2", func() (err error) {
		res.P2, err = RunP2(ctx, env, plugin, *cycles)
		return err
	})
	step("p3", func() (err error) {
		res.P3, err = RunP3(ctx, env, *containers, 5)
		return err
	})
	step("p4", func() (err error) {
		res.P4, err = RunP4(ctx, env, plugin)
		return err
	})
	res.Finished = time.Now()
	if runErr != nil {
		fmt.Fprintln(os.Stderr, "bench:", runErr)
		return 1
	}

	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", " ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}
	if err := writeOutputs(res, *out, *svg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
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
