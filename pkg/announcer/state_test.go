package announcer

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var (
	testKey  = Key{Network: "net", ContainerID: "c", IfName: "eth0"}
	testName = stateName(testKey)
)

// testDir is a fresh dataDir, opened.
func testDir(t *testing.T) *stateDir {
	t.Helper()
	d, err := openStateDir(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

// startBystander starts a process that stopPath must never signal.
func startBystander(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return cmd
}

// assertNeverSignalled kills the bystander and checks that our SIGKILL is
// what ended it: a SIGTERM from stopPath would have ended it first, and a
// zero signal (Signal(0)) would still succeed on the unreaped zombie.
func assertNeverSignalled(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill bystander: %v", err)
	}
	_ = cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("bystander ended with %v before our SIGKILL: it was signalled", cmd.ProcessState)
	}
}

// startHolder starts `sleep` holding the locked state file, the way ADD starts an announcer.
func startHolder(t *testing.T, d *stateDir) *exec.Cmd {
	t.Helper()
	f, err := d.create(testName)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("sleep", "30")
	cmd.ExtraFiles = []*os.File{f}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	if err := writeState(f, Record{Key: testKey, PID: cmd.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func TestStopAnnouncerSignalsTheLockHolder(t *testing.T) {
	d := testDir(t)
	path := d.name(testName)
	cmd := startHolder(t, d)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	if err := d.stop(testName, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
			t.Errorf("holder ended with %v, want SIGTERM", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("holder still running after stopAnnouncer")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("state file left behind: %v", err)
	}
}

// A state file whose lock nobody holds names a dead announcer; its PID may now be anybody's and must
// not be signalled.
func TestStopAnnouncerNeverSignalsAStalePID(t *testing.T) {
	d := testDir(t)
	path := d.name(testName)
	bystander := startBystander(t)

	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeState(f, Record{Key: testKey, PID: bystander.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	f.Close()

	if err := d.stop(testName, time.Second); err != nil {
		t.Fatal(err)
	}
	assertNeverSignalled(t, bystander)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("state file left behind: %v", err)
	}
}

func TestStopAnnouncerIdempotent(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		if err := Stop(dir, testKey); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if err := Stop(filepath.Join(dir, "missing-dir"), testKey); err != nil {
		t.Fatalf("missing dataDir: %v", err)
	}
}

func TestStatePathSeparatesAttachments(t *testing.T) {
	key := func(n, c, i string) Key { return Key{Network: n, ContainerID: c, IfName: i} }
	a := StatePath("/d", key("n", "c1", "eth0"))
	for _, other := range []Key{key("n", "c1", "eth1"), key("n", "c2", "eth0"), key("n", "c1e", "th0"), key("m", "c1", "eth0")} {
		if StatePath("/d", other) == a {
			t.Errorf("%+v shares a state file with %+v", other, key("n", "c1", "eth0"))
		}
	}
	if filepath.Dir(StatePath("/d", key("../..", "../../etc", "x/y"))) != "/d" {
		t.Error("state path escapes dataDir")
	}
}

// A record whose PID belongs to another PID namespace is not signalled: the number would name
// some other process here.
func TestStopAnnouncerSkipsAnotherPIDNamespace(t *testing.T) {
	d := testDir(t)
	f, err := d.create(testName)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bystander := startBystander(t)
	if err := writeState(f, Record{Key: testKey, PID: bystander.Process.Pid, PIDNS: 1}); err != nil {
		t.Fatal(err)
	}
	// f (this test) holds the lock, as a live announcer would.
	if err := d.stop(testName, 100*time.Millisecond); err == nil {
		t.Error("stopAnnouncer returned success while the lock is held")
	}
	assertNeverSignalled(t, bystander)
}

// The announcer lets go of its lock (removes and closes its state file) a moment before its process
// is gone; stopPath returns only once it is gone, so nothing of the attachment runs after DEL.
func TestStopPathWaitsForTheAnnouncerToExit(t *testing.T) {
	d := testDir(t)
	f, err := d.create(testName)
	if err != nil {
		t.Fatal(err)
	}
	// On SIGTERM: drop the lock (fd 3), linger 300 ms, exit.
	cmd := exec.Command("sh", "-c", `trap 'exec 3>&-; sleep 0.3; exit 0' TERM; echo ready; while :; do sleep 0.02; done`)
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatalf("holder did not start: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	if err := writeState(f, Record{Key: testKey, PID: cmd.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	pidfd, err := unix.PidfdOpen(cmd.Process.Pid, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pidfd)

	if err := d.stop(testName, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	// A pidfd polls readable once its process has exited.
	if n, _ := unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, 0); n != 1 {
		t.Error("stopPath returned while the announcer was still running")
	}
}
