package main

import (
	"os"
	"testing"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/ndp-announce/ndp-announce/pkg/announcer"
)

// DEL needs neither the netns nor a prevResult, and repeating it is success: containerd's CRI calls
// it twice, the second time without a netns. A config ADD would refuse (advertiseCount 9) can still
// be cleaned up.
func TestDelIdempotent(t *testing.T) {
	b := newBed(t)
	for _, ver := range chainingVersions() {
		t.Run(ver, func(t *testing.T) {
			a := b.attach(t, attachOptions{Version: ver})
			conf := a.conf(t, longRounds())
			requireDelStops(t, a.args(conf), a.addRunning(t, conf), b.dataDir)
			if err := a.del(conf); err != nil {
				t.Errorf("second DEL: %v", err)
			}
			bare := a.conf(t, map[string]any{"prevResult": nil, "advertiseCount": 9})
			args := a.args(bare)
			args.Netns = ""
			if err := cmdDel(args); err != nil {
				t.Errorf("DEL without netns and prevResult: %v", err)
			}
		})
	}
}

// A netns deleted before DEL (a runtime's remove after its stop) does not stand in DEL's way, and
// DEL still stops the announcer that runs for it.
func TestDelAfterNetNSGone(t *testing.T) {
	b := newBed(t)
	a := b.attach(t, attachOptions{})
	conf := a.conf(t, longRounds())
	pid := a.addRunning(t, conf)
	args := a.args(conf)
	args.Netns = "/run/netns/ndpa-test-gone"
	requireDelStops(t, args, pid, b.dataDir)
}

// DEL that cannot do its job says so: the attachment's state path is not a state file. A config
// without a usable dataDir is code 7 naming it; stdin that is not JSON is code 6.
func TestDelErrors(t *testing.T) {
	b := newBed(t)
	a := b.attach(t, attachOptions{})
	conf := a.conf(t, nil)
	path := announcer.StatePath(b.dataDir, announcer.Key{Network: b.network, ContainerID: a.id, IfName: bedIf})
	if err := os.MkdirAll(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := a.del(conf); err == nil {
		t.Errorf("DEL succeeded with a directory at the state path %s", path)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	requireConfigError(t, a.del(a.conf(t, map[string]any{"dataDir": "run/ndpa"})), types.ErrInvalidNetworkConfig, "dataDir")
	requireConfigError(t, a.del(a.conf(t, map[string]any{"logFile": "ndpa.log"})), types.ErrInvalidNetworkConfig, "logFile")
	requireConfigError(t, a.del([]byte("{not json")), types.ErrDecodingFailure, "JSON")
}
