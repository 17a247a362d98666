package daemon

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ndp-announce/ndp-announce/internal/nstest"
	"github.com/ndp-announce/ndp-announce/pkg/announcer"
	"github.com/ndp-announce/ndp-announce/pkg/handoff"
)

const gauge = "ndp_announce_background_attachments"

// The service sends the remaining rounds on the wire, an interval apart, counts them, and lets
// go of the attachment after the last one.
func TestRoundsOnTheWire(t *testing.T) {
	l := newLab(t)
	d, c := startDaemon(t, Options{})
	const interval = 200 * time.Millisecond
	start := time.Now()
	if _, err := c.Do(l.announce("c1", 2, interval), l.sockets(t)); err != nil {
		t.Fatalf("hand-off: %v", err)
	}
	var seen []time.Time
	for len(seen) < 2 {
		select {
		case at := <-l.frames:
			seen = append(seen, at)
		case <-time.After(10 * time.Second):
			t.Fatalf("saw %d of 2 background rounds", len(seen))
		}
	}
	if first := seen[0].Sub(start); first < interval-20*time.Millisecond {
		t.Errorf("round 2 after %v, want an interval (%v) after the hand-off", first, interval)
	}
	if gap := seen[1].Sub(seen[0]); gap < interval-20*time.Millisecond {
		t.Errorf("rounds %v apart, want at least %v", gap, interval)
	}
	eventually(t, "the job to end", func() bool { return metric(t, d, gauge) == 0 })
	select {
	case <-l.frames:
		t.Error("a frame after the last round")
	case <-time.After(2 * interval):
	}
	for series, want := range map[string]float64{
		`ndp_announce_frames_sent_total{kind="arp",round="background"}`:      2,
		`ndp_announce_frames_sent_total{kind="arp",round="first"}`:           1,
		`ndp_announce_frames_sent_total{kind="na",round="background"}`:       0,
		`ndp_announce_send_errors_total{kind="arp"}`:                         0,
		`ndp_announce_handoffs_total{result="accepted"}`:                     1,
		`ndp_announce_handoffs_total{result="fallback"}`:                     0,
		`ndp_announce_add_duration_seconds_count`:                            1,
		`ndp_announce_wait_seconds_count{condition="link_up",outcome="met"}`: 1,
		`ndp_announce_wait_seconds_count{condition="dad",outcome="timeout"}`: 0,
	} {
		if got := metric(t, d, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}

// DEL stops the rounds at once: the reply comes within DEL's budget and no round follows.
func TestStopMidRounds(t *testing.T) {
	l := newLab(t)
	d, c := startDaemon(t, Options{})
	const interval = 500 * time.Millisecond
	if _, err := c.Do(l.announce("c1", 2, interval), l.sockets(t)); err != nil {
		t.Fatal(err)
	}
	if got := metric(t, d, gauge); got != 1 {
		t.Fatalf("%s = %v after a hand-off, want 1", gauge, got)
	}
	start := time.Now()
	rep, err := c.Do(&handoff.Request{Kind: handoff.KindStop, Stop: &announcer.Key{Network: "lab", ContainerID: "c1", IfName: "a"}}, nil)
	if err != nil || rep.Stopped != 1 {
		t.Fatalf("stop: %+v, %v; want one attachment stopped", rep, err)
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("stop took %v; DEL must return within 100 ms", took)
	}
	if got := metric(t, d, gauge); got != 0 {
		t.Errorf("%s = %v after stop, want 0", gauge, got)
	}
	select {
	case <-l.frames:
		t.Error("a round was sent after stop")
	case <-time.After(2 * interval):
	}
	// DEL is idempotent: a second stop finds nothing and succeeds.
	rep, err = c.Do(&handoff.Request{Kind: handoff.KindStop, Stop: &announcer.Key{Network: "lab", ContainerID: "c1", IfName: "a"}}, nil)
	if err != nil || rep.Stopped != 0 {
		t.Errorf("second stop: %+v, %v; want ok, nothing stopped", rep, err)
	}
}

// A repeated ADD replaces the attachment's job; GC stops only the network's invalid ones.
func TestReplaceAndGC(t *testing.T) {
	l := newLab(t)
	d, c := startDaemon(t, Options{})
	for _, id := range []string{"c1", "c1", "c2", "c3"} {
		if _, err := c.Do(l.announce(id, 2, 2*time.Second), l.sockets(t)); err != nil {
			t.Fatal(err)
		}
	}
	other := l.announce("c4", 2, 2*time.Second)
	other.Announce.Key.Network = "other"
	if _, err := c.Do(other, l.sockets(t)); err != nil {
		t.Fatal(err)
	}
	if got := metric(t, d, gauge); got != 4 {
		t.Fatalf("%s = %v, want 4 (c1 replaced, not doubled)", gauge, got)
	}
	rep, err := c.Do(&handoff.Request{Kind: handoff.KindGC, GC: &handoff.GC{Network: "lab",
		Valid: []handoff.ValidAtt{{ContainerID: "c1", IfName: "a"}}}}, nil)
	if err != nil || rep.Stopped != 2 {
		t.Fatalf("gc: %+v, %v; want c2 and c3 stopped", rep, err)
	}
	if got := metric(t, d, gauge); got != 2 {
		t.Errorf("%s = %v after GC, want 2 (lab/c1 and other/c4)", gauge, got)
	}
}

// The service stops a job whose netns is deleted before its next round, without sending it.
func TestNetNSGone(t *testing.T) {
	l := newLab(t)
	d, c := startDaemon(t, Options{})
	if _, err := c.Do(l.announce("c1", 2, 300*time.Millisecond), l.sockets(t)); err != nil {
		t.Fatal(err)
	}
	// What a runtime does on sandbox removal.
	l.ns.Close()
	if err := unix.Unmount(l.ns.Path(), unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(l.ns.Path()); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the job to end", func() bool { return metric(t, d, gauge) == 0 })
	select {
	case <-l.frames:
		t.Error("a round was sent into a deleted netns")
	default:
	}
}

// The limits hold: beyond MaxAttachments a hand-off is refused (ADD falls back) and nothing leaks.
func TestAttachmentLimit(t *testing.T) {
	l := newLab(t)
	d, c := startDaemon(t, Options{MaxAttachments: 1})
	if _, err := c.Do(l.announce("c1", 2, 2*time.Second), l.sockets(t)); err != nil {
		t.Fatal(err)
	}
	_, err := c.Do(l.announce("c2", 2, 2*time.Second), l.sockets(t))
	if !errors.Is(err, handoff.ErrRefused) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("second hand-off: %v, want refused at the limit", err)
	}
	// Replacing the one attachment is not a new one.
	if _, err := c.Do(l.announce("c1", 2, 2*time.Second), l.sockets(t)); err != nil {
		t.Errorf("replacing at the limit: %v", err)
	}
	if got := metric(t, d, gauge); got != 1 {
		t.Errorf("%s = %v, want 1", gauge, got)
	}
}

// Garbage, oversized and wrong-version messages, and sockets that are not sockets, are refused;
// the service keeps serving and holds none of the descriptors it was sent.
func TestRefusesMalformed(t *testing.T) {
	l := newLab(t)
	d, c := startDaemon(t, Options{})
	bad := l.announce("c1", 2, time.Second)
	for _, msg := range [][]byte{
		[]byte("garbage"),
		append([]byte(`{"v":1,"kind":"stop","pad":"`), make([]byte, handoff.MaxMessageSize+10)...),
		[]byte(`{"v":99,"kind":"announce"}`),
		[]byte(`{"v":1,"kind":"stop","stop":{"network":"","containerID":"c","ifName":"e"}}`),
	} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		rep := rawExchange(t, d.SocketPath(), msg, w)
		if rep == nil || rep.OK || rep.Error == "" {
			t.Errorf("message %.40q: reply %+v, want a refusal with a reason", msg, rep)
		}
		expectReleased(t, r, w)
	}
	// Pipes passed as the ARP socket: refused when adopted.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(bad, []*os.File{w}); !errors.Is(err, handoff.ErrRefused) || !strings.Contains(err.Error(), "sockets") {
		t.Errorf("pipe as a socket: %v, want refused naming the sockets", err)
	}
	expectReleased(t, r, w)
	if got := metric(t, d, gauge); got != 0 {
		t.Errorf("%s = %v after refusals, want 0", gauge, got)
	}
	// Still serving.
	if _, err := c.Do(l.announce("c2", 2, time.Second), l.sockets(t)); err != nil {
		t.Errorf("after the refusals: %v", err)
	}
}

