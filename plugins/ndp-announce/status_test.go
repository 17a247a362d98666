package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// STATUS is not ready (code 50, saying why) when dataDir cannot hold state: it cannot be created,
// it is read-only, it is full, or others may write to it. A bad config is code 7 naming dataDir.
func TestStatusNotReady(t *testing.T) {
	requireConfigError(t, cmdStatus(statusConf("data")), types.ErrInvalidNetworkConfig, "dataDir")
	requireConfigError(t, cmdStatus(&skel.CmdArgs{StdinData: []byte("{")}), types.ErrDecodingFailure, "JSON")
	nstest.RequireRoot(t) // root ignores permission bits: only these make a dataDir unusable for it
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(shared, 0o700); err != nil || os.Chmod(shared, 0o777) != nil {
		t.Fatalf("make %s: %v", shared, err)
	}
	for _, tc := range []struct {
		name, dataDir, why string
	}{
		{"under a regular file", filepath.Join(file, "data"), "not a directory"},
		// Mode 0700, so that only what the case names is wrong with them.
		{"read-only", tmpfs(t, unix.MS_RDONLY, "mode=0700,size=64k"), "read-only"},
		{"no inode left", tmpfs(t, 0, "mode=0700,size=64k,nr_inodes=1"), "no space"},
		{"no byte left", fill(t, tmpfs(t, 0, "mode=0700,size=8k")), "no space"},
		{"world-writable", shared, "writable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := cmdStatus(statusConf(tc.dataDir))
			var cniErr *types.Error
			if !errors.As(err, &cniErr) || cniErr.Code != types.ErrPluginNotAvailable ||
				!strings.Contains(cniErr.Msg, "dataDir") || !strings.Contains(cniErr.Details, tc.why) {
				t.Errorf("STATUS = %#v, want code 50 on dataDir saying %q", err, tc.why)
			}
		})
	}
}

// tmpfs mounts a small tmpfs of the test's own on a temp dir and unmounts it when the test ends.
func tmpfs(t *testing.T, flags uintptr, opts string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", flags|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, opts); err != nil {
		t.Fatalf("mount a tmpfs (%s): %v", opts, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file into dir until the filesystem has no byte left.
func fill(t *testing.T, dir string) string {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "ballast"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for {
		if _, err := f.Write(make([]byte, 512)); err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				t.Fatalf("fill %s: %v", dir, err)
			}
			return dir
		}
	}
}
