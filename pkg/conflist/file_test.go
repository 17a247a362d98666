package conflist

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"

	"github.com/ndp-announce/ndp-announce/internal/filetest"
)

const bridgeList = `{
  "cniVersion": "1.0.0",
  "name": "podnet",
  "plugins": [
    {"type": "bridge", "bridge": "cni0"},
    {"type": "portmap"}
  ]
}
`

var (
	writeFile = filetest.Write
	readFile  = filetest.Read
	dirNames  = filetest.Names
)

func TestChainFileInPlaceWithBackup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "10-podnet.conflist")
	writeFile(t, path, bridgeList, 0o640)

	res, err := ChainFile(path, ndpa)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Path != path || res.Backup != path+BackupSuffix {
		t.Fatalf("ChainFile = %+v, want changed in place with backup %s", res, path+BackupSuffix)
	}
	if got := readFile(t, res.Backup); got != bridgeList {
		t.Errorf("backup holds %q, want the original", got)
	}
	want, _ := Chain([]byte(bridgeList), ndpa)
	if got := readFile(t, path); got != string(want.Data) {
		t.Errorf("file holds %q, want %q", got, want.Data)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("file mode %v, want the original's 0640", fi.Mode().Perm())
	}
	if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{"10-podnet.conflist", "10-podnet.conflist" + BackupSuffix}) {
		t.Errorf("dir holds %v: a temporary file was left, or something else was written", names)
	}

	// Idempotent: the second run writes nothing, not even a new backup of the chained file.
	again, err := ChainFile(path, ndpa)
	if err != nil || again.Changed || again.Backup != "" {
		t.Fatalf("second ChainFile = %+v, %v; want unchanged, no backup", again, err)
	}
	if got := readFile(t, res.Backup); got != bridgeList {
		t.Errorf("second run overwrote the backup with %q", got)
	}

	// Uninstall gives the original back and keeps the chained version as the backup.
	un, err := UnchainFile(path, "ndp-announce")
	if err != nil || !un.Changed {
		t.Fatalf("UnchainFile = %+v, %v", un, err)
	}
	if got := readFile(t, path); got != bridgeList {
		t.Errorf("after UnchainFile the file holds %q, want the original", got)
	}
	if got := readFile(t, un.Backup); got != string(want.Data) {
		t.Errorf("UnchainFile backup holds %q, want the chained file", got)
	}
	if un2, err := UnchainFile(path, "ndp-announce"); err != nil || un2.Changed {
		t.Errorf("second UnchainFile = %+v, %v; want unchanged", un2, err)
	}
}

func TestChainFileConvertsConf(t *testing.T) {
	dir := t.TempDir()
	conf := `{"cniVersion": "0.4.0", "name": "mynet", "type": "bridge", "bridge": "cni0"}`
	path := filepath.Join(dir, "10-mynet.conf")
	writeFile(t, path, conf, 0o644)

	res, err := ChainFile(path, ndpa)
	if err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(dir, "10-mynet.conflist")
	if !res.Converted || res.Path != list || res.Backup != path+BackupSuffix {
		t.Fatalf("ChainFile = %+v, want converted to %s, backup %s", res, list, path+BackupSuffix)
	}
	if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{"10-mynet.conf" + BackupSuffix, "10-mynet.conflist"}) {
		t.Errorf("dir holds %v, want only the list and the backup (no .conf a runtime would load first)", names)
	}
	if got := readFile(t, res.Backup); got != conf {
		t.Errorf("backup holds %q, want the original .conf", got)
	}
	assertLoads(t, []byte(readFile(t, list)), "ndp-announce")

	// The runtime now loads the .conflist: a second install finds it chained there.
	first, err := DefaultFile(dir)
	if err != nil || first != list {
		t.Fatalf("DefaultFile = %q, %v; want %s", first, err, list)
	}
	if again, err := ChainFile(first, ndpa); err != nil || again.Changed {
		t.Errorf("second ChainFile = %+v, %v; want unchanged", again, err)
	}
}

