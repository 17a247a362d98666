package announcer

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// StopWait bounds how long Stop and GC wait for an announcer to let go of its
// lock after SIGTERM; it stops within one send, so this is generous.
const StopWait = 2 * time.Second

// Stop stops the detached announcer of k, if one runs, and removes its
// state. Nothing to stop is success: DEL must be idempotent.
func Stop(dataDir string, k Key) error {
	return stopPath(StatePath(dataDir, k), StopWait)
}

// GCResult says what GC found and removed.
type GCResult struct {
	StateFiles, Removed int
}

// GC stops and forgets the announcers of network's attachments for which
// valid says false. Other networks' state (they may share dataDir) is left
// alone.
func GC(dataDir, network string, valid func(containerID, ifName string) bool) (GCResult, error) {
	states, err := listStates(dataDir)
	if err != nil {
		return GCResult{}, err
	}
	res := GCResult{StateFiles: len(states)}
	var errs []error
	for path, rec := range states {
		if rec.ContainerID == "" {
			// Unreadable: either an ADD is writing it right now (it holds the lock) or it is debris.
			if removeIfUnlocked(path) {
				res.Removed++
			}
			continue
		}
		if rec.Network != network || valid(rec.ContainerID, rec.IfName) {
			continue
		}
		if err := stopPath(path, StopWait); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Removed++
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("GC: %w", err)
	}
	return res, nil
}

func removeIfUnlocked(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return false
	}
	return os.Remove(path) == nil
}
