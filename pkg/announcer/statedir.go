package announcer

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// stateDir is dataDir opened once. Every state file is opened, compared and
// removed relative to its descriptor with O_NOFOLLOW: a symlink planted at a
// file's name, or swapped in while ADD runs, is never followed, so the
// plugin (root) never creates, truncates or deletes a file elsewhere.
type stateDir struct {
	path string
	fd   int
}

// errUnsafeDataDir: dataDir is a symlink, not a directory, or writable by
// others than its owner (who could then plant or swap files in it).
var errUnsafeDataDir = errors.New("dataDir is not safe for announcer state")

// errNotOurs: a name in dataDir that is a symlink or not a regular file, which no announcer of
// ours ever made.
var errNotOurs = errors.New("not a regular file: not announcer state")

// openStateDir opens dataDir, creating it (0700: the files say which PIDs to
// signal) when create is set. A missing dataDir without create is
// os.ErrNotExist. A dataDir that is a symlink, not a directory, not ours or
// group/world writable is refused.
func openStateDir(path string, create bool) (*stateDir, error) {
	if create {
		if err := os.MkdirAll(path, 0o700); err != nil {
			return nil, fmt.Errorf("create dataDir %s: %w", path, err)
		}
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil, fmt.Errorf("open dataDir %s: %w", path, os.ErrNotExist)
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
		return nil, fmt.Errorf("%w: %s is a symlink or not a directory", errUnsafeDataDir, path)
	case err != nil:
		return nil, fmt.Errorf("open dataDir %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("stat dataDir %s: %w", path, err)
	}
	if st.Mode&0o022 != 0 || int(st.Uid) != os.Geteuid() {
		unix.Close(fd)
		return nil, fmt.Errorf("%w: %s is mode %04o, owner %d: want owned by %d and writable by its owner only",
			errUnsafeDataDir, path, st.Mode&0o7777, st.Uid, os.Geteuid())
	}
	return &stateDir{path: path, fd: fd}, nil
}

func (d *stateDir) Close() { unix.Close(d.fd) }

// open opens name in the directory without following a symlink (ELOOP) and
// refuses anything but a regular file (a FIFO does not block: O_NONBLOCK).
func (d *stateDir) open(name string, flags int, perm uint32) (*os.File, error) {
	fd, err := unix.Openat(d.fd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, perm)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%s is a symlink: %w", d.name(name), errNotOurs)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: d.name(name), Err: err}
	}
	f := os.NewFile(uintptr(fd), d.name(name))
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: %w", d.name(name), errNotOurs)
	}
	return f, nil
}

func (d *stateDir) name(name string) string { return d.path + "/" + name }

// same says whether name still names the file f has open (not removed or
// replaced since), without following a symlink there.
func (d *stateDir) same(name string, f *os.File) bool {
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) != nil {
		return false
	}
	if unix.Fstatat(d.fd, name, &b, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// remove unlinks name if it still names f: only the file we hold goes, not
// one a later ADD created at the same name, nor a link swapped in.
func (d *stateDir) remove(name string, f *os.File) error {
	if !d.same(name, f) {
		return nil
	}
	if err := unix.Unlinkat(d.fd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove state file %s: %w", d.name(name), err)
	}
	return nil
}

// probeSize is what ProbeDataDir writes: one page, what a state file takes on tmpfs.
const probeSize = 4096

// ProbeDataDir says whether ADD could keep announcer state in dataDir now:
// it is safe (see openStateDir), and a file can be created there and
// written (a full tmpfs still creates empty files), then removed.
func ProbeDataDir(path string) error {
	d, err := openStateDir(path, true)
	if err != nil {
		return err
	}
	defer d.Close()
	name := fmt.Sprintf(".status-%d", os.Getpid())
	f, err := d.open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create a file in dataDir: %w", err)
	}
	defer f.Close()
	_, err = f.Write(make([]byte, probeSize))
	if rerr := d.remove(name, f); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("write a file in dataDir %s: %w", path, err)
	}
	return nil
}
