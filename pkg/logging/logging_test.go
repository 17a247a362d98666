package logging

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The plugin runs as root: a symlink planted at logFile must not make it create, append to or
// change the mode of the link's target. The log is dropped instead (and stderr says so).
func TestLogFileNeverFollowsASymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{victim, filepath.Join(dir, "dangling")} {
		logFile := filepath.Join(dir, "ndp-announce.log")
		os.Remove(logFile)
		if err := os.Symlink(target, logFile); err != nil {
			t.Fatal(err)
		}
		log, closer := New(logFile, slog.LevelDebug, "cmd", "test")
		log.Info("must not land in the target")
		closer.Close()
	}
	b, err := os.ReadFile(victim)
	fi, _ := os.Stat(victim)
	if err != nil || string(b) != "precious\n" || fi.Mode().Perm() != 0o644 {
		t.Errorf("victim changed: %q, mode %v, %v", b, fi.Mode(), err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "dangling")); !os.IsNotExist(err) {
		t.Errorf("the dangling link's target was created: %v", err)
	}
}

// A regular logFile is created 0600 and appended to.
func TestLogFileAppends(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "ndp-announce.log")
	for i := 0; i < 2; i++ {
		log, closer := New(logFile, slog.LevelInfo)
		log.Info("line")
		closer.Close()
	}
	b, err := os.ReadFile(logFile)
	fi, _ := os.Stat(logFile)
	if err != nil || len(b) == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("log %q mode %v: %v", b, fi.Mode(), err)
	}
	if n := strings.Count(string(b), "\n"); n != 2 {
		t.Errorf("%d lines, want 2: %q", n, b)
	}
}
