package lab

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// start runs argv, which ends up exec'ing sleep, in netns path and reaps
// it in the background; done closes once it has exited.
func start(t *testing.T, path string, argv ...string) (pid int, done <-chan struct{}) {
	t.Helper()
	cmd := exec.Command("nsenter", append([]string{"--net=" + path, "--"}, argv...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{})
	go func() { cmd.Wait(); close(ch) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-ch })
	// Until nsenter has entered the netns and argv has exec'd sleep (after
	// setting its traps), the process is neither in the netns nor named for
	// what it runs.
	want, err := nsLink(path)
	if err != nil {
		t.Fatal(err)
	}
	pid = cmd.Process.Pid
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		link, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		if link == want && strings.HasPrefix(cmdline(pid), "sleep ") {
			return pid, ch
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %d never ran %q in %s", pid, argv, path)
		}
	}
}

func exited(done <-chan struct{}, within time.Duration) bool {
	select {
	case <-done:
		return true
	case <-time.After(within):
		return false
	}
}

func TestStopStragglers(t *testing.T) {
	l := ForTest(t, Options{Tag: "ndpt"})
	ours, err := l.AddContainer("ours")
	if err != nil {
		t.Fatal(err)
	}
	polite, politeDone := start(t, ours.Path, "sleep", "600")
	// SIGTERM ignored (and so by the exec'd sleep too): only SIGKILL stops it.
	stubborn, stubbornDone := start(t, ours.Path, "sh", "-c", `trap "" TERM; exec sleep 601`)
	_, bystanderDone := start(t, l.Host.Path, "sleep", "602")

	found := StopStragglers([]string{ours.Path, RunDir + "/does-not-exist"}, 200*time.Millisecond)

	got := strings.Join(found, "\n")
	if len(found) != 2 || !strings.Contains(got, "(sleep 600) in "+ours.Path) || !strings.Contains(got, "(sleep 601)") {
		t.Errorf("found %q, want the two sleeps in %s", found, ours.Path)
	}
	for _, p := range []struct {
		pid  int
		done <-chan struct{}
	}{{polite, politeDone}, {stubborn, stubbornDone}} {
		if !exited(p.done, 5*time.Second) {
			t.Errorf("pid %d in our netns still runs", p.pid)
		}
	}
	if exited(bystanderDone, 300*time.Millisecond) {
		t.Error("the process in another netns was stopped")
	}
	if again := StopStragglers([]string{ours.Path}, time.Second); len(again) != 0 {
		t.Errorf("second call found %q, want nothing", again)
	}
	// The one in the host netns is the lab's to stop at Close, and its error.
	if err := l.Close(); err == nil || !strings.Contains(err.Error(), "(sleep 602)") {
		t.Errorf("Close = %v, want the sleep left in the host netns named", err)
	}
	if !exited(bystanderDone, 5*time.Second) {
		t.Error("Close left the host netns's process running")
	}
}
