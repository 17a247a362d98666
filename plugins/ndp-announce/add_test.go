package main

import (
	"encoding/json"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/plugins/pkg/testutils"

	"github.com/ndp-announce/ndp-announce/internal/nstest"
)

// observe bounds how long a frame that ADD sent may take to reach the peer's neighbour cache
// (softirq, a loaded machine): the bound of a wait, not a sleep.
const observe = 2 * time.Second

// For every spec version, with bridge's real result: ADD's first round alone (advertiseCount 1)
// makes the peer replace the recycled IP's old MAC, the printed result is bridge's in the
// requested version, CHECK passes on it, and DEL leaves no announcer and no state behind.
func TestAddEveryVersion(t *testing.T) {
	b := newBed(t)
	for _, ver := range chainingVersions() {
		t.Run(ver, func(t *testing.T) {
			a := b.attach(t, attachOptions{Version: ver})
			ips := a.staleNeigh(t)
			conf := a.conf(t, map[string]any{"advertiseCount": 1})
			res, err := a.add(t, conf)
			if err != nil {
				t.Fatalf("ADD: %v", err)
			}
			a.requirePeerLearns(t, observe, "ADD", ips...)
			requireSameResult(t, res, a.prev, ver)
			if testutils.SpecVersionHasCHECK(ver) {
				if err := a.check(a.conf(t, map[string]any{"prevResult": res})); err != nil {
					t.Errorf("CHECK with ADD's result: %v", err)
				}
			}
			if err := a.del(conf); err != nil {
				t.Fatalf("DEL: %v", err)
			}
			requireAnnouncersExit(t, 5*time.Second, "DEL")
			requireNoState(t, b.dataDir, "DEL")
		})
	}
}

// requireSameResult: ADD printed a result of version ver that says what bridge's said.
func requireSameResult(t *testing.T, got, want types.Result, ver string) {
	t.Helper()
	if got == nil {
		t.Fatal("ADD printed no result")
	}
	if got.Version() != ver {
		t.Errorf("ADD printed a %s result for a %s config", got.Version(), ver)
	}
	g, w := toCurrent(t, got), toCurrent(t, want)
	if !reflect.DeepEqual(g, w) {
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		t.Errorf("ADD changed the result:\n got %s\nwant %s", gj, wj)
	}
}

// The background rounds run in the announcer child, which DEL stops: with three rounds two
// seconds apart it would otherwise run four more seconds.
func TestAddBackgroundRoundsStoppedByDel(t *testing.T) {
	b := newBed(t)
	a := b.attach(t, attachOptions{})
	conf := a.conf(t, longRounds())
	pid := a.addRunning(t, conf)
	if files := stateFiles(t, b.dataDir); len(files) != 1 {
		t.Fatalf("state files after ADD: %v, want one", files)
	}
	// The peer's entry goes stale again: round 2, two seconds on, replaces it once more.
	a.staleNeigh(t)
	a.requirePeerLearns(t, 2000*time.Millisecond+observe, "round 2 was due")
	requireDelStops(t, a.args(conf), pid, b.dataDir)
}

// A sysctl that sets disable_ipv6 takes the container's IPv6 address away: ADD drops it from the
// result (and IPv6 alone), so the result tells the truth and CHECK passes on it.
func TestAddDropsIPv6ThatASysctlRemoved(t *testing.T) {
	b := newBed(t)
	a := b.attach(t, attachOptions{})
	a.staleNeigh(t)
	conf := a.conf(t, map[string]any{"advertiseCount": 1, "sysctls": []string{"net.ipv6.conf.IFNAME.disable_ipv6=1"}})
	res, err := a.add(t, conf)
	if err != nil {
		t.Fatalf("ADD: %v", err)
	}
	t.Cleanup(func() { a.del(conf) })
	got := toCurrent(t, res)
	var v4 []netip.Addr
	for _, ipc := range got.IPs {
		ip, _ := netip.AddrFromSlice(ipc.Address.IP)
		if ip = ip.Unmap(); ip.Is6() {
			t.Errorf("the result still lists %s, which disable_ipv6=1 removed", ipc.Address.String())
		} else {
			v4 = append(v4, ip)
		}
	}
	if len(v4) != 1 || v4[0] != a.ipv4 {
		t.Errorf("the result's IPv4 addresses are %v, want bridge's %s", v4, a.ipv4)
	}
	if v := a.sysctl(t, "net.ipv6.conf.IFNAME.disable_ipv6"); v != "1" {
		t.Errorf("disable_ipv6 is %s after ADD, want 1", v)
	}
	if err := a.check(a.conf(t, map[string]any{"prevResult": res, "sysctls": []string{"net.ipv6.conf.IFNAME.disable_ipv6=1"}})); err != nil {
		t.Errorf("CHECK with ADD's result: %v", err)
	}
	// The result as bridge printed it is no longer true, and CHECK says so.
	if err := a.check(conf); err == nil {
		t.Error("CHECK passed with a prevResult that lists the IPv6 address ADD dropped")
	}
	a.requirePeerLearns(t, observe, "ADD", a.ipv4)
}

