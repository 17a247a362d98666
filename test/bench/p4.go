package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// P4: what the plugin costs while it runs: peak RSS of the plugin and of a background announcer, how
// long an announcer lives and which descriptors it holds.

// P4Announcer is one background announcer, watched from ADD until it exited by itself.
type P4Announcer struct {
	Count      int      `json:"count"`
	IntervalMs int      `json:"intervalMs"`
	PeakRSSKB  int      `json:"peakRSSKB"`  // VmHWM
	LifetimeMs float64  `json:"lifetimeMs"` // process start (stat, 10 ms ticks) to exit seen
	OwnMs      float64  `json:"ownMs"`      // its own "announcer done" ms
	CPUMs      float64  `json:"cpuMs"`      // on-CPU time, all threads, last sample before it exited
	FDs        []string `json:"fds"`        // what its descriptors point at, sorted
}

// P4Result holds every sample.
type P4Result struct {
	PluginADDKB []int `json:"pluginADDKB"` // max RSS of the ndp-announce process in ADD
	PluginDELKB []int `json:"pluginDELKB"`
	BridgeADDKB []int `json:"bridgeADDKB"` // the reference bridge plugin, for scale
	// CPU time (user + system) of one process, from the same rusage.
	PluginADDCPUMs []float64 `json:"pluginADDCPUMs"`
	BridgeADDCPUMs []float64 `json:"bridgeADDCPUMs"`
	// Wall time of one process, exec to exit, seen by the wrapper.
	PluginADDWallMs []float64     `json:"pluginADDWallMs"`
	BridgeADDWallMs []float64     `json:"bridgeADDWallMs"`
	Announcers      []P4Announcer `json:"announcers"`
}

// The bench binary doubles as a wrapper that runs a plugin and records its peak RSS from wait4's
// rusage: no /usr/bin/time needed, and the plugin's stdin, stdout, exit status pass through.
const (
	wrapRealEnv = "NDPB_WRAP_REAL_DIR"
	wrapLogEnv  = "NDPB_WRAP_LOG"
)

func isWrapper() bool { return os.Getenv(wrapRealEnv) != "" && os.Getenv(wrapLogEnv) != "" }

func wrapperMain() int {
	name := filepath.Base(os.Args[0])
	real, err := findInPath(os.Getenv(wrapRealEnv), name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench wrapper:", err)
		return 1
	}
	cmd := exec.Command(real, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "bench wrapper:", err)
		return 1
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		line := fmt.Sprintf("%s %s %d %.3f %.3f\n", name, os.Getenv("CNI_COMMAND"), ru.Maxrss, ms(cpu), ms(wall)) // Maxrss: KiB on Linux
		if f, err := os.OpenFile(os.Getenv(wrapLogEnv), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			f.WriteString(line)
			f.Close()
		}
	}
	return code
}

// RunP4 measures the plugin through the wrapper, and announcers with the default count and interval
// and with a short interval.
func RunP4(ctx context.Context, env labEnv, plugin string) (*P4Result, error) {
	progress("P4: peak RSS of the plugin and its announcers, announcer lifetime and descriptors")
	wrapDir, err := wrapPlugins(env.TmpRoot, "ndp-announce", "bridge")
	if err != nil {
		return nil, err
	}
	rssLog := filepath.Join(wrapDir, "rss.log")
	wenv := env
	wenv.BinDirs = wrapDir + ":" + env.BinDirs
	lab, err := NewLab(ctx, wenv)
	if err != nil {
		return nil, err
	}
	defer lab.Close()
	lab.extraEnv = []string{wrapRealEnv + "=" + env.BinDirs, wrapLogEnv + "=" + rssLog}

	res := &P4Result{}
	for _, v := range []p4Variant{{count: 3, interval: 1000, n: 5}, {count: 3, interval: 100, n: 5}} {
		if err := v.measure(ctx, lab, res); err != nil {
			return nil, err
		}
	}
	if err := res.readWrapperLog(rssLog); err != nil {
		return nil, err
	}
	return res, nil
}

