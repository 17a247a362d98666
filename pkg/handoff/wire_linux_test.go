package handoff

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ndp-announce/ndp-announce/pkg/announcer"
)

var stopKey = &announcer.Key{Network: "n", ContainerID: "c", IfName: "e"}

// seqpacketPair is a connected SOCK_SEQPACKET pair, as the service's socket gives.
func seqpacketPair(t *testing.T) (a, b *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "seqpacket")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}

func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// The receiver gets working descriptors: what it writes into them comes out of our pipes.
func TestPassFiles(t *testing.T) {
	a, b := seqpacketPair(t)
	r1, w1 := pipe(t)
	r2, w2 := pipe(t)
	req := validAnnounce()
	if err := WriteRequest(a, req, []*os.File{w1, w2}); err != nil {
		t.Fatal(err)
	}
	got, files, err := ReadRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Announce.Key != req.Announce.Key || len(files) != 2 {
		t.Fatalf("got %+v with %d files", got.Announce.Key, len(files))
	}
	for i, r := range []*os.File{r1, r2} {
		msg := []byte{'a' + byte(i)}
		if _, err := files[i].Write(msg); err != nil {
			t.Fatalf("write through passed fd %d: %v", i, err)
		}
		buf := make([]byte, 1)
		if _, err := io.ReadFull(r, buf); err != nil || buf[0] != msg[0] {
			t.Fatalf("pipe %d read %q, %v; want %q: files out of order?", i, buf, err, msg)
		}
		if flags, err := unix.FcntlInt(files[i].Fd(), unix.F_GETFD, 0); err != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("passed fd %d is not close-on-exec (flags %d, %v): a fork would leak it", i, flags, err)
		}
	}
	closeAll(files)
}

// A real AF_PACKET socket survives the trip as the same kind of socket.
func TestPassPacketSocket(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to open a packet socket")
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	sock := os.NewFile(uintptr(fd), "arp")
	defer sock.Close()
	a, b := seqpacketPair(t)
	req := validAnnounce()
	req.Files = []FileRole{FileARP}
	if err := WriteRequest(a, req, []*os.File{sock}); err != nil {
		t.Fatal(err)
	}
	_, files, err := ReadRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(files)
	dom, err := unix.GetsockoptInt(int(files[0].Fd()), unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil || dom != unix.AF_PACKET {
		t.Errorf("received socket domain %d, %v; want AF_PACKET", dom, err)
	}
}

// sendRaw sends b with fds as one message, bypassing WriteRequest's checks.
func sendRaw(t *testing.T, c *net.UnixConn, b []byte, files ...*os.File) {
	t.Helper()
	if _, _, err := c.WriteMsgUnix(b, rights(files), nil); err != nil {
		t.Fatal(err)
	}
}

// assertReleased checks that nobody holds w's pipe open but us: once we close w, r sees EOF.
func assertReleased(t *testing.T, r, w *os.File) {
	t.Helper()
	w.Close()
	r.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := r.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("pipe still held open after a refused message (read %d, %v): a descriptor leaked", n, err)
	}
}

// Refused messages close every descriptor they carried, and say why.
func TestReadRequestRefuses(t *testing.T) {
	stop := []byte(`{"v":1,"kind":"stop","stop":{"network":"n","containerID":"c","ifName":"e"}}`)
	two := mustEncode(t, validAnnounce())
	for _, tc := range []struct {
		name  string
		msg   []byte
		files int
		want  string
	}{
		{"too many descriptors", two, MaxFiles + 3, "descriptors"},
		{"fewer descriptors than named", two, 1, "names 2 files and carries 1"},
		{"descriptors not named", stop, 1, "names 0 files and carries 1"},
		{"oversized", append([]byte(`{"v":1,"pad":"`), make([]byte, MaxMessageSize)...), 1, "larger than"},
		{"garbage", []byte("\x00\x01garbage"), 2, "not a JSON object"},
		{"wrong version", []byte(`{"v":99,"kind":"announce"}`), 2, "unsupported protocol version 99"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := seqpacketPair(t)
			var files []*os.File
			var reads []*os.File
			for range tc.files {
				r, w := pipe(t)
				files, reads = append(files, w), append(reads, r)
			}
			sendRaw(t, a, tc.msg, files...)
			req, got, err := ReadRequest(b)
			if err == nil {
				closeAll(got)
				t.Fatalf("accepted %+v", req)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			for i := range files {
				assertReleased(t, reads[i], files[i])
			}
		})
	}
}

// listenAt is a service socket that accepts and never answers (answer nil) or answers with answer.
func listenAt(t *testing.T, answer *Reply, accept bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), SocketName)
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if !accept {
		return path
	}
	go func() {
		for {
			c, err := l.AcceptUnix()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			if answer != nil {
				if _, _, err := ReadRequest(c); err == nil {
					WriteReply(c, answer)
				}
			}
		}
	}()
	return path
}

// A silent or slow service costs the client its bound, not more.
func TestClientGivesUpWithinBound(t *testing.T) {
	const bound = 30 * time.Millisecond
	for _, tc := range []struct {
		name   string
		accept bool
	}{{"never accepts", false}, {"accepts and says nothing", true}} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Client{Path: listenAt(t, nil, tc.accept), Timeout: bound}
			start := time.Now()
			_, err := c.Do(&Request{Kind: KindStop, Stop: stopKey}, nil)
			took := time.Since(start)
			if !errors.Is(err, ErrTimeout) {
				t.Errorf("error %v, want ErrTimeout", err)
			}
			// Generous for a loaded machine, yet far below what ADD must never wait (seconds).
			if took < bound || took > bound+250*time.Millisecond {
				t.Errorf("gave up after %v, want about %v", took, bound)
			}
		})
	}
}

func TestClientNoService(t *testing.T) {
	dir := t.TempDir()
	missing := &Client{Path: filepath.Join(dir, SocketName)}
	if _, err := missing.Do(&Request{Kind: KindStop, Stop: stopKey}, nil); !errors.Is(err, ErrNoService) {
		t.Errorf("no socket: error %v, want ErrNoService", err)
	}
	// A socket a crashed service left behind: the file exists, nobody listens.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: stale, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	c := &Client{Path: stale}
	start := time.Now()
	if _, err := c.Do(&Request{Kind: KindStop, Stop: stopKey}, nil); !errors.Is(err, ErrNoService) {
		t.Errorf("stale socket: error %v, want ErrNoService", err)
	}
	if took := time.Since(start); took > DefaultTimeout {
		t.Errorf("stale socket took %v to refuse; a refused connect is immediate", took)
	}
}

func TestClientRefused(t *testing.T) {
	c := &Client{Path: listenAt(t, &Reply{Error: "at its limit"}, true), Timeout: time.Second}
	_, err := c.Do(&Request{Kind: KindStop, Stop: stopKey}, nil)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "at its limit") {
		t.Errorf("error %v, want ErrRefused with the service's reason", err)
	}
	ok := &Client{Path: listenAt(t, &Reply{OK: true, Stopped: 1}, true), Timeout: time.Second}
	rep, err := ok.Do(&Request{Kind: KindStop, Stop: stopKey}, nil)
	if err != nil || rep.Stopped != 1 {
		t.Errorf("reply %+v, %v; want ok with stopped 1", rep, err)
	}
}
