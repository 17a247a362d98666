package conflist

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
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

func writeFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

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
	if err == nil || !strings.Contains(err.Error(), ptp) || !strings.Contains(err.Error(), `no "bridge" plugin`) {
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