// rawExchange sends msg (with files) as is and returns the decoded reply, nil if none.
func rawExchange(t *testing.T, path string, msg []byte, files ...*os.File) *handoff.Reply {
	t.Helper()
	conn, err := net.Dial("unixpacket", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	uc := conn.(*net.UnixConn)
	uc.SetDeadline(time.Now().Add(5 * time.Second))
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	if _, _, err := uc.WriteMsgUnix(msg, syscall.UnixRights(fds...), nil); err != nil {
		t.Fatal(err)
	}
	rep, err := handoff.ReadReply(uc)
	if err != nil {
		return nil
	}
	return rep
}

func expectReleased(t *testing.T, r, w *os.File) {
	t.Helper()
	w.Close()
	defer r.Close()
	r.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.Read(make([]byte, 1)); err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Errorf("the service still holds a refused descriptor (%v)", err)
	}
}

// A stale socket is replaced, a live service is not displaced, and a stop removes the socket.
func TestSocketTakeover(t *testing.T) {
	nstest.RequireRoot(t)
	dir := t.TempDir()
	path := filepath.Join(dir, handoff.SocketName)
	stale, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()

	d, err := New(Options{DataDir: dir})
	if err != nil {
		t.Fatalf("a stale socket was not replaced: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if _, err := New(Options{DataDir: dir}); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second service: %v, want ErrAlreadyRunning", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after stop: %v", err)
	}

	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, handoff.SocketName), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{DataDir: other}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("a regular file at the socket path: %v, want a refusal", err)
	}
	loose := t.TempDir()
	os.Chmod(loose, 0o777)
	if _, err := New(Options{DataDir: loose}); err == nil || !strings.Contains(err.Error(), "writable") {
		t.Errorf("a world-writable data dir: %v, want a refusal", err)
	}
}

