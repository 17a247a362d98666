package announcer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"golang.org/x/sys/unix"
)

// The background announcer of one attachment owns a state file under dataDir, and holds an exclusive
// flock on it for as long as it runs. The lock, not the PID, says whether it is alive: a PID is only
// signalled through a pidfd opened while the lock was seen held, so a stale or reused PID is never hit.

const stateSuffix = ".json"

// Key names one attachment the way CNI does: the network too, since several networks
// (Multus) may share one dataDir and GC of one must not touch another's.
type Key struct {
	Network     string `json:"network"`
	ContainerID string `json:"containerID"`
	IfName      string `json:"ifName"`
}

// Record is what the state file holds: enough for GC to match attachments and for DEL to signal.
type Record struct {
	Key
	NetNS   string    `json:"netns"`
	PID     int       `json:"pid"`
	PIDNS   uint64    `json:"pidns"` // inode of the PID namespace PID belongs to
	Started time.Time `json:"started"`
}

// StatePath names the file by a hash, so any network, container ID or interface name is a safe file name.
func StatePath(dataDir string, k Key) string {
	return filepath.Join(dataDir, stateName(k))
}

func stateName(k Key) string {
	sum := sha256.Sum256([]byte(k.Network + "\x00" + k.ContainerID + "\x00" + k.IfName))
	return hex.EncodeToString(sum[:12]) + stateSuffix
}

// stateNameRE is every name stateName can give: GC looks at nothing else.
var stateNameRE = regexp.MustCompile(`^[0-9a-f]{24}\.json$`)

// EnsureDataDir creates dataDir (0700: the files say which PIDs to signal) and refuses one that is
// a symlink or that others than its owner may write to (see openStateDir).
func EnsureDataDir(dir string) error {
	d, err := openStateDir(dir, true)
	if err != nil {
		return err
	}
	d.Close()
	return nil
}

// create opens and locks the state file for a new announcer. The locked file is handed to the
// child, which keeps the lock (it is shared by the open file description) after ADD exits.
func (d *stateDir) create(name string) (*os.File, error) {
	for {
		// No O_TRUNC: the file may still be locked by an announcer on its way out; it is truncated
		// once the lock is ours.
		f, err := d.open(name, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create state file: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock state file %s: %w", f.Name(), err)
		}
		if d.same(name, f) {
			return f, nil
		}
		f.Close() // the file we locked was removed meanwhile: lock the one at name now
	}
}

func writeState(f *os.File, rec Record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("write state file %s: %w", f.Name(), err)
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return fmt.Errorf("write state file %s: %w", f.Name(), err)
	}
	return nil
}

// stop stops the announcer that owns name, if one runs, waits for it to let go of the lock
// (bounded), and removes the file. A missing file is success: DEL must be idempotent. So is a
// name that is not a regular file (a planted symlink, say): no announcer of ours owns it, and it
// is left alone.
func (d *stateDir) stop(name string, wait time.Duration) error {
	f, err := d.open(name, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, errNotOurs) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open state file: %w", err)
	}
	defer f.Close()
	if !tryLock(f) {
		pidfd := -1
		defer func() {
			if pidfd >= 0 {
				unix.Close(pidfd)
			}
		}()
		deadline := time.Now().Add(wait)
		for !tryLock(f) {
			// Until the record names a PID (an ADD is starting the announcer right now), read it
			// again each time round.
			if pidfd < 0 {
				if pidfd, err = signalHolder(f); err != nil {
					return err
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("announcer of %s still holds its lock after %v", f.Name(), wait)
			}
			time.Sleep(5 * time.Millisecond)
		}
		// The lock goes with the announcer's last descriptor, a moment before the process itself:
		// wait for it to be gone too, so that once DEL returns nothing of the attachment runs.
		if pidfd >= 0 {
			waitExit(pidfd, time.Until(deadline))
		}
	}
	// We hold the lock: nobody runs for this attachment. The announcer may have removed the file
	// itself, and only the file we locked may go (not one a later ADD created at the same name).
	return d.remove(name, f)
}

func tryLock(f *os.File) bool {
	return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
}

// signalHolder sends SIGTERM to the PID recorded in the locked file. The pidfd is opened first and the
// lock checked again after: if it is still held, its holder is alive, so the PID has not been reused
// and the pidfd refers to the announcer. It returns that pidfd, for waiting on the announcer's exit,
// or -1 when there is none to wait on.
func signalHolder(f *os.File) (int, error) {
	rec, err := readState(f)
	if err != nil || rec.PID <= 0 {
		// An ADD is starting the announcer and has not recorded its PID yet: stop reads it again.
		return -1, nil
	}
	if ours, err := pidNamespace(); err == nil && rec.PIDNS != 0 && rec.PIDNS != ours {
		// The number would name another process here; wait for the announcer to finish instead.
		return -1, nil
	}
	pidfd, err := unix.PidfdOpen(rec.PID, 0)
	switch {
	case errors.Is(err, unix.ESRCH):
		return -1, nil
	case errors.Is(err, unix.ENOSYS):
		// Before Linux 5.3: the lock is still held, so the announcer is alive and owns the PID. Only
		// its exit between this check and the kill could free the number: a window of microseconds.
		if tryLock(f) {
			unix.Flock(int(f.Fd()), unix.LOCK_UN)
			return -1, nil
		}
		if err := unix.Kill(rec.PID, unix.SIGTERM); err != nil && !errors.Is(err, unix.ESRCH) {
			return -1, fmt.Errorf("signal announcer %d: %w", rec.PID, err)
		}
		return -1, nil
	case err != nil:
		return -1, fmt.Errorf("pidfd_open %d: %w", rec.PID, err)
	}
	if tryLock(f) {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		unix.Close(pidfd)
		return -1, nil
	}
	if err := unix.PidfdSendSignal(pidfd, unix.SIGTERM, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		unix.Close(pidfd)
		return -1, fmt.Errorf("signal announcer %d: %w", rec.PID, err)
	}
	return pidfd, nil
}

// waitExit waits, at most d, until the process of pidfd has exited (a pidfd polls readable then).
func waitExit(pidfd int, d time.Duration) {
	deadline := time.Now().Add(d)
	for {
		ms := int(time.Until(deadline).Milliseconds())
		if ms <= 0 {
			return
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}, ms)
		if n != 0 || !errors.Is(err, unix.EINTR) {
			return
		}
	}
}

// pidNamespace is the inode of this process's PID namespace.
func pidNamespace() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// readState reads the record through f, the file we locked, not whatever path names now.
func readState(f *os.File) (Record, error) {
	var rec Record
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<16))
	if err != nil {
		return rec, err
	}
	err = json.Unmarshal(b, &rec)
	return rec, err
}

// listStates returns the state files in the directory with what they say: only files whose name
// stateName gives and whose record is for the key that name is the hash of. Anything else in
// dataDir (another program's file, an unreadable or foreign record) is not ours and is skipped.
func (d *stateDir) listStates() (map[string]Record, error) {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return nil, fmt.Errorf("read dataDir %s: %w", d.path, err)
	}
	out := make(map[string]Record)
	for _, e := range entries {
		if !e.Type().IsRegular() || !stateNameRE.MatchString(e.Name()) {
			continue
		}
		f, err := d.open(e.Name(), os.O_RDONLY, 0)
		if err != nil {
			continue
		}
		rec, err := readState(f)
		f.Close()
		if err != nil || rec.ContainerID == "" || stateName(rec.Key) != e.Name() {
			continue
		}
		out[e.Name()] = rec
	}
	return out, nil
}
