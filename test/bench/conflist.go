package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Setup is one of the configurations compared side by side.
type Setup string

const (
	SetupBridge Setup = "bridge" // bridge + host-local alone
	SetupTuning Setup = "tuning" // + tuning with arp_notify / ndisc_notify on the container interface
	SetupNDPA   Setup = "ndpa"   // + ndp-announce, embedded defaults
)

// Label is how a setup appears in tables and the picture.
func (s Setup) Label() string {
	switch s {
	case SetupBridge:
		return "bridge alone"
	case SetupTuning:
		return "bridge + tuning (arp_notify, ndisc_notify)"
	case SetupNDPA:
		return "bridge + ndp-announce"
	}
	return string(s)
}

// Short is the label where space is tight.
func (s Setup) Short() string {
	switch s {
	case SetupBridge:
		return "bridge"
	case SetupTuning:
		return "bridge+tuning"
	case SetupNDPA:
		return "bridge+ndp-announce"
	}
	return string(s)
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
// same network as lab.bash's), then tuning or ndp-announce. Each conflist is its own network name,
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
	switch setup {
	case SetupBridge:
	case SetupTuning:
		// What a user tries first: the kernel's own announcements, asked for on the interface.
		plugins = append(plugins, map[string]any{
			"type": "tuning",
			"sysctl": map[string]string{
				"net.ipv4.conf.IFNAME.arp_notify":   "1",
				"net.ipv6.conf.IFNAME.ndisc_notify": "1",
			},
		})
	case SetupNDPA:
		c.DataDir = filepath.Join(l.Dir, name+"-state")
		c.LogFile = filepath.Join(l.Dir, name+"-ndpa.log")
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
		plugins = append(plugins, p)
	default:
		return nil, fmt.Errorf("unknown setup %q", setup)
	}
	b, err := json.MarshalIndent(map[string]any{"cniVersion": "1.1.0", "name": c.Name, "plugins": plugins}, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(c.Path, b, 0o644); err != nil {
		return nil, fmt.Errorf("write conflist: %w", err)
	}
	return c, nil
}

// fixedIPs is the runtime config that gives a container the recycled addresses.
const (
	recycledV4 = "198.51.100.50"
	recycledV6 = "2001:db8:1::50"
	fixedIPs   = `{"ips": ["198.51.100.50/24", "2001:db8:1::50/64"]}`
)