// A flood of silent connections cannot take the service: beyond MaxConnections they are closed
// at once, and a slot frees itself after connTimeout.
func TestConnectionLimit(t *testing.T) {
	nstest.RequireRoot(t)
	_, c := startDaemon(t, Options{MaxConnections: 2})
	for range 2 {
		conn, err := net.Dial("unixpacket", c.Path)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
	}
	time.Sleep(50 * time.Millisecond) // let the service accept both
	fast := &handoff.Client{Path: c.Path, Timeout: time.Second}
	start := time.Now()
	_, err := fast.Do(&handoff.Request{Kind: handoff.KindStop, Stop: &announcer.Key{Network: "n", ContainerID: "c", IfName: "e"}}, nil)
	if err == nil {
		t.Fatal("a third connection was served beyond the limit of 2")
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("refused after %v: the client should learn at once, not at its bound", took)
	}
	eventually(t, "a slot to free up after the silent clients' deadline", func() bool {
		_, err := fast.Do(&handoff.Request{Kind: handoff.KindStop, Stop: &announcer.Key{Network: "n", ContainerID: "c", IfName: "e"}}, nil)
		return err == nil
	})
}

// An address removed from the interface after ADD is not announced again: the service's rounds
// re-read the interface's addresses through its sockets' netns (announcer.Job.Run) and stop when
// none is left.
func TestRoundsDropRemovedAddresses(t *testing.T) {
	l := newLab(t)
	d, c := startDaemon(t, Options{})
	if _, err := c.Do(l.announce("c1", 2, 300*time.Millisecond), l.sockets(t)); err != nil {
		t.Fatal(err)
	}
	h := nstest.Handle(t, l.ns)
	link, err := h.LinkByName("a")
	if err != nil {
		t.Fatal(err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: labAddr.AsSlice(), Mask: net.CIDRMask(24, 32)}}
	if err := h.AddrDel(link, addr); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the job to end", func() bool { return metric(t, d, gauge) == 0 })
	select {
	case <-l.frames:
		t.Error("an address removed after ADD was announced by the service")
	default:
	}
}