// wrapPlugins makes a dir where each named plugin is this binary, which runs the real one and
// logs its rusage (wrapperMain).
func wrapPlugins(tmpRoot string, names ...string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(tmpRoot, "wrap-")
	if err != nil {
		return "", err
	}
	for _, n := range names {
		if err := os.Symlink(self, filepath.Join(dir, n)); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// p4Variant is n announcers watched with one advertiseCount and interval.
type p4Variant struct{ count, interval, n int }

// measure ADDs n containers one after the other and watches each one's announcer until it exits.
func (v p4Variant) measure(ctx context.Context, lab *Lab, res *P4Result) error {
	conf, err := lab.WriteConflist(fmt.Sprintf("c%di%d", v.count, v.interval), SetupNDPA,
		NDPAOptions{AdvertiseCount: v.count, AdvertiseIntervalMs: v.interval})
	if err != nil {
		return err
	}
	for i := 0; i < v.n; i++ {
		name := fmt.Sprintf("c%di%dn%d", v.count, v.interval, i)
		if err := lab.AddContainer(ctx, name); err != nil {
			return err
		}
		if _, err := lab.CNIAdd(ctx, conf, name, ""); err != nil {
			return err
		}
		a, err := watchAnnouncer(ctx, conf.DataDir, time.Duration(v.count)*time.Duration(v.interval)*time.Millisecond+5*time.Second)
		if err != nil {
			return err
		}
		a.Count, a.IntervalMs = v.count, v.interval
		res.Announcers = append(res.Announcers, a)
		if _, err := lab.CNIDel(ctx, name); err != nil {
			return err
		}
		if err := lab.RemoveContainer(ctx, name); err != nil {
			return err
		}
	}
	own, err := announcerDoneMs(conf.LogFile)
	if err != nil {
		return err
	}
	k := len(res.Announcers) - v.n
	for i := 0; i < v.n && i < len(own); i++ {
		res.Announcers[k+i].OwnMs = own[i]
	}
	last := res.Announcers[len(res.Announcers)-1]
	progress("  P4 count %d interval %d ms: announcer lived %s, peak RSS %d KiB, %d fds",
		v.count, v.interval, fmtMs(last.LifetimeMs), last.PeakRSSKB, len(last.FDs))
	return nil
}

// readWrapperLog takes the plugins' peak RSS, CPU and wall time from the wrapper's lines.
func (res *P4Result) readWrapperLog(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("wrapper log: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 5 {
			continue
		}
		kb, _ := strconv.Atoi(f[2])
		cpu, _ := strconv.ParseFloat(f[3], 64)
		wall, _ := strconv.ParseFloat(f[4], 64)
		switch {
		case f[0] == "ndp-announce" && f[1] == "ADD":
			res.PluginADDKB = append(res.PluginADDKB, kb)
			res.PluginADDCPUMs = append(res.PluginADDCPUMs, cpu)
			res.PluginADDWallMs = append(res.PluginADDWallMs, wall)
		case f[0] == "ndp-announce" && f[1] == "DEL":
			res.PluginDELKB = append(res.PluginDELKB, kb)
		case f[0] == "bridge" && f[1] == "ADD":
			res.BridgeADDKB = append(res.BridgeADDKB, kb)
			res.BridgeADDCPUMs = append(res.BridgeADDCPUMs, cpu)
			res.BridgeADDWallMs = append(res.BridgeADDWallMs, wall)
		}
	}
	if len(res.PluginADDKB) == 0 {
		return errors.New("the wrapper recorded no ndp-announce ADD")
	}
	return nil
}

// watchAnnouncer finds the announcer of dataDir and samples it every 2 ms until it exits: VmHWM
// (peak RSS), its descriptors, and its lifetime from its start time in /proc/PID/stat.
func watchAnnouncer(ctx context.Context, dataDir string, limit time.Duration) (P4Announcer, error) {
	var a P4Announcer
	pids := announcerPIDs(dataDir)
	if len(pids) != 1 {
		return a, fmt.Errorf("want one announcer for %s right after ADD, found %d", dataDir, len(pids))
	}
	pid := pids[0]
	started, err := procStartBoottime(pid)
	if err != nil {
		return a, err
	}
	fds := map[string]bool{}
	deadline := time.Now().Add(limit)
	for alive(pid) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return a, fmt.Errorf("announcer %d still running after %v", pid, limit)
		}
		if kb := vmHWM(pid); kb > a.PeakRSSKB {
			a.PeakRSSKB = kb
		}
		if cpu, err := procCPU(pid); err == nil {
			a.CPUMs = cpu
		}
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, e := range ents {
			if t, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())); err == nil {
				fds[e.Name()+" "+describeFD(t, dataDir)] = true
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	a.LifetimeMs = ms(boottime() - started)
	for k := range fds {
		a.FDs = append(a.FDs, k)
	}
	sort.Slice(a.FDs, func(i, j int) bool {
		x, _ := strconv.Atoi(strings.Fields(a.FDs[i])[0])
		y, _ := strconv.Atoi(strings.Fields(a.FDs[j])[0])
		return x < y
	})
	nameSockets(a.FDs)
	return a, nil
}

