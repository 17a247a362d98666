package main

import (
	"github.com/containernetworking/cni/pkg/skel"

	"github.com/ndp-announce/ndp-announce/pkg/announcer"
	"github.com/ndp-announce/ndp-announce/pkg/config"
	"github.com/ndp-announce/ndp-announce/pkg/logging"
)

// cmdDel stops the attachment's background rounds, in the node service and in any detached
// announcer (an ADD that fell back), and removes its state. It needs neither the netns
// nor a prevResult, so it succeeds when repeated — containerd's CRI calls DEL twice, the second time
// without a netns.
func cmdDel(args *skel.CmdArgs) error {
	conf, err := config.DecodeBase(args.StdinData)
	if err != nil {
		return err
	}
	log, closeLog := logging.New(conf.LogFile, logging.LevelOrInfo(conf.LogLevel),
		"cmd", "DEL", "containerID", args.ContainerID, "netns", args.Netns, "ifname", args.IfName)
	defer closeLog.Close()
	key := announcer.Key{Network: conf.Name, ContainerID: args.ContainerID, IfName: args.IfName}
	service := stopInService(conf.DataDir, key)
	if err := announcer.Stop(conf.DataDir, key); err != nil {
		log.Error("DEL failed", "err", err, "service", service)
		return err
	}
	log.Debug("DEL done", "service", service)
	return nil
}
