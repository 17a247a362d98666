package main

import (
	"os"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"

	"github.com/ndp-announce/ndp-announce/pkg/announcer"
	"github.com/ndp-announce/ndp-announce/pkg/config"
)

// cmdStatus reports ready when dataDir can hold announcer state: the one thing ADD needs that a node
// can lack (a read-only or full /run).
func cmdStatus(args *skel.CmdArgs) error {
	conf, err := config.DecodeBase(args.StdinData)
	if err != nil {
		return err
	}
	if err := announcer.EnsureDataDir(conf.DataDir); err != nil {
		return types.NewError(types.ErrPluginNotAvailable, "dataDir not usable", err.Error())
	}
	f, err := os.CreateTemp(conf.DataDir, ".status-*")
	if err != nil {
		return types.NewError(types.ErrPluginNotAvailable, "dataDir not writable", err.Error())
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}
