package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/vishvananda/netlink"

	"github.com/ndp-announce/ndp-announce/internal/nstest"
)

// requireConfigError: err is a CNI error with code and a message naming field.
func requireConfigError(t *testing.T, err error, code uint, field string) {
	t.Helper()
	var cniErr *types.Error
	if !errors.As(err, &cniErr) {
		t.Errorf("got %v, want a CNI error with code %d naming %s", err, code, field)
		return
	}
	if cniErr.Code != code || !strings.Contains(cniErr.Msg, field) {
		t.Errorf("got code %d %q, want code %d naming %s", cniErr.Code, cniErr.Msg, code, field)
	}
}

// addConfigError is a bad input to ADD and how it must be refused.
type addConfigError struct {
	name   string
	fields map[string]any
	raw    string // stdin instead of the config
	ifName string
	code   uint
	field  string
	kernel bool // only the kernel can refuse it: CHECK does not see it
}

// addConfigErrors cover every field ADD validates, and what only the kernel can refuse.
var addConfigErrors = []addConfigError{
	{name: "count out of range", fields: map[string]any{"advertiseCount": 9}, field: "advertiseCount"},
	{name: "interval not a number", fields: map[string]any{"advertiseIntervalMs": "fast"}, field: "advertiseIntervalMs"},
	{name: "interval too short", fields: map[string]any{"advertiseIntervalMs": 10}, field: "advertiseIntervalMs"},
	{name: "timeout too long", fields: map[string]any{"linkUpTimeoutMs": 40000}, field: "linkUpTimeoutMs"},
	{name: "negative timeout", fields: map[string]any{"dadTimeoutMs": -1}, field: "dadTimeoutMs"},
	{name: "relative dataDir", fields: map[string]any{"dataDir": "run/ndpa"}, field: "dataDir"},
	{name: "relative logFile", fields: map[string]any{"logFile": "ndpa.log"}, field: "logFile"},
	{name: "unknown logLevel", fields: map[string]any{"logLevel": "loud"}, field: "logLevel"},
	{name: "sysctl outside net", fields: map[string]any{"sysctls": []string{"kernel.panic=1"}}, field: "sysctls[0]"},
	{name: "sysctl not a list", fields: map[string]any{"sysctls": "net.ipv4.conf.IFNAME.arp_ignore=1"}, field: "sysctls"},
	{name: "override count", fields: map[string]any{"args": map[string]any{"cni": map[string]any{"advertiseCount": 5}}}, field: "args.cni.advertiseCount"},
	{name: "override interval", fields: map[string]any{"args": map[string]any{"cni": map[string]any{"advertiseIntervalMs": 5000}}}, field: "args.cni.advertiseIntervalMs"},
	{name: "override sysctl not allowed", fields: map[string]any{"args": map[string]any{"cni": map[string]any{"sysctls": []string{"net.ipv4.conf.IFNAME.arp_ignore=1"}}}}, field: "args.cni.sysctls[0]"},
	{name: "no prevResult", fields: map[string]any{"prevResult": nil}, field: "prevResult"},
	{name: "prevResult garbled", fields: map[string]any{"prevResult": map[string]any{"ips": "none"}}, field: "prevResult"},
	{name: "interface not in prevResult", ifName: "eth1", field: "prevResult.interfaces"},
	{name: "reserved CNI_IFNAME", ifName: "all", code: types.ErrInvalidEnvironmentVariables, field: "CNI_IFNAME"},
	{name: "prevResult address of no interface", field: "prevResult.ips[0]", fields: map[string]any{"prevResult": map[string]any{
		"cniVersion": "1.1.0", "interfaces": []any{map[string]any{"name": "eth0"}},
		"ips": []any{map[string]any{"address": "198.51.100.99/24", "interface": 5}}}}},
	{name: "not JSON", raw: `{"cniVersion": "1.1.0",`, code: types.ErrDecodingFailure, field: "JSON"},
	{name: "unknown knob", kernel: true, field: "sysctls[1]",
		fields: map[string]any{"sysctls": []string{"net.ipv4.conf.IFNAME.arp_ignore=1", "net.ipv4.conf.IFNAME.no_such_knob=1"}}},
	{name: "value the kernel refuses", kernel: true, field: "sysctls[1]",
		fields: map[string]any{"sysctls": []string{"net.ipv4.conf.IFNAME.arp_ignore=1", "net.ipv4.conf.IFNAME.arp_announce=abc"}}},
	{name: "allowed override the kernel refuses", kernel: true, field: "args.cni.sysctls[0]",
		fields: map[string]any{"allowedSysctls": []string{"net.ipv4.conf.IFNAME.arp_ignore"}, "args": map[string]any{"cni": map[string]any{"sysctls": []string{"net.ipv4.conf.IFNAME.arp_ignore=abc"}}}}},
}

