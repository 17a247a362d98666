package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
)

// planOf decodes and plans a config, the way ADD does before touching anything.
func planOf(t *testing.T, conf string) (*Plan, error) {
	t.Helper()
	c, err := Decode([]byte(conf))
	if err != nil {
		return nil, err
	}
	return NewPlan(c)
}

func TestPlanDefaults(t *testing.T) {
	p, err := planOf(t, `{"cniVersion":"1.0.0","name":"n","type":"ndp-announce"}`)
	if err != nil {
		t.Fatal(err)
	}
	if p.AdvertiseCount != 3 || p.AdvertiseInterval != time.Second || !p.AnnounceToGateways || !p.DisableUnusedIPv6 {
		t.Errorf("defaults: count=%d interval=%v gateways=%v disableUnusedIPv6=%v", p.AdvertiseCount, p.AdvertiseInterval, p.AnnounceToGateways, p.DisableUnusedIPv6)
	}
	if p.Waits.LinkUp != 5*time.Second || p.Waits.BridgePort != 200*time.Millisecond || p.Waits.McastRoute != 200*time.Millisecond || p.Waits.DAD != 3*time.Second {
		t.Errorf("default timeouts: %+v", p.Waits)
	}
	if p.StaleListen != time.Minute {
		t.Errorf("default staleListenMs: %v", p.StaleListen)
	}
	if p.Conf.DataDir != "/run/cni/ndp-announce" {
		t.Errorf("default dataDir %q", p.Conf.DataDir)
	}
}

func TestPlanOverrides(t *testing.T) {
	p, err := planOf(t, `{"type":"ndp-announce","advertiseCount":2,
		"sysctls":["net.ipv4.conf.IFNAME.arp_notify=1"],
		"allowedSysctls":["net\\.ipv6\\.conf\\.IFNAME\\.disable_ipv6"],
		"args":{"cni":{"advertiseCount":1,"advertiseIntervalMs":300,"sysctls":["net.ipv6.conf.ifname.disable_ipv6=1"]}}}`)
	if err != nil {
		t.Fatal(err)
	}
	if p.AdvertiseCount != 1 || p.AdvertiseInterval != 300*time.Millisecond {
		t.Errorf("overrides not applied: count=%d interval=%v", p.AdvertiseCount, p.AdvertiseInterval)
	}
	var keys []string
	for _, e := range p.Sysctls {
		keys = append(keys, e.Key+"="+e.Value)
	}
	want := "net.ipv4.conf.IFNAME.arp_notify=1,net.ipv6.conf.IFNAME.disable_ipv6=1"
	if got := strings.Join(keys, ","); got != want {
		t.Errorf("sysctls in order: got %s, want %s", got, want)
	}
}

