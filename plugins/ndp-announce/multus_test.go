package main

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"

	"github.com/ndp-announce/ndp-announce/internal/multus"
	"github.com/ndp-announce/ndp-announce/pkg/installer"
)

// The NetworkAttachmentDefinitions in deploy/multus: libcni loads each spec.config, ndp-announce
// sits right after the interface plugin, and what Multus would run for each pod's selection —
// spec.config with the pod's cni-args in every plugin's args.cni — passes the plugin's validation
// with the overrides in place.
func TestMultusExamples(t *testing.T) {
	files, err := filepath.Glob("../../deploy/multus/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("want the bridge and macvlan examples, found %v (%v)", files, err)
	}
	for _, f := range files {
		ex, err := multus.Read(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(ex.NADs) == 0 || len(ex.Selections) == 0 {
			t.Fatalf("%s: %d NetworkAttachmentDefinitions, %d pod selections; want both", f, len(ex.NADs), len(ex.Selections))
		}
		for name, conf := range ex.NADs {
			list, err := libcni.ConfListFromBytes(conf)
			if err != nil {
				t.Fatalf("%s: %s: libcni cannot load spec.config: %v", f, name, err)
			}
			ndpaPlugin(t, f, list)
		}
		for _, sel := range ex.Selections {
			if len(sel.CNIArgs) == 0 {
				t.Errorf("%s: pod %s has no cni-args: the example is to show the overrides", f, sel.Pod)
			}
			stdin := delegateStdin(t, ex, sel)
			if err := validatePluginConfig(stdin); err != nil {
				t.Errorf("%s: pod %s: ndp-announce refuses what Multus would pass it: %v\n%s", f, sel.Pod, err, stdin)
			}
			var got struct {
				Args struct {
					CNI map[string]any `json:"cni"`
				} `json:"args"`
			}
			if err := json.Unmarshal(stdin, &got); err != nil || !reflect.DeepEqual(got.Args.CNI, sel.CNIArgs) {
				t.Errorf("%s: pod %s: args.cni = %v, want the cni-args %v", f, sel.Pod, got.Args.CNI, sel.CNIArgs)
			}
		}
	}
}

// The cni-args do reach the validation: out-of-range or disallowed ones are refused, naming the field.
func TestMultusCNIArgsAreValidated(t *testing.T) {
	ex, err := multus.Read("../../deploy/multus/bridge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for args, want := range map[string]string{
		`{"advertiseCount": 9}`:                              "args.cni.advertiseCount",
		`{"sysctls": ["net.ipv4.conf.IFNAME.forwarding=1"]}`: "args.cni.sysctls[0]",
	} {
		sel := ex.Selections[0]
		sel.CNIArgs = nil
		if err := json.Unmarshal([]byte(args), &sel.CNIArgs); err != nil {
			t.Fatal(err)
		}
		err := validatePluginConfig(delegateStdin(t, ex, sel))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("cni-args %s: err %v, want one naming %s", args, err, want)
		}
	}
}

// ndpaPlugin finds ndp-announce in list and checks it follows an interface plugin it serves.
func ndpaPlugin(t *testing.T, file string, list *libcni.NetworkConfigList) *libcni.PluginConfig {
	t.Helper()
	for i, p := range list.Plugins {
		if p.Network.Type != "ndp-announce" {
			continue
		}
		if i == 0 || !installer.Serves(list.Plugins[i-1].Network.Type) {
			t.Fatalf("%s: ndp-announce at plugins[%d] does not follow one of %v", file, i, installer.Served)
		}
		return p
	}
	t.Fatalf("%s: no ndp-announce in %s", file, list.Name)
	return nil
}

// delegateStdin is ndp-announce's stdin for sel as libcni builds it from Multus's delegate
// config: the plugin's object with the list's name and cniVersion.
func delegateStdin(t *testing.T, ex multus.Example, sel multus.Selection) []byte {
	t.Helper()
	conf, err := ex.Delegate(sel)
	if err != nil {
		t.Fatal(err)
	}
	list, err := libcni.ConfListFromBytes(conf)
	if err != nil {
		t.Fatalf("%s: pod %s: libcni cannot load the delegate config: %v", ex.Path, sel.Pod, err)
	}
	var obj map[string]any
	if err := json.Unmarshal(ndpaPlugin(t, ex.Path, list).Bytes, &obj); err != nil {
		t.Fatal(err)
	}
	obj["name"], obj["cniVersion"] = list.Name, list.CNIVersion
	stdin, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return stdin
}
