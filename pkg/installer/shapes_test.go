package installer

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"

	"github.com/ndp-announce/ndp-announce/internal/filetest"
)

// The conflists the runtimes and network plugins write, as they write them (addresses replaced by
// documentation prefixes), and where the installer puts ndp-announce in each.
var shapes = []struct {
	name, file, conf string
	after            string // the plugin ndp-announce must follow
}{{
	name: "k3s flannel", file: "10-flannel.conflist", after: "flannel",
	conf: `{
  "name":"cbr0",
  "cniVersion":"1.0.0",
  "plugins":[
    {
      "type":"flannel",
      "delegate":{
        "hairpinMode":true,
        "forceAddress":true,
        "isDefaultGateway":true
      }
    },
    {
      "type":"portmap",
      "capabilities":{
        "portMappings":true
      }
    },
    {
      "type":"bandwidth",
      "capabilities":{
        "bandwidth":true
      }
    }
  ]
}
`}, {
	name: "containerd's default", file: "10-containerd-net.conflist", after: "bridge",
	conf: `{
  "cniVersion": "1.0.0",
  "name": "containerd-net",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "promiscMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [
          [{
            "subnet": "198.51.100.0/24"
          }],
          [{
            "subnet": "2001:db8:4860::/64"
          }]
        ],
        "routes": [
          { "dst": "0.0.0.0/0" },
          { "dst": "::/0" }
        ]
      }
    },
    {
      "type": "portmap",
      "capabilities": {"portMappings": true}
    }
  ]
}
`}, {
	name: "nerdctl's default", file: "nerdctl-bridge.conflist", after: "bridge",
	conf: `{
  "cniVersion": "1.0.0",
  "name": "bridge",
  "nerdctlID": "17f29b073143d8cd97b5bbe492bdeffec1c5fee55cc1fe2112c8b9335f8b6121",
  "nerdctlLabels": {},
  "plugins": [
    {
      "type": "bridge",
      "bridge": "nerdctl0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "ranges": [
          [
            {
              "gateway": "203.0.113.1",
              "subnet": "203.0.113.0/24"
            }
          ]
        ],
        "routes": [
          {
            "dst": "0.0.0.0/0"
          }
        ],
        "type": "host-local"
      }
    },
    {
      "type": "portmap",
      "capabilities": {
        "portMappings": true
      }
    },
    {
      "type": "firewall",
      "ingressPolicy": "same-bridge"
    },
    {
      "type": "tuning"
    }
  ]
}`}, {
	name: "podman's network (CNI backend), as podman 4.3 network create writes it", file: "e2e.conflist", after: "bridge",
	conf: `{
   "cniVersion": "0.4.0",
   "name": "e2e",
   "plugins": [
      {
         "type": "bridge",
         "bridge": "cni-podman1",
         "isGateway": true,
         "ipMasq": true,
         "hairpinMode": true,
         "ipam": {
            "type": "host-local",
            "routes": [
               {
                  "dst": "0.0.0.0/0"
               },
               {
                  "dst": "::/0"
               }
            ],
            "ranges": [
               [
                  {
                     "subnet": "203.0.113.0/24",
                     "gateway": "203.0.113.1"
                  }
               ],
               [
                  {
                     "subnet": "2001:db8:4::/64",
                     "gateway": "2001:db8:4::1"
                  }
               ]
            ]
         },
         "capabilities": {
            "ips": true
         }
      },
      {
         "type": "portmap",
         "capabilities": {
            "portMappings": true
         }
      },
      {
         "type": "firewall",
         "backend": ""
      },
      {
         "type": "tuning"
      }
   ]
}
`}, {
	name: "macvlan list", file: "20-lan.conflist", after: "macvlan",
	conf: `{"cniVersion":"1.0.0","name":"lan","plugins":[{"type":"macvlan","master":"eth1","mode":"bridge","ipam":{"type":"host-local","subnet":"203.0.113.0/24"}},{"type":"tuning","sysctl":{"net.ipv4.conf.IFNAME.arp_notify":"1"}}]}`,
}, {
	name: "ipvlan in l2 mode", file: "20-ipvlan.conflist", after: "ipvlan",
	conf: `{"cniVersion":"1.0.0","name":"lan","plugins":[{"type":"ipvlan","master":"eth1","ipam":{"type":"host-local","subnet":"203.0.113.0/24"}}]}`,
}, {
	name: "host-device", file: "30-nic.conflist", after: "host-device",
	conf: `{"cniVersion":"1.0.0","name":"nic","plugins":[{"type":"host-device","device":"eth2"},{"type":"sbr"}]}`,
}, {
	name: "bridge before a meta plugin chain: right after bridge, before sbr", file: "10-sbr.conflist", after: "bridge",
	conf: `{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"bridge"},{"type":"sbr"},{"type":"tuning"}]}`,
}}

