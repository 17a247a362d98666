package announcer

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// StopWait bounds how long Stop and GC wait for an announcer to let go of its
// lock after SIGTERM; it stops within one send, so this is generous.
const StopWait = 2 * time.Second

// Stop stops the detached announcer of k, if one runs, and removes its
// state. Nothing to stop is success: DEL must be idempotent. So is an unsafe
// dataDir (a symlink, writable by others): Start keeps no state in one, and
// one made unsafe later is not trusted to say which PID to signal.
func Stop(dataDir string, k Key) error {
	d, err := openStateDir(dataDir, false)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, errUnsafeDataDir) {
		return nil
	}
	if err != nil {
		return err
	}
	defer d.Close()
	return d.stop(stateName(k), StopWait)
}

// GCResult says what GC found and removed.
type GCResult struct {
	StateFiles, Removed int
}

// GC stops and forgets the announcers of network's attachments for which
// valid says false. Other networks' state (they may share dataDir) is left
// alone, and so is every file that is not ndp-announce state by both its
// name and its content.
func GC(dataDir, network string, valid func(containerID, ifName string) bool) (GCResult, error) {
	d, err := openStateDir(dataDir, false)
	if errors.Is(err, os.ErrNotExist) {
		return GCResult{}, nil
	}
	if err != nil {
		return GCResult{}, err
	}
	defer d.Close()
	states, err := d.listStates()
	if err != nil {
		return GCResult{}, err
	}
	res := GCResult{StateFiles: len(states)}
	var errs []error
	for name, rec := range states {
		if rec.Network != network || valid(rec.ContainerID, rec.IfName) {
			continue
		}
		if err := d.stop(name, StopWait); err != nil {
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
