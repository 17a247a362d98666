package daemon

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ndp-announce/ndp-announce/pkg/handoff"
)

// ErrAlreadyRunning is another service serving the same dataDir.
var ErrAlreadyRunning = errors.New("another ndp-announce service is running")

// socket is the service's listening socket with the lock that makes it ours.
type socket struct {
	*net.UnixListener
	path string
	lock *os.File
	ino  uint64
}

// listen prepares dataDir and listens on its announcer.sock. A socket a crashed service left
// behind (nobody answers a connect) is replaced; a live one is never stolen. The flock on
// announcer.sock.lock closes the race of two services starting at once.
func listen(dataDir string) (*socket, error) {
	if err := ensureDir(dataDir); err != nil {
		return nil, err
	}
	path := filepath.Join(dataDir, handoff.SocketName)
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s.lock: %w", path, err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("%w on %s (it holds %s.lock)", ErrAlreadyRunning, path, path)
	}
	s, err := bindReplacingStale(path)
	if err != nil {
		lock.Close()
		return nil, err
	}
	s.lock = lock
	return s, nil
}

func bindReplacingStale(path string) (*socket, error) {
	if c, err := net.DialTimeout("unixpacket", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("%w: %s answers", ErrAlreadyRunning, path)
	} else if fi, serr := os.Lstat(path); serr == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket: refusing to replace it", path)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("cannot tell whether %s is stale: %w", path, err)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket %s: %w", path, err)
		}
	}
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	// We remove the file ourselves, and only if it is still ours.
	l.SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("chmod %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		l.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	return &socket{UnixListener: l, path: path, ino: st.Ino}, nil
}

// ensureDir creates dataDir 0700, and refuses one that others could write into or that is a
// symlink: the socket and the plugin's state files live there.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data dir %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("data dir %s is not a directory (a symlink?)", dir)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("data dir %s is group- or world-writable (%v)", dir, fi.Mode().Perm())
	}
	return nil
}

// Close stops listening, removes the socket if it is still the one we bound, and lets go of the lock.
func (s *socket) Close() error {
	err := s.UnixListener.Close()
	var st unix.Stat_t
	if unix.Lstat(s.path, &st) == nil && st.Ino == s.ino {
		os.Remove(s.path)
	}
	s.lock.Close()
	return err
}

// peerUID is the user ID of the process at the other end of c.
func peerUID(c *net.UnixConn) (uint32, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var (
		cred *unix.Ucred
		cerr error
	)
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if cerr != nil {
		return 0, cerr
	}
	return cred.Uid, nil
}