func TestChainFileRefusesWithoutChanging(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "10-a.conf")
	writeFile(t, conf, `{"name": "a", "type": "bridge"}`, 0o644)
	writeFile(t, filepath.Join(dir, "10-a.conflist"), bridgeList, 0o644)
	if _, err := ChainFile(conf, ndpa); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("ChainFile with both .conf and .conflist: err %v, want 'exists already'", err)
	}

	ptp := filepath.Join(dir, "20-ptp.conflist")
	ptpList := `{"name": "p", "plugins": [{"type": "ptp"}]}`
	writeFile(t, ptp, ptpList, 0o644)
	_, err := ChainFile(ptp, ndpa)
	if err == nil || !strings.Contains(err.Error(), ptp) || !strings.Contains(err.Error(), "no plugin that ndp-announce can follow") {
		t.Errorf("ChainFile without bridge: err %v, want the file name and no bridge", err)
	}
	if readFile(t, ptp) != ptpList {
		t.Errorf("a refused file was changed")
	}
	if names := dirNames(t, dir); !reflect.DeepEqual(names, []string{"10-a.conf", "10-a.conflist", "20-ptp.conflist"}) {
		t.Errorf("dir holds %v after refusals, want it untouched", names)
	}
}

func TestDefaultFile(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"99-last.conflist", "20-b.json", "10-a.conflist" + BackupSuffix, ".10-a.conflist.123.tmp", "05-notes.txt"} {
		writeFile(t, filepath.Join(dir, n), "{}", 0o644)
	}
	if err := os.Mkdir(filepath.Join(dir, "00-dir.conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := DefaultFile(dir)
	if want := filepath.Join(dir, "20-b.json"); err != nil || got != want {
		t.Errorf("DefaultFile = %q, %v; want %s (backups, temporaries, other extensions and dirs skipped)", got, err, want)
	}
	if _, err := DefaultFile(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no .conf, .conflist, .json file") {
		t.Errorf("DefaultFile of an empty dir: err %v", err)
	}
}

// DefaultFile picks what containerd and CRI-O load: libcni's ConfFiles, sorted, first. Symlinks are
// entries like any other, whatever they point to.
func TestDefaultFileIsLibcnisFirst(t *testing.T) {
	elsewhere := t.TempDir()
	writeFile(t, filepath.Join(elsewhere, "bridge.conflist"), bridgeList, 0o644)
	for _, tt := range []struct {
		name  string
		build func(dir string)
	}{
		{"a symlink sorts before a regular file", func(dir string) {
			symlink(t, filepath.Join(elsewhere, "bridge.conflist"), filepath.Join(dir, "10-bridge.conflist"))
			writeFile(t, filepath.Join(dir, "20-other.conflist"), bridgeList, 0o644)
		}},
		{"only a symlink, relative", func(dir string) {
			symlink(t, "../"+filepath.Base(elsewhere)+"/bridge.conflist", filepath.Join(dir, "10-bridge.conflist"))
		}},
		{"a symlink to a directory counts, as in libcni", func(dir string) {
			symlink(t, elsewhere, filepath.Join(dir, "05-dir.conf"))
			writeFile(t, filepath.Join(dir, "10-a.conflist"), bridgeList, 0o644)
		}},
		{"a dangling symlink counts too", func(dir string) {
			symlink(t, filepath.Join(elsewhere, "missing.conf"), filepath.Join(dir, "01-gone.conf"))
			writeFile(t, filepath.Join(dir, "10-a.conflist"), bridgeList, 0o644)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(filepath.Dir(elsewhere), strings.ReplaceAll(tt.name, " ", "-"))
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			tt.build(dir)
			files, err := libcni.ConfFiles(dir, Extensions)
			if err != nil || len(files) == 0 {
				t.Fatalf("libcni.ConfFiles = %v, %v", files, err)
			}
			sort.Strings(files)
			if got, err := DefaultFile(dir); err != nil || got != files[0] {
				t.Errorf("DefaultFile = %q, %v; libcni loads %q first", got, err, files[0])
			}
		})
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// A symlinked conflist: its target is edited in place, with the backup next to the target, and the
// link stays a link. Naming the link or the target does the same.
func TestChainFileFollowsSymlink(t *testing.T) {
	confDir, store := t.TempDir(), t.TempDir()
	target := filepath.Join(store, "bridge.conflist")
	writeFile(t, target, bridgeList, 0o600)
	link := filepath.Join(confDir, "10-bridge.conflist")
	symlink(t, "../"+filepath.Base(store)+"/bridge.conflist", link)

	res, err := ChainFile(link, ndpa)
	if err != nil {
		t.Fatal(err)
	}
	if res.Path != target || res.Link != link || res.Backup != target+BackupSuffix {
		t.Fatalf("ChainFile = %+v, want Path %s, Link %s, Backup next to the target", res, target, link)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("%s is no longer a symlink: %v %v", link, fi.Mode(), err)
	}
	assertLoads(t, []byte(readFile(t, link)), "ndp-announce")
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o600 {
		t.Errorf("target mode %v, want the original 0600", fi.Mode().Perm())
	}
	if names := dirNames(t, confDir); !reflect.DeepEqual(names, []string{"10-bridge.conflist"}) {
		t.Errorf("conf dir holds %v: the backup or a temporary went next to the link", names)
	}
	if names := dirNames(t, store); !reflect.DeepEqual(names, []string{"bridge.conflist", "bridge.conflist" + BackupSuffix}) {
		t.Errorf("target dir holds %v, want the target and its backup", names)
	}
	if again, err := ChainFile(link, ndpa); err != nil || again.Changed {
		t.Errorf("second ChainFile = %+v, %v; want unchanged", again, err)
	}

	un, err := UnchainFile(link, "ndp-announce")
	if err != nil || !un.Changed || un.Path != target {
		t.Fatalf("UnchainFile = %+v, %v", un, err)
	}
	if got := readFile(t, link); got != bridgeList {
		t.Errorf("after UnchainFile the link reads %q, want the original", got)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("UnchainFile replaced the link: %v %v", fi.Mode(), err)
	}
}

func TestChainFileSymlinkRefusals(t *testing.T) {
	dir := t.TempDir()
	conf := `{"cniVersion": "0.4.0", "name": "mynet", "type": "bridge"}`
	writeFile(t, filepath.Join(dir, "real.conf"), conf, 0o644)
	symlink(t, "real.conf", filepath.Join(dir, "10-mynet.conf"))
	_, err := ChainFile(filepath.Join(dir, "10-mynet.conf"), ndpa)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "10-mynet.conf")+": a symlink to the single-plugin configuration") {
		t.Errorf("ChainFile of a symlinked .conf: err %v, want a refusal naming the link", err)
	}
	symlink(t, "missing.conflist", filepath.Join(dir, "20-gone.conflist"))
	if _, err := ChainFile(filepath.Join(dir, "20-gone.conflist"), ndpa); err == nil || !strings.Contains(err.Error(), "20-gone.conflist") {
		t.Errorf("ChainFile of a dangling symlink: err %v, want one naming it", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	symlink(t, "d", filepath.Join(dir, "30-dir.conf"))
	if _, err := ChainFile(filepath.Join(dir, "30-dir.conf"), ndpa); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("ChainFile of a symlink to a dir: err %v", err)
	}
	want := []string{"10-mynet.conf", "20-gone.conflist", "30-dir.conf", "d", "real.conf"}
	if names := dirNames(t, dir); !reflect.DeepEqual(names, want) || readFile(t, filepath.Join(dir, "real.conf")) != conf {
		t.Errorf("dir holds %v after refusals, want %v untouched", names, want)
	}
}

// PrepareChain works the change out and writes nothing; Apply writes it.
func TestPrepareChainWritesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "10-podnet.conflist")
	writeFile(t, path, bridgeList, 0o644)
	c, err := PrepareChain(path, ndpa)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Result().Changed || readFile(t, path) != bridgeList || len(dirNames(t, dir)) != 1 {
		t.Fatalf("PrepareChain = %+v and changed the dir (%v)", c.Result(), dirNames(t, dir))
	}
	res, err := c.Apply()
	if err != nil || res.Backup == "" {
		t.Fatalf("Apply = %+v, %v", res, err)
	}
	assertLoads(t, []byte(readFile(t, path)), "ndp-announce")
}
