package config

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
)

// loadWith runs Load on a config whose prevResult is prev, for eth0 in /run/netns/c1.
func loadWith(t *testing.T, prev string) (*Attachment, error) {
	t.Helper()
	v := "1.0.0"
	var probe struct{ CNIVersion string }
	if json.Unmarshal([]byte(prev), &probe) == nil && probe.CNIVersion != "" {
		v = probe.CNIVersion // a prevResult comes in the config's version
	}
	stdin := `{"cniVersion":"` + v + `","name":"n","type":"ndp-announce","prevResult":` + prev + `}`
	if !json.Valid([]byte(stdin)) {
		t.Fatalf("test config is not JSON: %s", stdin)
	}
	_, _, att, err := Load(&skel.CmdArgs{IfName: "eth0", Netns: "/run/netns/c1", StdinData: []byte(stdin)})
	return att, err
}

// goTypeName matches what encoding/json says of Go types: "Go struct field Result.ips.interface".
var goTypeName = regexp.MustCompile(`Go struct|(^|[^A-Za-z])Result\.`)

// A prevResult entry that is wrong is refused before anything is touched, code 7 naming the entry.
func TestPrevResultRefused(t *testing.T) {
	ifs := `"interfaces":[{"name":"cni0"},{"name":"eth0","sandbox":"/run/netns/c1"}]`
	tests := []struct{ name, prev, field string }{
		{"interface index out of range", `{` + ifs + `,"ips":[{"interface":5,"address":"198.51.100.10/24"}]}`, "prevResult.ips[0].interface"},
		{"interface index negative", `{` + ifs + `,"ips":[{"interface":-1,"address":"198.51.100.10/24"}]}`, "prevResult.ips[0].interface"},
		{"interface index fractional", `{` + ifs + `,"ips":[{"interface":1.5,"address":"198.51.100.10/24"}]}`, "prevResult.ips[0].interface"},
		{"interface index a string", `{` + ifs + `,"ips":[{"interface":"1","address":"198.51.100.10/24"}]}`, "prevResult.ips[0].interface"},
		{"address missing", `{` + ifs + `,"ips":[{"interface":1}]}`, "prevResult.ips[0].address"},
		{"address garbage", `{` + ifs + `,"ips":[{"interface":1,"address":"198.51.100.10/24"},{"interface":1,"address":"x/24"}]}`, "prevResult.ips[1].address"},
		{"address without length", `{` + ifs + `,"ips":[{"interface":1,"address":"198.51.100.10"}]}`, "prevResult.ips[0].address"},
		{"v4-mapped address", `{` + ifs + `,"ips":[{"interface":1,"address":"::ffff:198.51.100.10/120"}]}`, "prevResult.ips[0].address"},
		{"gateway garbage", `{` + ifs + `,"ips":[{"interface":1,"address":"198.51.100.10/24","gateway":"zz"}]}`, "prevResult.ips[0].gateway"},
		{"gateway v4-mapped", `{` + ifs + `,"ips":[{"interface":1,"address":"198.51.100.10/24","gateway":"::ffff:198.51.100.1"}]}`, "prevResult.ips[0].gateway"},
		{"gateway of the other family", `{` + ifs + `,"ips":[{"interface":1,"address":"198.51.100.10/24","gateway":"2001:db8::1"}]}`, "prevResult.ips[0].gateway"},
		{"ips not a list", `{` + ifs + `,"ips":{}}`, "prevResult.ips"},
		{"interface not an object", `{"interfaces":[3]}`, "prevResult.interfaces[0]"},
		{"interface name not a string", `{"interfaces":[{"name":3}]}`, "prevResult.interfaces[0].name"},
		{"route dst garbage", `{` + ifs + `,"routes":[{"dst":"default"}]}`, "prevResult.routes[0].dst"},
		{"route gw garbage", `{` + ifs + `,"routes":[{"dst":"0.0.0.0/0","gw":"x"}]}`, "prevResult.routes[0].gw"},
		{"container interface twice", `{"interfaces":[{"name":"eth0","sandbox":"/run/netns/c1"},{"name":"eth0","sandbox":"/run/netns/c1"}]}`, "prevResult.interfaces[1]"},
		{"container interface absent", `{` + strings.Replace(ifs, "eth0", "eth1", 1) + `}`, "prevResult.interfaces"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			att, err := loadWith(t, tc.prev)
			var cniErr *types.Error
			if !errors.As(err, &cniErr) || cniErr.Code != types.ErrInvalidNetworkConfig {
				t.Fatalf("got %+v, %v; want code 7", att, err)
			}
			if !strings.HasPrefix(cniErr.Msg, tc.field+":") {
				t.Errorf("message %q does not start with %q", cniErr.Msg, tc.field)
			}
			if goTypeName.MatchString(cniErr.Msg) {
				t.Errorf("message names Go types: %q", cniErr.Msg)
			}
		})
	}
}

// What bridge returns (with gateways, routes, 0.3.x interface-less IPs) is accepted unchanged.
func TestPrevResultAccepted(t *testing.T) {
	for name, prev := range map[string]string{
		"bridge":             bridgeResult,
		"no interface index": `{"cniVersion":"0.3.1","interfaces":[{"name":"eth0","sandbox":"/run/netns/c1"}],"ips":[{"version":"4","address":"198.51.100.10/24","gateway":""}]}`,
		"gateway null":       `{"interfaces":[{"name":"eth0","sandbox":"/run/netns/c1"}],"ips":[{"interface":0,"address":"2001:db8:1::10/64","gateway":null}]}`,
	} {
		att, err := loadWith(t, prev)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(att.Addrs()) == 0 {
			t.Errorf("%s: no addresses in %+v", name, att)
		}
	}
}
