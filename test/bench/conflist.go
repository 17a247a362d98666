package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Setup is one of the configurations compared side by side: a key into setups.
type Setup string

const (
	SetupBridge Setup = "bridge" // bridge + host-local alone
	SetupTuning Setup = "tuning" // + tuning with arp_notify / ndisc_notify on the container interface
	SetupNoop   Setup = "noop"   // + bench-noop, a chained Go plugin that only passes prevResult on
	SetupNDPA   Setup = "ndpa"   // + ndp-announce, embedded defaults
	// + ndp-announce with the node service running on its dataDir: no process forked per ADD
	SetupNDPASvc Setup = "ndpa-service"
)

// isNDPA says whether a setup chains ndp-announce, with or without the service.
func isNDPA(s Setup) bool { return s == SetupNDPA || s == SetupNDPASvc }

// setupDef says how a setup appears and what it chains after bridge. A new setup is one entry in
// setups (and its Setup constant); P1, P2 and P3 then pick it by key.
type setupDef struct {
	Label string // in tables
	Short string // where space is tight
	// Plugin is the chained plugin's config after bridge, nil for bridge alone. c is the conflist
	// being written: a setup that logs or keeps state sets its paths there, next to c.Path.
	Plugin func(c *Conflist, o NDPAOptions) map[string]any
}

var setups = map[Setup]setupDef{
	SetupBridge: {Label: "bridge alone", Short: "bridge"},
	SetupTuning: {Label: "bridge + tuning (arp_notify, ndisc_notify)", Short: "bridge+tuning", Plugin: tuningPlugin},
	SetupNoop: {Label: "bridge + no-op chained plugin (the floor)", Short: "bridge+noop",
		Plugin: func(*Conflist, NDPAOptions) map[string]any { return map[string]any{"type": noopPluginType} }},
	SetupNDPA: {Label: "bridge + ndp-announce", Short: "bridge+ndp-announce", Plugin: ndpaPlugin},
	SetupNDPASvc: {Label: "bridge + ndp-announce, node service running", Short: "bridge+ndp-announce+service",
		Plugin: ndpaPlugin},
}

// noopPluginType is test/bench/noop's binary name, built by `make bench` into .tools/bin.
const noopPluginType = "bench-noop"

// Label is how a setup appears in tables and the picture.
func (s Setup) Label() string {
	if d, ok := setups[s]; ok {
		return d.Label
	}
	return string(s)
}

// Short is the label where space is tight.
func (s Setup) Short() string {
	if d, ok := setups[s]; ok {
		return d.Short
	}
	return string(s)
}

// tuningPlugin is what a user tries first: the kernel's own announcements, asked for on the interface.
func tuningPlugin(*Conflist, NDPAOptions) map[string]any {
	return map[string]any{
		"type": "tuning",
		"sysctl": map[string]string{
			"net.ipv4.conf.IFNAME.arp_notify":   "1",
			"net.ipv6.conf.IFNAME.ndisc_notify": "1",
		},
	}
}

// ndpaPlugin is ndp-announce with its embedded defaults and the options a benchmark sets; its state
// and log go into the lab dir.
func ndpaPlugin(c *Conflist, o NDPAOptions) map[string]any {
	base := strings.TrimSuffix(c.Path, ".conflist")
	c.DataDir = base + "-state"
	c.LogFile = base + "-ndpa.log"
	p := map[string]any{"type": "ndp-announce", "dataDir": c.DataDir, "logFile": c.LogFile}
	if o.AdvertiseCount > 0 {
		p["advertiseCount"] = o.AdvertiseCount
	}
	if o.AdvertiseIntervalMs > 0 {
		p["advertiseIntervalMs"] = o.AdvertiseIntervalMs
	}
	if o.LogLevel != "" {
		p["logLevel"] = o.LogLevel
	}
	return p
}

// Conflist is a network configuration list written into a lab.
type Conflist struct {
	Name    string
	Path    string
	Setup   Setup
	DataDir string // ndp-announce's dataDir, "" for other setups
	LogFile string // ndp-announce's logFile, "" for other setups
}

// NDPAOptions are the ndp-announce fields a benchmark sets on top of the embedded defaults.
type NDPAOptions struct {
	AdvertiseCount      int // 0: default
	AdvertiseIntervalMs int // 0: default
	LogLevel            string
}

// WriteConflist writes the lab's conflist for a setup: bridge + host-local on the lab bridge (the
// same network as lab.bash's), then the setup's chained plugin. Each conflist is its own network name,
// so host-local keeps separate leases and libcni separate caches.
func (l *Lab) WriteConflist(name string, setup Setup, o NDPAOptions) (*Conflist, error) {
	c := &Conflist{Name: l.Prefix + "-" + name, Path: filepath.Join(l.Dir, name+".conflist"), Setup: setup}
	plugins := []any{map[string]any{
		"type":         "bridge",
		"bridge":       l.Bridge,
		"isGateway":    true,
		"ipMasq":       false,
		"hairpinMode":  false,
		"capabilities": map[string]bool{"ips": true, "mac": true},
		"ipam": map[string]any{
			"type":    "host-local",
			"dataDir": filepath.Join(l.Dir, "ipam"),
			"ranges": [][]map[string]string{
				{{"subnet": "198.51.100.0/24", "rangeStart": "198.51.100.10", "rangeEnd": "198.51.100.250", "gateway": labV4GW}},
				{{"subnet": "2001:db8:1::/64", "rangeStart": "2001:db8:1::10", "rangeEnd": "2001:db8:1::ffff", "gateway": labV6GW}},
			},
		},
	}}
	def, ok := setups[setup]
	if !ok {
		return nil, fmt.Errorf("unknown setup %q", setup)
	}
	if def.Plugin != nil {
		plugins = append(plugins, def.Plugin(c, o))
	}
	b, err := json.MarshalIndent(map[string]any{"cniVersion": "1.1.0", "name": c.Name, "plugins": plugins}, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(c.Path, b, 0o644); err != nil {
		return nil, fmt.Errorf("write conflist: %w", err)
	}
	if setup == SetupNDPASvc {
		svc, err := startService(l.env.BinDirs, c.DataDir)
		if err != nil {
			return nil, err
		}
		l.services.add(svc)
	}
	return c, nil
}

// fixedIPs is the runtime config that gives a container the recycled addresses.
const (
	recycledV4 = "198.51.100.50"
	recycledV6 = "2001:db8:1::50"
	fixedIPs   = `{"ips": ["198.51.100.50/24", "2001:db8:1::50/64"]}`
)
