package main

import (
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"

	"github.com/ndp-announce/ndp-announce/pkg/announcer"
	"github.com/ndp-announce/ndp-announce/pkg/config"
	"github.com/ndp-announce/ndp-announce/pkg/logging"
)

// cmdGC stops and forgets the announcers of attachments that are not in cni.dev/valid-attachments.
func cmdGC(args *skel.CmdArgs) error {
	conf, err := config.DecodeBase(args.StdinData)
	if err != nil {
		return err
	}
	log, closeLog := logging.New(conf.LogFile, logging.LevelOrInfo(conf.LogLevel), "cmd", "GC")
	defer closeLog.Close()

	valid := make(map[types.GCAttachment]bool, len(conf.ValidAttachments))
	for _, a := range conf.ValidAttachments {
		valid[a] = true
	}
	res, err := announcer.GC(conf.DataDir, conf.Name, func(containerID, ifName string) bool {
		return valid[types.GCAttachment{ContainerID: containerID, IfName: ifName}]
	})
	log.Info("GC done", "stateFiles", res.StateFiles, "removed", res.Removed)
	return err
}
