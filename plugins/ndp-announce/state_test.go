package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

var testKey = attachmentKey{Network: "net", ContainerID: "c", IfName: "eth0"}

// startHolder starts `sleep` holding the locked state file, the way ADD starts an announcer.
func startHolder(t *testing.T, path string) *exec.Cmd {
	t.Helper()
	f, err := createState(path)
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
	if err := writeState(f, stateRecord{attachmentKey: testKey, PID: cmd.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func TestStopAnnouncerSignalsTheLockHolder(t *testing.T) {
	path := statePath(t.TempDir(), testKey)
	cmd := startHolder(t, path)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	if err := stopAnnouncer(path, 2*time.Second); err != nil {
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
	path := statePath(t.TempDir(), testKey)
	bystander := exec.Command("sleep", "30")
	if err := bystander.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bystander.Process.Kill(); _, _ = bystander.Process.Wait() })

	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeState(f, stateRecord{attachmentKey: testKey, PID: bystander.Process.Pid}); err != nil {
		t.Fatal(err)
	}
	f.Close()

	if err := stopAnnouncer(path, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := bystander.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("bystander with the stale PID was hit: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("state file left behind: %v", err)
	}
}

func TestStopAnnouncerIdempotent(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		if err := stopAnnouncer(statePath(dir, testKey), time.Second); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if err := stopAnnouncer(statePath(filepath.Join(dir, "missing-dir"), testKey), time.Second); err != nil {
		t.Fatalf("missing dataDir: %v", err)
	}
}

func TestStatePathSeparatesAttachments(t *testing.T) {
	key := func(n, c, i string) attachmentKey { return attachmentKey{Network: n, ContainerID: c, IfName: i} }
	a := statePath("/d", key("n", "c1", "eth0"))
	for _, other := range []attachmentKey{key("n", "c1", "eth1"), key("n", "c2", "eth0"), key("n", "c1e", "th0"), key("m", "c1", "eth0")} {
		if statePath("/d", other) == a {
			t.Errorf("%+v shares a state file with %+v", other, key("n", "c1", "eth0"))
		}
	}
	if filepath.Dir(statePath("/d", key("../..", "../../etc", "x/y"))) != "/d" {
		t.Error("state path escapes dataDir")
	}
}

// A record whose PID belongs to another PID namespace is not signalled: the number would name
// some other process here.
func TestStopAnnouncerSkipsAnotherPIDNamespace(t *testing.T) {
	path := statePath(t.TempDir(), testKey)
	f, err := createState(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bystander := exec.Command("sleep", "30")
	if err := bystander.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bystander.Process.Kill(); _, _ = bystander.Process.Wait() })
	if err := writeState(f, stateRecord{attachmentKey: testKey, PID: bystander.Process.Pid, PIDNS: 1}); err != nil {
		t.Fatal(err)
	}
	// f (this test) holds the lock, as a live announcer would.
	if err := stopAnnouncer(path, 100*time.Millisecond); err == nil {
		t.Error("stopAnnouncer returned success while the lock is held")
	}
	if err := bystander.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("process with that PID in our namespace was hit: %v", err)
	}
}
