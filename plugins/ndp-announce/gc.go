package main

import (
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"

	"github.com/ndp-announce/ndp-announce/pkg/announcer"
	"github.com/ndp-announce/ndp-announce/pkg/config"
	"github.com/ndp-announce/ndp-announce/pkg/handoff"
	"github.com/ndp-announce/ndp-announce/pkg/logging"
)

// cmdGC stops and forgets the background rounds (in the node service and detached announcers) of
// attachments that are not in cni.dev/valid-attachments.
func cmdGC(args *skel.CmdArgs) error {
	conf, err := config.DecodeBase(args.StdinData)
	if err != nil {
		return err
	}
	log, closeLog := logging.New(conf.LogFile, logging.LevelOrInfo(conf.LogLevel), "cmd", "GC")
	defer closeLog.Close()

	valid := make(map[types.GCAttachment]bool, len(conf.ValidAttachments))
	keep := make([]handoff.ValidAtt, 0, len(conf.ValidAttachments))
	for _, a := range conf.ValidAttachments {
		valid[a] = true
		if handoff.ValidateKey(&announcer.Key{Network: conf.Name, ContainerID: a.ContainerID, IfName: a.IfName}) == nil {
			keep = append(keep, handoff.ValidAtt{ContainerID: a.ContainerID, IfName: a.IfName})
		}
	}
	service := gcInService(conf.DataDir, conf.Name, keep)
	res, err := announcer.GC(conf.DataDir, conf.Name, func(containerID, ifName string) bool {
		return valid[types.GCAttachment{ContainerID: containerID, IfName: ifName}]
	})
	log.Info("GC done", "stateFiles", res.StateFiles, "removed", res.Removed, "service", service)
	return err
}
