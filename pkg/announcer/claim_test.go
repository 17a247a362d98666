package announcer

import (
	"errors"
	"os"
	"testing"
)

// A DEL that lands while ADD runs wins: it removes the claim (returning at once, twice), and the
// ADD then starts no announcer.
func TestDELDuringADDWins(t *testing.T) {
	dir := t.TempDir()
	c := ClaimAttachment(dir, testKey, "/run/netns/x")
	if c.err != nil {
		t.Fatal(c.err)
	}
	if _, err := os.Stat(StatePath(dir, testKey)); err != nil {
		t.Fatalf("no claim where DEL looks: %v", err)
	}
	if c.Cancelled() {
		t.Fatal("cancelled before any DEL")
	}
	for i := 0; i < 2; i++ {
		if err := Stop(dir, testKey); err != nil {
			t.Fatalf("DEL %d during ADD: %v", i, err)
		}
	}
	if !c.Cancelled() {
		t.Error("not cancelled after DEL")
	}
	if _, err := c.Start(Job{Key: testKey}, nil, ProcessOptions{DataDir: dir}); !errors.Is(err, ErrDeleted) {
		t.Errorf("Start after DEL = %v, want ErrDeleted", err)
	}
	c.Release()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left in dataDir: %v", entries)
	}
}

// An ADD that starts no announcer leaves no claim behind; one whose dataDir is unusable says why.
func TestClaimReleased(t *testing.T) {
	dir := t.TempDir()
	c := ClaimAttachment(dir, testKey, "")
	c.Release()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left in dataDir: %v", entries)
	}
	bad := ClaimAttachment("/proc/version/x", testKey, "")
	if _, err := bad.Start(Job{Key: testKey}, nil, ProcessOptions{}); err == nil || errors.Is(err, ErrDeleted) {
		t.Errorf("Start on an unusable dataDir = %v", err)
	}
	bad.Release()
}
