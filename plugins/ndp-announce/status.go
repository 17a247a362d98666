package main

import (
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"

	"github.com/ndp-announce/ndp-announce/pkg/announcer"
	"github.com/ndp-announce/ndp-announce/pkg/config"
)

// cmdStatus reports ready when dataDir can hold announcer state: the one thing ADD needs that a node
// can lack (a read-only, full or unsafe /run).
func cmdStatus(args *skel.CmdArgs) error {
	conf, err := config.DecodeBase(args.StdinData)
	if err != nil {
		return err
	}
	if err := announcer.ProbeDataDir(conf.DataDir); err != nil {
		return types.NewError(types.ErrPluginNotAvailable, "dataDir not usable", err.Error())
	}
	return nil
}