// An IPv4-only attachment gets IPv6 turned off (disableUnusedIPv6 defaults to true), and keeps it
// when disableUnusedIPv6 is false.
func TestAddIPv4OnlyDisablesIPv6(t *testing.T) {
	b := newBed(t)
	for _, tc := range []struct {
		name    string
		fields  map[string]any
		disable string
	}{
		{"default", map[string]any{}, "1"},
		{"disableUnusedIPv6 false", map[string]any{"disableUnusedIPv6": false}, "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := b.attach(t, attachOptions{IPv4Only: true})
			a.staleNeigh(t)
			tc.fields["advertiseCount"] = 1
			conf := a.conf(t, tc.fields)
			res, err := a.add(t, conf)
			if err != nil {
				t.Fatalf("ADD: %v", err)
			}
			t.Cleanup(func() { a.del(conf) })
			if v := a.sysctl(t, "net.ipv6.conf.IFNAME.disable_ipv6"); v != tc.disable {
				t.Errorf("disable_ipv6 is %s after ADD, want %s", v, tc.disable)
			}
			requireSameResult(t, res, a.prev, a.version)
			a.requirePeerLearns(t, observe, "ADD")
		})
	}
}

// advertiseCount 0 sends nothing and starts no announcer: the peer keeps the old MAC.
func TestAddCountZeroSendsNothing(t *testing.T) {
	b := newBed(t)
	a := b.attach(t, attachOptions{})
	a.staleNeigh(t)
	conf := a.conf(t, map[string]any{"advertiseCount": 0})
	res, err := a.add(t, conf)
	if err != nil {
		t.Fatalf("ADD: %v", err)
	}
	requireSameResult(t, res, a.prev, a.version)
	if pids := announcerChildren(t); len(pids) > 0 {
		t.Errorf("advertiseCount 0 started announcers %v", pids)
	}
	a.requirePeerKeepsOld(t, observe/2, "ADD with advertiseCount 0")
	if err := a.del(conf); err != nil {
		t.Errorf("DEL: %v", err)
	}
}

// Runtimes add keys of their own, so an unknown key does not fail ADD; a misspelt one is named in
// the log, since it silently keeps its field's default.
func TestAddUnknownKeys(t *testing.T) {
	b := newBed(t)
	a := b.attach(t, attachOptions{})
	a.staleNeigh(t)
	conf := a.conf(t, map[string]any{"advertiseCount": 1, "advertiseCnt": 2, "runtimeConfig": map[string]any{"bandwidth": map[string]any{}}})
	res, err := a.add(t, conf)
	if err != nil {
		t.Fatalf("ADD with unknown keys: %v", err)
	}
	t.Cleanup(func() { a.del(conf) })
	requireSameResult(t, res, a.prev, a.version)
	a.requirePeerLearns(t, observe, "ADD")
	if log, err := os.ReadFile(b.logFile); err != nil || !strings.Contains(string(log), "advertiseCnt") {
		t.Errorf("the log does not name the ignored key advertiseCnt (%v):\n%s", err, log)
	}
}

// The interface that prevResult names is gone from the netns: the chain or the result is wrong,
// code 7 naming the entry; with the netns gone too ADD fails. Neither leaves an announcer.
func TestAddInterfaceGone(t *testing.T) {
	b := newBed(t)
	a := b.attach(t, attachOptions{})
	conf := a.conf(t, nil)
	if err := a.ctr.Handle.LinkDel(nstest.Link(t, a.ctr.Handle, bedIf)); err != nil {
		t.Fatal(err)
	}
	_, err := a.add(t, conf)
	requireConfigError(t, err, types.ErrInvalidNetworkConfig, "prevResult.interfaces")
	if err := b.lab.Remove(a.ctr); err != nil {
		t.Fatal(err)
	}
	if _, err := a.add(t, conf); err == nil {
		t.Error("ADD succeeded in a netns that is gone")
	}
	if pids := announcerChildren(t); len(pids) > 0 {
		t.Errorf("a failed ADD started announcers %v", pids)
	}
}

// A repeated ADD of one attachment (a runtime's retry) replaces its announcer: one runs after it,
// the first is gone, and one DEL stops what is left.
func TestAddAgainReplacesTheAnnouncer(t *testing.T) {
	b := newBed(t)
	a := b.attach(t, attachOptions{})
	conf := a.conf(t, longRounds())
	first := a.addRunning(t, conf)
	second := a.addRunning(t, conf) // exactly one runs
	if second == first || !waitExit(first, 0) {
		t.Errorf("the first ADD's announcer %d still runs after the second ADD", first)
	}
	if files := stateFiles(t, b.dataDir); len(files) != 1 {
		t.Errorf("state files after two ADDs of one attachment: %v, want one", files)
	}
	requireDelStops(t, a.args(conf), second, b.dataDir)
}
