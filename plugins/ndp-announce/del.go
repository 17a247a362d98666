package main

import (
	"time"

	"github.com/containernetworking/cni/pkg/skel"
)

// stopWait bounds how long DEL and GC wait for an announcer to let go of its lock after SIGTERM; it
// stops within one send, so this is generous.
const stopWait = 2 * time.Second

// cmdDel stops the attachment's background announcer and removes its state. It needs neither the netns
// nor a prevResult, so it succeeds when repeated — containerd's CRI calls DEL twice, the second time
// without a netns.
func cmdDel(args *skel.CmdArgs) error {
	conf, err := decodeBase(args.StdinData)
	if err != nil {
		return err
	}
	log, closeLog := newLogger(conf.LogFile, levelOrInfo(conf.LogLevel),
		"cmd", "DEL", "containerID", args.ContainerID, "netns", args.Netns, "ifname", args.IfName)
	defer closeLog.Close()
	if err := stopAnnouncer(statePath(conf.DataDir, attachmentKey{conf.Name, args.ContainerID, args.IfName}), stopWait); err != nil {
		log.Error("DEL failed", "err", err)
		return err
	}
	log.Debug("DEL done")
	return nil
}