// Each shape: ndp-announce lands right after its interface plugin, libcni loads the result, and a
// second install changes nothing.
func TestInstallShapes(t *testing.T) {
	for _, tt := range shapes {
		t.Run(tt.name, func(t *testing.T) {
			opts, def := fakeNode(t)
			if err := os.Remove(def); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(opts.ConfDir, tt.file)
			writeConf(t, path, tt.conf)
			if err := install(opts, testEnv, quietLog()); err != nil {
				t.Fatalf("install: %v", err)
			}
			list, err := libcni.ConfListFromFile(path)
			if err != nil {
				t.Fatalf("libcni cannot load the installed file: %v", err)
			}
			assertAfter(t, list, tt.after)
			if _, err := os.Stat(filepath.Join(opts.BinDir, "ndp-announce")); err != nil {
				t.Errorf("binary not installed: %v", err)
			}
			before := readConf(t, path)
			if err := install(opts, testEnv, quietLog()); err != nil || readConf(t, path) != before {
				t.Errorf("second install: %v; changed the file", err)
			}
			if err := uninstall(opts, quietLog()); err != nil || readConf(t, path) != tt.conf {
				t.Errorf("uninstall: %v; the file is not the original again:\n%s", err, readConf(t, path))
			}
		})
	}
}

func TestInstallSingleMacvlanConfBecomesAList(t *testing.T) {
	opts, def := fakeNode(t)
	if err := os.Remove(def); err != nil {
		t.Fatal(err)
	}
	writeConf(t, filepath.Join(opts.ConfDir, "10-lan.conf"), `{"cniVersion":"0.4.0","name":"lan","type":"macvlan","master":"eth1","ipam":{"type":"host-local","subnet":"203.0.113.0/24"}}`)
	if err := install(opts, testEnv, quietLog()); err != nil {
		t.Fatal(err)
	}
	list, err := libcni.ConfListFromFile(filepath.Join(opts.ConfDir, "10-lan.conflist"))
	if err != nil {
		t.Fatal(err)
	}
	assertAfter(t, list, "macvlan")
}

