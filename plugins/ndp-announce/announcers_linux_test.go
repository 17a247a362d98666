package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/plugins/pkg/testutils"
	"golang.org/x/sys/unix"

	"github.com/ndp-announce/ndp-announce/pkg/announcer"
)

// ADD's background announcer is a child of this test process (announcer.Start re-executes the test
// binary, see TestMain). Nothing else here leaves children: libcni waits for the plugins it runs.
// The helpers below find those children, wait for them and reap them, so a test can say that a
// command stopped an announcer (it exited) or that one kept running, and no test leaves one behind.

// announcerChildren are the PIDs of this process's unreaped children, running or exited.
func announcerChildren(t *testing.T) []int {
	t.Helper()
	return childPIDs()
}

func childPIDs() []int {
	self := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parentOf(pid); ok && ppid == self {
			pids = append(pids, pid)
		}
	}
	return pids
}

// parentOf reads the PPID from /proc/PID/stat; the command name before it may hold spaces and
// parentheses, so the fields are counted from the last ')'.
func parentOf(pid int) (int, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(fields[1])
	return ppid, err == nil
}

// isAnnouncer says whether pid runs the announcer subcommand (false once it exited: a zombie has
// no command line).
func isAnnouncer(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	return len(args) > 1 && args[1] == announcer.Subcommand
}

// waitExit waits up to d for child pid to exit and reaps it; false if it still runs.
func waitExit(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if got == pid || err == unix.ECHILD {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runningAnnouncers are the announcer children still running (exited ones are reaped).
func runningAnnouncers(t *testing.T) []int {
	t.Helper()
	var running []int
	for _, pid := range announcerChildren(t) {
		if !waitExit(pid, 0) {
			running = append(running, pid)
		}
	}
	return running
}

// requireAnnouncersExit fails the test unless every announcer child exits within d.
func requireAnnouncersExit(t *testing.T, d time.Duration, why string) {
	t.Helper()
	for _, pid := range announcerChildren(t) {
		if !waitExit(pid, d) {
			t.Errorf("announcer %d still runs %v after %s", pid, d, why)
		}
	}
}

// reapAnnouncers is each bed's last cleanup: announcers that outlive the test are waited for (the
// longest job, 3 rounds 2 s apart, ends by itself in 4 s), then killed, and the test fails.
func reapAnnouncers(t *testing.T, d time.Duration) {
	t.Helper()
	for _, pid := range announcerChildren(t) {
		if waitExit(pid, d) {
			continue
		}
		t.Errorf("announcer %d still ran %v after the test ended: killed", pid, d)
		_ = unix.Kill(pid, unix.SIGKILL)
		waitExit(pid, 5*time.Second)
	}
}

// longRounds are the config fields of the longest background job: rounds 2 and 3 two and four
// seconds after ADD, so an announcer that a command failed to stop is still running long after.
func longRounds() map[string]any {
	return map[string]any{"advertiseCount": 3, "advertiseIntervalMs": 2000}
}

// addRunning runs ADD with conf, which must leave one announcer running, and returns its PID.
func (a *attachment) addRunning(t *testing.T, conf []byte) int {
	t.Helper()
	if _, err := a.add(t, conf); err != nil {
		t.Fatalf("ADD: %v", err)
	}
	running := runningAnnouncers(t)
	if len(running) != 1 || !isAnnouncer(running[0]) {
		t.Fatalf("after ADD of a background job the running announcers are %v, want one", running)
	}
	return running[0]
}

// requireDelStops runs DEL with args, which must stop announcer pid at once and remove all state.
func requireDelStops(t *testing.T, args *skel.CmdArgs, pid int, dataDir string) {
	t.Helper()
	if err := testutils.CmdDelWithArgs(args, func() error { return cmdDel(args) }); err != nil {
		t.Fatalf("DEL: %v", err)
	}
	if !waitExit(pid, time.Second) {
		t.Errorf("announcer %d still runs a second after DEL", pid)
	}
	requireNoState(t, dataDir, "DEL")
}

// requireNoState: no announcer state file is left in dataDir after what.
func requireNoState(t *testing.T, dataDir, what string) {
	t.Helper()
	if files := stateFiles(t, dataDir); len(files) > 0 {
		t.Errorf("state files left after %s: %v", what, files)
	}
}

// stateFiles are the announcer state files in dir.
func stateFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
