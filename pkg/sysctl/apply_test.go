package sysctl

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
)

const testIf = "eth0.100" // a dot in the name, as VLAN interfaces have

// fakeTree is a /proc/sys/net look-alike in a temp dir that records writes
// and can make chosen writes fail.
type fakeTree struct {
	tree
	writes []string          // "path=value", in order, failed ones included
	fail   map[string]error  // path -> error for every write to it
	failOn map[string]string // path -> value whose write fails (restores then succeed)
}

func newFakeTree(t *testing.T, knobs map[string]string) *fakeTree {
	t.Helper()
	root := t.TempDir()
	for rel, v := range knobs {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := &fakeTree{fail: map[string]error{}, failOn: map[string]string{}}
	f.tree = tree{root: root, writeFile: func(path, value string) error {
		f.writes = append(f.writes, strings.TrimPrefix(path, root+"/")+"="+value)
		if err := f.fail[path]; err != nil {
			return &fs.PathError{Op: "open", Path: path, Err: err}
		}
		if v, ok := f.failOn[path]; ok && v == value {
			return &fs.PathError{Op: "write", Path: path, Err: syscall.EINVAL}
		}
		return writeKnob(path, value)
	}}
	return f
}

func (f *fakeTree) path(rel string) string { return filepath.Join(f.root, rel) }

func (f *fakeTree) read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(f.path(rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustParse(t *testing.T, list ...string) []Entry {
	t.Helper()
	entries, err := ParseList(list)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestApplyWritesOnlyDifferencesInOrder(t *testing.T) {
	f := newFakeTree(t, map[string]string{
		"ipv6/conf/eth0.100/disable_ipv6": "0\n",
		"ipv4/conf/eth0.100/arp_notify":   "1\n",
		"ipv4/neigh/eth0.100/multi":       "4096\t87380\t6291456\n",
		"ipv4/conf/eth0.100/arp_accept":   "0\n",
		"ipv6/conf/eth0/disable_ipv6":     "0\n", // another interface: must not be touched
	})
	entries := mustParse(t,
		"net.ipv6.conf.IFNAME.disable_ipv6=1",
		"net.ipv4.conf.IFNAME.arp_notify=1",               // already 1
		"net.ipv4.neigh.IFNAME.multi=4096  87380 6291456", // same, other whitespace
		"net.ipv4.conf.IFNAME.arp_accept = 1",
	)
	changes, err := f.apply(testIf, entries)
	if err != nil {
		t.Fatal(err)
	}
	wantWrites := []string{
		"ipv6/conf/eth0.100/disable_ipv6=1",
		"ipv4/conf/eth0.100/arp_accept=1",
	}
	if !reflect.DeepEqual(f.writes, wantWrites) {
		t.Errorf("writes = %q, want %q", f.writes, wantWrites)
	}
	want := []Change{
		{Entry: entries[0], Path: f.path("ipv6/conf/eth0.100/disable_ipv6"), Previous: "0", Written: true},
		{Entry: entries[1], Path: f.path("ipv4/conf/eth0.100/arp_notify"), Previous: "1", Written: false},
		{Entry: entries[2], Path: f.path("ipv4/neigh/eth0.100/multi"), Previous: "4096\t87380\t6291456", Written: false},
		{Entry: entries[3], Path: f.path("ipv4/conf/eth0.100/arp_accept"), Previous: "0", Written: true},
	}
	if !reflect.DeepEqual(changes, want) {
		t.Errorf("changes =\n %+v\nwant\n %+v", changes, want)
	}
	if got := f.read(t, "ipv6/conf/eth0.100/disable_ipv6"); got != "1" {
		t.Errorf("disable_ipv6 = %q after apply, want 1", got)
	}
	if got := f.read(t, "ipv6/conf/eth0/disable_ipv6"); got != "0\n" {
		t.Errorf("eth0 (not the target interface) changed to %q", got)
	}
	if err := f.verify(testIf, entries); err != nil {
		t.Errorf("verify after apply: %v", err)
	}
}

// A list that sets the same knob twice ends with the last value, and each
// entry is compared with what the previous one left.
func TestApplySameKnobTwice(t *testing.T) {
	f := newFakeTree(t, map[string]string{"ipv6/conf/eth0.100/accept_ra": "0\n"})
	entries := mustParse(t,
		"net.ipv6.conf.IFNAME.accept_ra=2",
		"net.ipv6.conf.IFNAME.accept_ra=0",
	)
	changes, err := f.apply(testIf, entries)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.read(t, "ipv6/conf/eth0.100/accept_ra"); got != "0" {
		t.Errorf("accept_ra = %q, want the last entry's 0", got)
	}
	if len(changes) != 2 || changes[0].Previous != "0" || !changes[0].Written || changes[1].Previous != "2" || !changes[1].Written {
		t.Errorf("changes = %+v, want 0->2 then 2->0", changes)
	}
	if err := f.verify(testIf, entries); err != nil {
		t.Errorf("verify must check the last entry for a knob: %v", err)
	}
}

func TestApplyMissingTargetChangesNothing(t *testing.T) {
	knobs := map[string]string{
		"ipv6/conf/eth0.100/disable_ipv6": "0\n",
		"ipv4/conf/eth0.100/arp_notify":   "0\n",
	}
	tests := []struct {
		name   string
		ifname string
		last   string
		want   []string
		index  int // of the entry the error is about
	}{
		{"knob", testIf, "net.ipv4.conf.IFNAME.no_such_knob=1", []string{`"net.ipv4.conf.IFNAME.no_such_knob=1"`, `knob "no_such_knob" does not exist for interface "eth0.100"`}, 2},
		{"interface", "eth1", "net.ipv4.conf.IFNAME.arp_notify=1", []string{`"net.ipv6.conf.IFNAME.disable_ipv6=1"`, `interface "eth1" is not in this network namespace`}, 0},
		{"family", testIf, "net.mpls.conf.IFNAME.input=1", []string{`"net.mpls.conf.IFNAME.input=1"`, "mpls is not available", "mpls_router"}, 2},
		{"table", testIf, "net.ipv4.neigh.IFNAME.gc_stale_time=1", []string{"ipv4/neigh does not exist"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTree(t, knobs)
			entries := mustParse(t, "net.ipv6.conf.IFNAME.disable_ipv6=1", "net.ipv4.conf.IFNAME.arp_notify=1", tt.last)
			changes, err := f.apply(tt.ifname, entries)
			if err == nil {
				t.Fatalf("apply succeeded with changes %+v", changes)
			}
			if !errors.Is(err, ErrInvalid) || !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %v is not ErrInvalid and fs.ErrNotExist", err)
			}
			var ee *EntryError
			if !errors.As(err, &ee) || ee.Index != tt.index {
				t.Errorf("error %v: want an EntryError for entry %d", err, tt.index)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if len(f.writes) != 0 {
				t.Errorf("wrote %q although a target was missing", f.writes)
			}
			if got := f.read(t, "ipv6/conf/eth0.100/disable_ipv6"); got != "0\n" {
				t.Errorf("first entry's knob changed to %q", got)
			}
			if err := f.verify(tt.ifname, entries); !errors.Is(err, ErrInvalid) {
				t.Errorf("verify with a missing knob = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestApplyRefusesNonRegularFiles(t *testing.T) {
	f := newFakeTree(t, map[string]string{
		"ipv6/conf/eth0.100/disable_ipv6": "0\n",
		"ipv4/conf/eth0.100/dir/x":        "0\n",
		"outside":                         "0\n",
	})
	if err := os.Symlink(f.path("outside"), f.path("ipv4/conf/eth0.100/link")); err != nil {
		t.Fatal(err)
	}
	for _, last := range []string{"net.ipv4.conf.IFNAME.dir=1", "net.ipv4.conf.IFNAME.link=1"} {
		_, err := f.apply(testIf, mustParse(t, "net.ipv6.conf.IFNAME.disable_ipv6=1", last))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), quote(last)) {
			t.Errorf("apply with %s: error %v, want ErrInvalid naming it as not a regular file", last, err)
		}
	}
	if len(f.writes) != 0 || f.read(t, "outside") != "0\n" {
		t.Errorf("wrote %q through a non-regular target", f.writes)
	}
}

func TestApplyRestoresOnWriteFailure(t *testing.T) {
	knobs := map[string]string{
		"ipv4/conf/eth0.100/a": "0\n",
		"ipv4/conf/eth0.100/b": "5\n",
		"ipv4/conf/eth0.100/c": "1\n", // already right: not written, not restored
		"ipv4/conf/eth0.100/d": "0\n",
	}
	entries := mustParse(t,
		"net.ipv4.conf.IFNAME.a=1",
		"net.ipv4.conf.IFNAME.b=6",
		"net.ipv4.conf.IFNAME.c=1",
		"net.ipv4.conf.IFNAME.d=1",
	)

	t.Run("io", func(t *testing.T) {
		f := newFakeTree(t, knobs)
		f.fail[f.path("ipv4/conf/eth0.100/d")] = syscall.EROFS
		changes, err := f.apply(testIf, entries)
		if err == nil {
			t.Fatalf("apply succeeded: %+v", changes)
		}
		if !errors.Is(err, syscall.EROFS) || errors.Is(err, ErrInvalid) {
			t.Errorf("error %v: want EROFS and not ErrInvalid (an I/O failure, not a config error)", err)
		}
		if ee := (*EntryError)(nil); !errors.As(err, &ee) || ee.Index != 3 {
			t.Errorf("error %v: want an EntryError for entry 3 (d)", err)
		}
		if !strings.Contains(err.Error(), `"net.ipv4.conf.IFNAME.d=1"`) || !strings.Contains(err.Error(), `"eth0.100"`) {
			t.Errorf("error %q does not name the entry and interface", err)
		}
		// Newest first: b is restored before a.
		wantWrites := []string{
			"ipv4/conf/eth0.100/a=1",
			"ipv4/conf/eth0.100/b=6",
			"ipv4/conf/eth0.100/d=1",
			"ipv4/conf/eth0.100/b=5",
			"ipv4/conf/eth0.100/a=0",
		}
		if !reflect.DeepEqual(f.writes, wantWrites) {
			t.Errorf("writes = %q, want %q", f.writes, wantWrites)
		}
		for rel, want := range map[string]string{"a": "0", "b": "5", "c": "1\n", "d": "0\n"} {
			if got := f.read(t, "ipv4/conf/eth0.100/"+rel); got != want {
				t.Errorf("%s = %q after a failed apply, want %q", rel, got, want)
			}
		}
	})

	t.Run("kernel refuses value", func(t *testing.T) {
		f := newFakeTree(t, knobs)
		f.failOn[f.path("ipv4/conf/eth0.100/d")] = "1"
		_, err := f.apply(testIf, entries)
		if !errors.Is(err, ErrInvalid) || !errors.Is(err, syscall.EINVAL) {
			t.Errorf("error %v: an EINVAL from the kernel is the user's value at fault, want ErrInvalid", err)
		}
		if f.read(t, "ipv4/conf/eth0.100/a") != "0" || f.read(t, "ipv4/conf/eth0.100/b") != "5" {
			t.Error("earlier entries not restored")
		}
	})

	t.Run("restore fails too", func(t *testing.T) {
		f := newFakeTree(t, knobs)
		f.fail[f.path("ipv4/conf/eth0.100/d")] = syscall.EIO
		f.failOn[f.path("ipv4/conf/eth0.100/a")] = "0"
		_, err := f.apply(testIf, entries)
		if !errors.Is(err, syscall.EIO) {
			t.Fatalf("error %v does not keep the original cause", err)
		}
		msg := err.Error()
		if !strings.Contains(msg, "restoring "+f.path("ipv4/conf/eth0.100/a")+` to "0"`) {
			t.Errorf("error %q does not say which restore failed", msg)
		}
		if got := f.read(t, "ipv4/conf/eth0.100/b"); got != "5" {
			t.Errorf("b = %q: one failed restore must not stop the others", got)
		}
	})
}

// With /proc/sys/net mounted read-only, values already right must not
// make apply fail.
func TestApplyReadOnlyTreeWithValuesInPlace(t *testing.T) {
	f := newFakeTree(t, map[string]string{
		"ipv6/conf/eth0.100/disable_ipv6": "1\n",
		"ipv4/neigh/eth0.100/multi":       "1\t2\n",
	})
	f.fail[f.path("ipv6/conf/eth0.100/disable_ipv6")] = syscall.EROFS
	f.fail[f.path("ipv4/neigh/eth0.100/multi")] = syscall.EROFS
	changes, err := f.apply(testIf, mustParse(t, "net.ipv6.conf.IFNAME.disable_ipv6=1", "net.ipv4.neigh.IFNAME.multi=1 2"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.writes) != 0 || len(changes) != 2 || changes[0].Written || changes[1].Written {
		t.Errorf("writes %q, changes %+v: nothing should be written", f.writes, changes)
	}
}

func TestVerify(t *testing.T) {
	f := newFakeTree(t, map[string]string{
		"ipv6/conf/eth0.100/disable_ipv6": "1\n",
		"ipv4/conf/eth0.100/arp_notify":   "0\n",
		"ipv4/neigh/eth0.100/multi":       "1\t2\n",
		"ipv4/neigh/eth0.100/other":       "7\n",
	})
	if err := f.verify(testIf, mustParse(t, "net.ipv6.conf.IFNAME.disable_ipv6=1", "net.ipv4.neigh.IFNAME.multi=1 2")); err != nil {
		t.Errorf("verify of values in place: %v", err)
	}
	err := f.verify(testIf, mustParse(t,
		"net.ipv6.conf.IFNAME.disable_ipv6=1",
		"net.ipv4.conf.IFNAME.arp_notify=1",
		"net.ipv4.neigh.IFNAME.other=8",
	))
	if !errors.Is(err, ErrMismatch) || errors.Is(err, ErrInvalid) {
		t.Fatalf("verify = %v, want ErrMismatch only", err)
	}
	for _, w := range []string{
		`sysctl "net.ipv4.conf.IFNAME.arp_notify=1" on "eth0.100": want "1", have "0"`,
		`sysctl "net.ipv4.neigh.IFNAME.other=8" on "eth0.100": want "8", have "7"`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("verify error %q lacks %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "disable_ipv6") {
		t.Errorf("verify error %q names an entry that holds", err)
	}
	if len(f.writes) != 0 {
		t.Errorf("verify wrote %q", f.writes)
	}
}

func TestApplyBadIfName(t *testing.T) {
	f := newFakeTree(t, map[string]string{"ipv4/conf/eth0/x": "0\n"})
	for _, ifname := range []string{"", "..", "../conf", "eth0/../eth0", strings.Repeat("e", 16)} {
		_, err := f.apply(ifname, mustParse(t, "net.ipv4.conf.IFNAME.x=1"))
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("apply(%q) = %v, want ErrInvalid", ifname, err)
		}
	}
	if len(f.writes) != 0 {
		t.Errorf("wrote %q", f.writes)
	}
}

func ExampleParse() {
	e, err := Parse("net.ipv6.conf.IFNAME.disable_ipv6=1")
	if err != nil {
		panic(err)
	}
	p, _ := e.Path("eth0.100")
	fmt.Println(e.Key, e.Value, p)
	_, err = Parse("net.ipv6.conf.eth0.disable_ipv6=1")
	fmt.Println(err)
	// Output:
	// net.ipv6.conf.IFNAME.disable_ipv6 1 /proc/sys/net/ipv6/conf/eth0.100/disable_ipv6
	// sysctl "net.ipv6.conf.eth0.disable_ipv6=1": write IFNAME in place of the interface name "eth0" (it is filled in with the container's interface); expected net.<ipv4|ipv6|mpls>.<conf|neigh>.IFNAME.<name>=<value>
}