// Every bad input is a CNI error with code 7 (or 6 for undecodable JSON) whose message names the field.
func TestPlanBadInput(t *testing.T) {
	tests := []struct {
		name, conf string
		code       uint
		field      string
	}{
		{"count too high", `{"advertiseCount":4}`, types.ErrInvalidNetworkConfig, "advertiseCount"},
		{"count negative", `{"advertiseCount":-1}`, types.ErrInvalidNetworkConfig, "advertiseCount"},
		{"count mistyped", `{"advertiseCount":"3"}`, types.ErrInvalidNetworkConfig, "advertiseCount"},
		{"count fractional", `{"advertiseCount":1.5}`, types.ErrInvalidNetworkConfig, "advertiseCount"},
		{"interval too low", `{"advertiseIntervalMs":99}`, types.ErrInvalidNetworkConfig, "advertiseIntervalMs"},
		{"interval too high", `{"advertiseIntervalMs":2001}`, types.ErrInvalidNetworkConfig, "advertiseIntervalMs"},
		{"link timeout", `{"linkUpTimeoutMs":-5}`, types.ErrInvalidNetworkConfig, "linkUpTimeoutMs"},
		{"bridge timeout", `{"bridgePortTimeoutMs":40000}`, types.ErrInvalidNetworkConfig, "bridgePortTimeoutMs"},
		{"mcast timeout mistyped", `{"mcastRouteTimeoutMs":true}`, types.ErrInvalidNetworkConfig, "mcastRouteTimeoutMs"},
		{"dad timeout", `{"dadTimeoutMs":30001}`, types.ErrInvalidNetworkConfig, "dadTimeoutMs"},
		{"stale listen negative", `{"staleListenMs":-1}`, types.ErrInvalidNetworkConfig, "staleListenMs"},
		{"stale listen too long", `{"staleListenMs":600001}`, types.ErrInvalidNetworkConfig, "staleListenMs"},
		{"stale listen mistyped", `{"staleListenMs":"60s"}`, types.ErrInvalidNetworkConfig, "staleListenMs"},
		{"bool mistyped", `{"disableUnusedIPv6":"yes"}`, types.ErrInvalidNetworkConfig, "disableUnusedIPv6"},
		{"sysctl not per-interface", `{"sysctls":["net.ipv4.ip_forward=1"]}`, types.ErrInvalidNetworkConfig, "sysctls[0]"},
		{"sysctl without =", `{"sysctls":["net.ipv4.conf.IFNAME.arp_notify"]}`, types.ErrInvalidNetworkConfig, "sysctls[0]"},
		{"sysctl literal ifname", `{"sysctls":["net.ipv4.conf.IFNAME.arp_notify=1","net.ipv6.conf.eth0.disable_ipv6=1"]}`, types.ErrInvalidNetworkConfig, "sysctls[1]"},
		{"sysctl escapes", `{"sysctls":["net.ipv4.conf.IFNAME.../../x=1"]}`, types.ErrInvalidNetworkConfig, "sysctls[0]"},
		{"sysctl multi-line", `{"sysctls":["net.ipv4.conf.IFNAME.arp_notify=1\n0"]}`, types.ErrInvalidNetworkConfig, "sysctls[0]"},
		{"sysctls mistyped", `{"sysctls":"net.ipv4.conf.IFNAME.arp_notify=1"}`, types.ErrInvalidNetworkConfig, "sysctls"},
		{"override not allowed", `{"args":{"cni":{"sysctls":["net.ipv4.conf.IFNAME.arp_notify=1"]}}}`, types.ErrInvalidNetworkConfig, "args.cni.sysctls[0]"},
		{"override outside allowlist", `{"allowedSysctls":["net\\.ipv6\\..*"],"args":{"cni":{"sysctls":["net.ipv4.conf.IFNAME.arp_notify=1"]}}}`, types.ErrInvalidNetworkConfig, "args.cni.sysctls[0]"},
		{"override count", `{"args":{"cni":{"advertiseCount":9}}}`, types.ErrInvalidNetworkConfig, "args.cni.advertiseCount"},
		{"override interval mistyped", `{"args":{"cni":{"advertiseIntervalMs":"fast"}}}`, types.ErrInvalidNetworkConfig, "args.cni.advertiseIntervalMs"},
		{"bad allowlist regexp", `{"allowedSysctls":["("]}`, types.ErrInvalidNetworkConfig, "allowedSysctls"},
		{"relative dataDir", `{"dataDir":"run/x"}`, types.ErrInvalidNetworkConfig, "dataDir"},
		{"relative logFile", `{"logFile":"x.log"}`, types.ErrInvalidNetworkConfig, "logFile"},
		{"bad log level", `{"logLevel":"loud"}`, types.ErrInvalidNetworkConfig, "logLevel"},
		{"not JSON", `{"advertiseCount":`, types.ErrDecodingFailure, "not valid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := planOf(t, tc.conf)
			var cniErr *types.Error
			if !errors.As(err, &cniErr) {
				t.Fatalf("got %v (%T), want a *types.Error", err, err)
			}
			if cniErr.Code != tc.code {
				t.Errorf("code %d, want %d (%s)", cniErr.Code, tc.code, cniErr.Msg)
			}
			if !strings.Contains(cniErr.Msg, tc.field) {
				t.Errorf("message %q does not name %q", cniErr.Msg, tc.field)
			}
		})
	}
}

func TestPrevResultRequired(t *testing.T) {
	c, err := Decode([]byte(`{"cniVersion":"1.0.0","type":"ndp-announce"}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParsePrevResult(c)
	var cniErr *types.Error
	if !errors.As(err, &cniErr) || cniErr.Code != types.ErrInvalidNetworkConfig || !strings.Contains(cniErr.Msg, "prevResult") {
		t.Fatalf("got %v, want code 7 naming prevResult", err)
	}
}
