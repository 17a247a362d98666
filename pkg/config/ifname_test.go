package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
)

// CNI_IFNAME all, default and lo would make IFNAME sysctls reach every interface of the pod (or the
// loopback): refused with code 4 before the config is even planned.
func TestLoadRefusesReservedIfNames(t *testing.T) {
	stdin := []byte(`{"cniVersion":"1.0.0","name":"n","type":"ndp-announce","prevResult":` + bridgeResult + `}`)
	for _, name := range []string{"all", "default", "lo", "..", "a/b", "a:b", "eth 0", "0123456789abcdef"} {
		_, _, _, err := Load(&skel.CmdArgs{IfName: name, Netns: "/run/netns/c1", StdinData: stdin})
		var cniErr *types.Error
		if !errors.As(err, &cniErr) || cniErr.Code != types.ErrInvalidEnvironmentVariables || !strings.Contains(cniErr.Msg, "CNI_IFNAME") {
			t.Errorf("CNI_IFNAME=%q: got %v, want code 4 naming CNI_IFNAME", name, err)
		}
	}
	for _, name := range []string{"eth0", "net1", "all0", "lo1", "eth0.100"} {
		if err := CheckIfName(name); err != nil {
			t.Errorf("CNI_IFNAME=%q refused: %v", name, err)
		}
	}
}