// Every bad input to ADD is refused with the right CNI code and a message naming the field as the
// user wrote it, and changes nothing: no sysctl written, no address gone, no announcer, no state.
// CHECK reads the same config and refuses the same way (but for what only the kernel can tell).
func TestAddConfigErrors(t *testing.T) {
	b := newBed(t)
	a := b.attach(t, attachOptions{})
	a.staleNeigh(t)
	before := a.snapshot(t)
	for _, tc := range addConfigErrors {
		t.Run(tc.name, func(t *testing.T) {
			if tc.code == 0 {
				tc.code = types.ErrInvalidNetworkConfig
			}
			stdin := []byte(tc.raw)
			if tc.raw == "" {
				stdin = a.conf(t, tc.fields)
			}
			args := a.args(stdin)
			if tc.ifName != "" {
				args.IfName = tc.ifName
			}
			_, err := a.addArgs(t, args)
			requireConfigError(t, err, tc.code, tc.field)
			if !tc.kernel {
				requireConfigError(t, a.checkArgs(args), tc.code, tc.field)
			}
			requireUntouched(t, a, before)
		})
	}
}

// untouchedKeys are the container's sysctls the refused configs would have written.
var untouchedKeys = []string{
	"net.ipv4.conf.IFNAME.arp_ignore", "net.ipv4.conf.IFNAME.arp_announce", "net.ipv6.conf.IFNAME.disable_ipv6",
}

// snapshot reads untouchedKeys.
func (a *attachment) snapshot(t *testing.T) map[string]string {
	t.Helper()
	m := make(map[string]string, len(untouchedKeys))
	for _, k := range untouchedKeys {
		m[k] = a.sysctl(t, k)
	}
	return m
}

// requireUntouched: the container is as bridge left it (the sysctls as in before, every address of
// bridge's result on the interface), the peer heard nothing, and nothing runs or is recorded.
func requireUntouched(t *testing.T, a *attachment, before map[string]string) {
	t.Helper()
	for k, v := range a.snapshot(t) {
		if v != before[k] {
			t.Errorf("%s is %s after a refused ADD, was %s", k, v, before[k])
		}
	}
	addrs, err := a.ctr.Handle.AddrList(nstest.Link(t, a.ctr.Handle, bedIf), netlink.FAMILY_ALL)
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range a.ips() {
		found := false
		for _, ad := range addrs {
			found = found || ad.IP.Equal(ip.AsSlice())
		}
		if !found {
			t.Errorf("%s left the interface after a refused ADD", ip)
		}
	}
	if got := a.peerSees(t, a.ipv4, 0); !bytes.Equal(got, bedOldMAC) {
		t.Errorf("a refused ADD announced %s: the peer has %s", a.ipv4, got)
	}
	if pids := announcerChildren(t); len(pids) > 0 {
		t.Errorf("a refused ADD started announcers %v", pids)
	}
	if files := stateFiles(t, a.bed.dataDir); len(files) > 0 {
		t.Errorf("a refused ADD left state files %v", files)
	}
}