// Refused files: the error names the file and the plugin types, and neither the conf dir nor the
// bin dir changes (no binary copied).
func TestInstallRefusesBeforeChangingAnything(t *testing.T) {
	tests := []struct {
		name, conf string
		want       []string
	}{
		{"calico", `{"cniVersion":"1.0.0","name":"k8s-pod-network","plugins":[{"type":"calico"},{"type":"bandwidth"},{"type":"portmap"}]}`,
			[]string{"plugin types: calico, bandwidth, portmap"}},
		{"ptp", `{"cniVersion":"1.0.0","name":"p","plugins":[{"type":"ptp"},{"type":"portmap"}]}`,
			[]string{"plugin types: ptp, portmap"}},
		{"ipvlan l3", `{"cniVersion":"1.0.0","name":"l3","plugins":[{"type":"ipvlan","mode":"l3","master":"eth1"}]}`,
			[]string{"plugin types: ipvlan", `mode "l3" sends no ARP or NDP`}},
		{"flannel delegating to ptp", `{"name":"cbr0","cniVersion":"0.3.1","plugins":[{"type":"flannel","delegate":{"type":"ptp"}}]}`,
			[]string{"plugin types: flannel", "its delegate is ptp, which is not served"}},
		{"flannel delegating to ipvlan l3", `{"name":"cbr0","cniVersion":"0.3.1","plugins":[{"type":"flannel","delegate":{"type":"ipvlan","mode":"l3"}}]}`,
			[]string{"plugin types: flannel", `mode "l3"`}},
		{"vlan", `{"cniVersion":"1.0.0","name":"v","type":"vlan","master":"eth0","vlanId":5}`,
			[]string{"plugin types: vlan"}},
		{"tap", `{"cniVersion":"1.0.0","name":"t","plugins":[{"type":"tap"}]}`,
			[]string{"plugin types: tap"}},
		{"Multus's own file", `{"cniVersion":"0.3.1","name":"multus-cni-network","type":"multus-shim","clusterNetwork":"/host/etc/cni/net.d/10-flannel.conflist"}`,
			[]string{"plugin types: multus-shim", "this is Multus's configuration", `clusterNetwork "/host/etc/cni/net.d/10-flannel.conflist"`, "--conf-file"}},
		{"Multus with delegates", `{"cniVersion":"0.3.1","name":"multus-cni-network","type":"multus","delegates":[{"cniVersion":"0.3.1","name":"cbr0","plugins":[{"type":"flannel"}]}]}`,
			[]string{"plugin types: multus", "this is Multus's configuration", "the cluster network's file: install"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, def := fakeNode(t)
			writeConf(t, def, tt.conf)
			if err := os.WriteFile(filepath.Join(opts.BinDir, "ndp-announce"), []byte("binary v1"), 0o755); err != nil {
				t.Fatal(err)
			}
			confs, bins := snapshot(t, opts.ConfDir), snapshot(t, opts.BinDir)
			err := install(opts, testEnv, quietLog())
			if err == nil {
				t.Fatal("install succeeded, want a refusal")
			}
			for _, w := range append([]string{def + ":", "ndp-announce chains after bridge, flannel, macvlan, ipvlan, host-device"}, tt.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if got := snapshot(t, opts.ConfDir); !reflect.DeepEqual(got, confs) {
				t.Errorf("conf dir changed: %v, was %v", got, confs)
			}
			if got := snapshot(t, opts.BinDir); !reflect.DeepEqual(got, bins) {
				t.Errorf("bin dir changed: %v, was %v (a binary was copied before the refusal)", got, bins)
			}
		})
	}
}

// On a Multus node, --conf-file names the cluster network's file, which Multus reads.
func TestInstallMultusClusterNetworkWithConfFile(t *testing.T) {
	opts, def := fakeNode(t)
	writeConf(t, filepath.Join(opts.ConfDir, "00-multus.conf"), `{"cniVersion":"0.3.1","name":"multus-cni-network","type":"multus-shim","clusterNetwork":"`+def+`"}`)
	opts.ConfFile = filepath.Base(def)
	if err := install(opts, testEnv, quietLog()); err != nil {
		t.Fatal(err)
	}
	list, err := libcni.ConfListFromFile(def)
	if err != nil {
		t.Fatal(err)
	}
	assertAfter(t, list, "bridge")
}

// The node: 10-bridge.conflist is a symlink (libcni loads it first) beside a regular
// 20-other.conflist. The link's target is edited in place, the link stays, 20-other is untouched.
func TestInstallFollowsSymlinkedDefault(t *testing.T) {
	opts, def := fakeNode(t)
	store := filepath.Join(filepath.Dir(opts.ConfDir), "store")
	if err := os.Mkdir(store, 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(store, "bridge.conflist")
	orig := readConf(t, def)
	if err := os.Rename(def, target); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(opts.ConfDir, "10-bridge.conflist")
	if err := os.Symlink("../store/bridge.conflist", link); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(opts.ConfDir, "20-other.conflist")
	writeConf(t, other, orig)

	for _, confFile := range []string{"", "10-bridge.conflist"} { // default pick, then --conf-file naming the link
		opts.ConfFile = confFile
		if err := install(opts, testEnv, quietLog()); err != nil {
			t.Fatalf("install (--conf-file=%q): %v", confFile, err)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("%s is no longer a symlink: %v", link, err)
		}
		list, err := libcni.ConfListFromFile(link)
		if err != nil {
			t.Fatal(err)
		}
		assertAfter(t, list, "bridge")
		if readConf(t, other) != orig {
			t.Errorf("20-other.conflist was changed")
		}
		if got := listDir(t, opts.ConfDir); !reflect.DeepEqual(got, []string{"10-bridge.conflist", "20-other.conflist"}) {
			t.Errorf("conf dir holds %v: a backup or temporary went next to the link", got)
		}
	}
	if err := uninstall(opts, quietLog()); err != nil || readConf(t, target) != orig {
		t.Errorf("uninstall through the link: %v; target\n%s", err, readConf(t, target))
	}
}

func assertAfter(t *testing.T, list *libcni.NetworkConfigList, after string) {
	t.Helper()
	for i, p := range list.Plugins {
		if p.Network.Type == after {
			if i+1 >= len(list.Plugins) || list.Plugins[i+1].Network.Type != "ndp-announce" {
				t.Fatalf("plugins[%d] after %s is not ndp-announce", i+1, after)
			}
			for _, q := range list.Plugins[i+2:] {
				if q.Network.Type == "ndp-announce" {
					t.Fatalf("ndp-announce chained twice")
				}
			}
			return
		}
	}
	t.Fatalf("no %s in the list", after)
}

func writeConf(t *testing.T, path, data string) { filetest.Write(t, path, data, 0o644) }

var readConf = filetest.Read

// snapshot lists dir's entries, a symlink with its target, a file with its content, to tell that
// nothing was written.
func snapshot(t *testing.T, dir string) []string {
	t.Helper()
	names := listDir(t, dir)
	for i, n := range names {
		p := filepath.Join(dir, n)
		if target, err := os.Readlink(p); err == nil {
			names[i] += " -> " + target
		} else if b, err := os.ReadFile(p); err == nil {
			names[i] += ": " + string(b)
		}
	}
	return names
}
