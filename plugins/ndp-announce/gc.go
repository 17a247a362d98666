package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"golang.org/x/sys/unix"
)

// cmdGC stops and forgets the announcers of attachments that are not in cni.dev/valid-attachments.
func cmdGC(args *skel.CmdArgs) error {
	conf, err := decodeBase(args.StdinData)
	if err != nil {
		return err
	}
	log, closeLog := newLogger(conf.LogFile, levelOrInfo(conf.LogLevel), "cmd", "GC")
	defer closeLog.Close()

	valid := make(map[types.GCAttachment]bool, len(conf.ValidAttachments))
	for _, a := range conf.ValidAttachments {
		valid[a] = true
	}
	states, err := listStates(conf.DataDir)
	if err != nil {
		return err
	}
	var errs []error
	removed := 0
	for path, rec := range states {
		if rec.ContainerID == "" {
			// Unreadable: either an ADD is writing it right now (it holds the lock) or it is debris.
			if removeIfUnlocked(path) {
				removed++
			}
			continue
		}
		if rec.Network != conf.Name || valid[types.GCAttachment{ContainerID: rec.ContainerID, IfName: rec.IfName}] {
			continue // another network's (they may share dataDir), or still valid
		}
		if err := stopAnnouncer(path, stopWait); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	log.Info("GC done", "stateFiles", len(states), "removed", removed)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("GC: %w", err)
	}
	return nil
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
