package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"golang.org/x/sys/unix"

	"github.com/ndp-announce/ndp-announce/internal/nstest"
)

func statusConf(dataDir string) *skel.CmdArgs {
	return &skel.CmdArgs{StdinData: []byte(`{"cniVersion":"1.1.0","name":"ndpa-test","type":"ndp-announce","dataDir":"` + dataDir + `"}`)}
}

// STATUS is ready when dataDir can hold announcer state, creating it if need be and leaving
// nothing in it.
func TestStatusReady(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := cmdStatus(statusConf(dir)); err != nil {
		t.Fatalf("STATUS with a fresh dataDir: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("STATUS did not create dataDir: %v", err)
	}
	if len(entries) > 0 {
		t.Errorf("STATUS left %v in dataDir", entries)
	}
}

// STATUS is not ready (code 50) when dataDir cannot be created or written; a bad config is code 7
// naming dataDir.
func TestStatusNotReady(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	requireConfigError(t, cmdStatus(statusConf(filepath.Join(file, "data"))), types.ErrPluginNotAvailable, "dataDir")
	requireConfigError(t, cmdStatus(statusConf("data")), types.ErrInvalidNetworkConfig, "dataDir")
	requireConfigError(t, cmdStatus(&skel.CmdArgs{StdinData: []byte("{")}), types.ErrDecodingFailure, "JSON")

	// Read-only: a tmpfs of the test's own, mounted read-only (root ignores permission bits).
	nstest.RequireRoot(t)
	ro := t.TempDir()
	if err := unix.Mount("tmpfs", ro, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=64k"); err != nil {
		t.Fatalf("mount a read-only tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(ro, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", ro, err)
		}
	})
	requireConfigError(t, cmdStatus(statusConf(ro)), types.ErrPluginNotAvailable, "dataDir")
}
