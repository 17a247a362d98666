package announcer

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// plantVictim puts a file outside dataDir that a symlink in it points at, and returns its path; the
// returned check fails the test if the victim's content or mode changed.
func plantVictim(t *testing.T) (string, func()) {
	t.Helper()
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return victim, func() {
		t.Helper()
		b, err := os.ReadFile(victim)
		fi, serr := os.Stat(victim)
		if err != nil || serr != nil || string(b) != "precious\n" || fi.Mode().Perm() != 0o644 {
			t.Errorf("victim changed: %q %v %v %v", b, fi.Mode(), err, serr)
		}
	}
}

// A symlink at a state file's name, dangling or not, is never followed: ADD does not create,
// truncate or write its target, DEL and GC do not delete it.
func TestStateNeverFollowsASymlink(t *testing.T) {
	d := testDir(t)
	dangling := filepath.Join(t.TempDir(), "dangling")
	if err := os.Symlink(dangling, d.name(testName)); err != nil {
		t.Fatal(err)
	}
	if f, err := d.create(testName); err == nil || !errors.Is(err, errNotOurs) {
		t.Errorf("create through a dangling link: %v, %v", f, err)
	}
	if _, err := os.Lstat(dangling); !os.IsNotExist(err) {
		t.Errorf("the link's target was created: %v", err)
	}

	victim, unchanged := plantVictim(t)
	os.Remove(d.name(testName))
	if err := os.Symlink(victim, d.name(testName)); err != nil {
		t.Fatal(err)
	}
	if f, err := d.create(testName); err == nil {
		f.Close()
		t.Error("create through a link to a file succeeded")
	}
	if err := d.stop(testName, StopWait); err != nil {
		t.Errorf("stop: %v", err)
	}
	if _, err := GC(d.path, testKey.Network, func(string, string) bool { return false }); err != nil {
		t.Errorf("GC: %v", err)
	}
	unchanged()
	if fi, err := os.Lstat(d.name(testName)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the planted link was removed or replaced: %v %v", fi, err)
	}
}

// An announcer removes its state file on exit only if the name still names it: not a link
// swapped in meanwhile.
func TestRemoveOnlyTheFileHeld(t *testing.T) {
	d := testDir(t)
	f, err := d.create(testName)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	victim, unchanged := plantVictim(t)
	os.Remove(d.name(testName))
	if err := os.Symlink(victim, d.name(testName)); err != nil {
		t.Fatal(err)
	}
	if err := d.remove(testName, f); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(d.name(testName)); err != nil {
		t.Errorf("the swapped-in link was removed: %v", err)
	}
	unchanged()
}

// A dataDir that is a symlink, or that others may write to, is refused: whoever can write there
// could plant links or records for us to act on.
func TestDataDirRefused(t *testing.T) {
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := EnsureDataDir(link); !errors.Is(err, errUnsafeDataDir) {
		t.Errorf("symlink dataDir: %v", err)
	}
	for _, mode := range []os.FileMode{0o777, 0o770, 0o702, 0o707} {
		dir := filepath.Join(t.TempDir(), "d")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		if err := EnsureDataDir(dir); !errors.Is(err, errUnsafeDataDir) {
			t.Errorf("dataDir mode %v: %v", mode, err)
		}
		if _, err := GC(dir, "net", func(string, string) bool { return false }); !errors.Is(err, errUnsafeDataDir) {
			t.Errorf("GC in dataDir mode %v: %v", mode, err)
		}
	}
	if err := EnsureDataDir(filepath.Join(t.TempDir(), "new", "state")); err != nil {
		t.Errorf("a new dataDir: %v", err)
	}
}

// GC removes only files that are ndp-announce state by name and content: not other programs'
// files, not a record whose key does not hash to its name, not an empty or unreadable file.
func TestGCRemovesOnlyItsOwn(t *testing.T) {
	d := testDir(t)
	ours := Record{Key: Key{Network: "net", ContainerID: "gone", IfName: "eth0"}}
	foreign := Record{Key: Key{Network: "net", ContainerID: "other", IfName: "eth0"}}
	write := func(name string, v any) {
		t.Helper()
		b, _ := json.Marshal(v)
		if v == nil {
			b = nil
		}
		if err := os.WriteFile(d.name(name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(stateName(ours.Key), ours)
	write("10-other.json", foreign)
	write("notes.json", map[string]string{"note": "mine"})
	write(stateName(Key{Network: "net", ContainerID: "x", IfName: "eth0"}), foreign) // name and content disagree
	write(stateName(Key{Network: "net", ContainerID: "y", IfName: "eth0"}), nil)     // empty
	write("0123456789abcdef01234567.json", "not a record")
	res, err := GC(d.path, "net", func(string, string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(d.path)
	if res.Removed != 1 || len(entries) != 5 {
		t.Errorf("GC removed %d, left %d files, want 1 and 5", res.Removed, len(entries))
	}
	if _, err := os.Stat(d.name(stateName(ours.Key))); !os.IsNotExist(err) {
		t.Errorf("our stale record is still there: %v", err)
	}
}