// nameSockets replaces socket inode numbers (different every run) with "socket #N" in order of
// first appearance, and says when a descriptor is a duplicate of an earlier one.
func nameSockets(fds []string) {
	seen := map[string]string{}
	n := 0
	for i, f := range fds {
		fd, target, _ := strings.Cut(f, " ")
		if !strings.HasPrefix(target, "socket:[") {
			continue
		}
		if first, ok := seen[target]; ok {
			fds[i] = fd + " " + first + " again (a duplicate)"
			continue
		}
		n++
		seen[target] = fmt.Sprintf("socket #%d", n)
		fds[i] = fd + " " + seen[target]
	}
}

// describeFD names a descriptor without the run's temp paths.
func describeFD(target, dataDir string) string {
	switch {
	case strings.HasPrefix(target, dataDir):
		return "state file (locked)"
	case strings.HasSuffix(target, ".log"):
		return "log file"
	}
	return target
}

func vmHWM(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, _ := strconv.Atoi(f[1])
				return kb
			}
		}
	}
	return 0
}

// procCPU is a process's CPU time so far in ms, all threads, from the scheduler's ns counters (the
// first field of /proc/PID/task/TID/schedstat); stat's utime and stime only count 10 ms ticks.
func procCPU(pid int) (float64, error) {
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil || len(files) == 0 {
		return 0, fmt.Errorf("no schedstat for %d", pid)
	}
	var total int64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // a thread that just exited
		}
		if fs := strings.Fields(string(b)); len(fs) > 0 {
			ns, _ := strconv.ParseInt(fs[0], 10, 64)
			total += ns
		}
	}
	return float64(total) / 1e6, nil
}

// procStat: the fields of /proc/PID/stat after the command name, so f[0] is field 3 (state).
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 > len(b) {
		return nil, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 20 {
		return nil, fmt.Errorf("short /proc/%d/stat", pid)
	}
	return f, nil
}

// procStartBoottime is when a process started, on the CLOCK_BOOTTIME scale (ticks of 1/100 s).
func procStartBoottime(pid int) (time.Duration, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	ticks, err := strconv.ParseInt(f[19], 10, 64) // field 22 of stat
	if err != nil {
		return 0, err
	}
	return time.Duration(ticks) * 10 * time.Millisecond, nil // USER_HZ is 100 on Linux
}

func boottime() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return time.Duration(ts.Nano())
}

func announcerDoneMs(logFile string) ([]float64, error) {
	b, err := os.ReadFile(logFile)
	if err != nil {
		return nil, err
	}
	var out []float64
	for _, l := range bytes.Split(b, []byte("\n")) {
		var m struct {
			Msg string  `json:"msg"`
			Ms  float64 `json:"ms"`
		}
		if json.Unmarshal(l, &m) == nil && m.Msg == "announcer done" {
			out = append(out, m.Ms)
		}
	}
	return out, nil
}
