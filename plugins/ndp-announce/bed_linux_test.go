package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/vishvananda/netlink"

	nslab "github.com/ndp-announce/ndp-announce/internal/lab"
	"github.com/ndp-announce/ndp-announce/internal/nstest"
	"github.com/ndp-announce/ndp-announce/pkg/iface"
	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
)

// The commands' test bed is what a node looks like to the plugin, built with internal/lab:
//
//	peer netns                  host netns                          container netns (one per attachment)
//	eth0 198.51.100.2/24 ── vpeer ─ [br0 198.51.100.1/24] ─ veth* ── eth0 (made by the bridge plugin)
//	     2001:db8:1::2/64               2001:db8:1::1/64
//
// The real reference bridge and host-local plugins make each attachment through libcni, run
// inside the host netns as a runtime runs them on a node; their result, in the spec version under
// test, is the prevResult our commands get. The commands run in process, in the host netns too
// (as the reference plugins' own tests run theirs). The peer is a real Linux stack whose neighbour
// cache says whether an announcement arrived. DAD is off in every namespace: lab addresses are
// unique by construction, and a tentative address cannot send.

const (
	bedBridge = "br0"
	bedIf     = "eth0"
)

var (
	bedBridgeMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x01, 0x01}
	bedPeerMAC   = net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x01, 0x02}
	// bedOldMAC is the previous owner's MAC of a recycled IP, as the peer still remembers it.
	bedOldMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x0e, 0x1d}

	bedGwV4   = netip.MustParsePrefix("198.51.100.1/24")
	bedGwV6   = netip.MustParsePrefix("2001:db8:1::1/64")
	bedPeerV4 = netip.MustParsePrefix("198.51.100.2/24")
	bedPeerV6 = netip.MustParsePrefix("2001:db8:1::2/64")
)

// chainingVersions are the spec versions with chaining (0.3.0 on), all of which ndp-announce and
// bridge speak.
func chainingVersions() []string {
	var out []string
	for _, v := range testutils.AllSpecVersions {
		if testutils.SpecVersionHasChaining(v) {
			out = append(out, v)
		}
	}
	return out
}

type bed struct {
	lab     *nslab.Lab
	host    ns.NetNS
	peer    nstest.Iface // the peer's eth0, whose neighbour cache the tests read
	cni     *libcni.CNIConfig
	network string
	ipamDir string
	dataDir string
	logFile string
}

// newBed builds internal/lab's host and peer namespaces with the bridge; it skips the test unless
// it runs as root with the reference plugins at hand. Every announcer that ADD starts must have
// exited when the test ends: the test waits for stragglers, fails, and kills them.
func newBed(t *testing.T) *bed {
	t.Helper()
	nstest.RequireRoot(t)
	binDirs := pluginDirs(t)
	l := nslab.ForTest(t, nslab.Options{
		Tag: "ndpt", Bridge: bedBridge, BridgeMAC: bedBridgeMAC, BridgeAddrs: []netip.Prefix{bedGwV4, bedGwV6},
		Peer:  &nslab.Port{Name: "vpeer", IfName: bedIf, MAC: bedPeerMAC, Addrs: []netip.Prefix{bedPeerV4, bedPeerV6}},
		NoDAD: true,
	})
	dir := t.TempDir()
	b := &bed{
		lab: l, host: l.Host.NS, peer: nstest.Iface{H: l.Peer.Handle, Index: l.PeerIndex},
		cni:     libcni.NewCNIConfigWithCacheDir(binDirs, filepath.Join(dir, "cache"), nil),
		network: "ndpa-test",
		ipamDir: filepath.Join(dir, "ipam"), dataDir: filepath.Join(dir, "data"), logFile: filepath.Join(dir, "ndp-announce.log"),
	}
	bedNetNSPaths = append(bedNetNSPaths, l.Host.Path, l.Peer.Path)
	// Before the lab's own cleanup, which would call a still running announcer a straggler.
	t.Cleanup(func() { reapAnnouncers(t, 10*time.Second) })
	t.Cleanup(func() { b.dumpLogOnFailure(t) })
	b.waitPeerReady(t)
	b.waitPeerLearns(t)
	return b
}

// bedNetNSPaths are the namespaces the tests made; TestMain checks that none is left.
var bedNetNSPaths []string

// leftovers are the recorded namespaces still mounted and this process's children not reaped.
func leftovers() []string {
	var out []string
	for _, p := range bedNetNSPaths {
		if _, err := os.Stat(p); err == nil {
			out = append(out, "netns "+p)
		}
	}
	for _, pid := range childPIDs() {
		out = append(out, fmt.Sprintf("child process %d", pid))
	}
	return out
}

// pluginDirs is where bridge and host-local are: NDPA_BIN_DIR (colon-separated, as the Makefile
// and bats use it), else the repository's .tools/bin that `make deps-go` fills.
func pluginDirs(t *testing.T) []string {
	t.Helper()
	env := os.Getenv("NDPA_BIN_DIR")
	if env == "" {
		env, _ = filepath.Abs("../../.tools/bin")
	}
	dirs := filepath.SplitList(env)
	for _, plugin := range []string{"bridge", "host-local"} {
		found := false
		for _, d := range dirs {
			if fi, err := os.Stat(filepath.Join(d, plugin)); err == nil && fi.Mode()&0o111 != 0 {
				found = true
			}
		}
		if !found {
			t.Skipf("no %s plugin in NDPA_BIN_DIR=%s: run `make deps-go` (these tests need the real reference plugins)", plugin, env)
		}
	}
	return dirs
}

// waitPeerReady waits until the peer's port forwards and the peer can send NAs.
func (b *bed) waitPeerReady(t *testing.T) {
	t.Helper()
	target := iface.Target{NetNS: b.lab.Peer.Path, IfName: bedIf, HostNetNS: b.lab.Host.Path}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r := iface.WaitBridgePort(ctx, target); !r.Met {
		t.Fatalf("bed: the peer's bridge port does not forward: %v", r)
	}
	if r := iface.WaitMcastRoute(ctx, target); !r.Met {
		t.Fatalf("bed: the peer has no ff00::/8 route: %v", r)
	}
}

// waitPeerLearns sends requests from br0 to the peer until the peer learns br0's MAC, then makes it
// forget. A Linux peer whose link came up a moment ago receives frames but neither answers nor
// learns from them for some tens of milliseconds; a test starting then would measure the bed.
func (b *bed) waitPeerLearns(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// br0 has carrier, and so IPv6 multicast routes, only once the peer's port is up.
	if r := iface.WaitMcastRoute(ctx, iface.Target{NetNS: b.lab.Host.Path, IfName: bedBridge}); !r.Met {
		t.Fatalf("bed: %s has no ff00::/8 route: %v", bedBridge, r)
	}
	br := nstest.Link(t, b.lab.Host.Handle, bedBridge)
	s, err := l2disco.NewSenderInNetNS(b.lab.Host.Path, l2disco.SenderOptions{IfIndex: br.Attrs().Index, IPv4: true, IPv6: true})
	if err != nil {
		t.Fatalf("bed: sockets on %s: %v", bedBridge, err)
	}
	defer s.Close()
	gws := []netip.Addr{bedGwV4.Addr(), bedGwV6.Addr()}
	b.peer.WaitLearned(t, nstest.Learn{MAC: bedBridgeMAC, IPs: gws, Deadline: time.Now().Add(10 * time.Second), Probe: func() error {
		return errors.Join(
			s.SendARPRequest(bedBridgeMAC, bedGwV4.Addr(), bedPeerV4.Addr()),
			s.SendNeighborSolicitation(bedBridgeMAC, bedGwV6.Addr(), bedPeerV6.Addr()))
	}})
}

func (b *bed) dumpLogOnFailure(t *testing.T) {
	if !t.Failed() {
		return
	}
	if log, err := os.ReadFile(b.logFile); err == nil {
		t.Logf("ndp-announce log:\n%s", log)
	}
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// attachOptions say how the bridge plugin makes an attachment.
type attachOptions struct {
	Version  string // CNI spec version of the bridge config and so of its result; 1.1.0 if empty
	IPv4Only bool   // host-local hands out an IPv4 address only
	// ContainerID defaults to one named for the test.
	ContainerID string
}

// attachment is one container interface made by bridge + host-local, and what our commands get.
type attachment struct {
	bed     *bed
	version string
	id      string
	ctr     *nslab.NetNS
	prev    types.Result // bridge's result in version
	ipv4    netip.Addr
	ipv6    netip.Addr // invalid when IPv4Only
	mac     net.HardwareAddr
	index   int // eth0's index in ctr
}

var attachSeq int

// attach makes a container netns and runs the bridge plugin for it through libcni; when the test
// ends the bridge plugin's DEL runs, then the netns goes.
func (b *bed) attach(t *testing.T, o attachOptions) *attachment {
	t.Helper()
	if o.Version == "" {
		o.Version = "1.1.0"
	}
	attachSeq++
	if o.ContainerID == "" {
		o.ContainerID = fmt.Sprintf("ctr-%d-%s", attachSeq, strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()))
	}
	ctr, err := b.lab.AddContainer(fmt.Sprintf("c%d", attachSeq))
	if err != nil {
		t.Fatal(err)
	}
	bedNetNSPaths = append(bedNetNSPaths, ctr.Path)
	t.Cleanup(func() {
		if err := b.lab.Remove(ctr); err != nil {
			t.Errorf("remove the container netns: %v", err)
		}
	})
	a := &attachment{bed: b, version: o.Version, id: o.ContainerID, ctr: ctr}
	conf, err := libcni.NetworkPluginConfFromBytes(b.bridgeConf(t, o))
	if err != nil {
		t.Fatalf("bridge config: %v", err)
	}
	rt := &libcni.RuntimeConf{ContainerID: a.id, NetNS: ctr.Path, IfName: bedIf}
	err = b.host.Do(func(ns.NetNS) error {
		a.prev, err = b.cni.AddNetwork(context.Background(), conf, rt)
		return err
	})
	if err != nil {
		t.Fatalf("bridge ADD (%s): %v", o.Version, err)
	}
	t.Cleanup(func() {
		if err := b.host.Do(func(ns.NetNS) error { return b.cni.DelNetwork(context.Background(), conf, rt) }); err != nil {
			t.Errorf("bridge DEL of %s: %v", a.id, err)
		}
	})
	a.readResult(t)
	return a
}

// bridgeConf is bridge + host-local on br0 for one version; ADD and DEL both use it.
func (b *bed) bridgeConf(t *testing.T, o attachOptions) []byte {
	t.Helper()
	ranges := []any{
		[]any{map[string]any{"subnet": "198.51.100.0/24", "rangeStart": "198.51.100.10", "rangeEnd": "198.51.100.250", "gateway": bedGwV4.Addr().String()}},
	}
	if !o.IPv4Only {
		ranges = append(ranges, []any{map[string]any{"subnet": "2001:db8:1::/64", "rangeStart": "2001:db8:1::10", "rangeEnd": "2001:db8:1::ffff", "gateway": bedGwV6.Addr().String()}})
	}
	conf, err := json.Marshal(map[string]any{
		"cniVersion": o.Version, "name": b.network, "type": "bridge", "bridge": bedBridge,
		"isGateway": true, "ipMasq": false, "hairpinMode": false,
		"ipam": map[string]any{"type": "host-local", "dataDir": b.ipamDir, "ranges": ranges},
	})
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

// readResult takes the container's addresses from bridge's result and its MAC from the link.
func (a *attachment) readResult(t *testing.T) {
	t.Helper()
	res := toCurrent(t, a.prev)
	for _, ipc := range res.IPs {
		ip, _ := netip.AddrFromSlice(ipc.Address.IP)
		if ip.Unmap().Is4() {
			a.ipv4 = ip.Unmap()
		} else {
			a.ipv6 = ip
		}
	}
	if !a.ipv4.IsValid() {
		t.Fatalf("bridge's result has no IPv4 address: %v", res)
	}
	link := nstest.Link(t, a.ctr.Handle, bedIf)
	a.mac, a.index = link.Attrs().HardwareAddr, link.Attrs().Index
}

func toCurrent(t *testing.T, r types.Result) *current.Result {
	t.Helper()
	res, err := current.NewResultFromResult(r)
	if err != nil {
		t.Fatalf("convert result %v: %v", r, err)
	}
	return res
}

// conf is our plugin's config as libcni would pass it after bridge: the network's name and
// version, bridge's result as prevResult, and a dataDir and logFile of the test's. fields override
// or add keys; a nil value removes one.
func (a *attachment) conf(t *testing.T, fields map[string]any) []byte {
	t.Helper()
	m := map[string]any{
		"cniVersion": a.version, "name": a.bed.network, "type": "ndp-announce",
		"dataDir": a.bed.dataDir, "logFile": a.bed.logFile, "prevResult": a.prev,
	}
	for k, v := range fields {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (a *attachment) args(conf []byte) *skel.CmdArgs {
	return &skel.CmdArgs{ContainerID: a.id, Netns: a.ctr.Path, IfName: bedIf, StdinData: conf}
}

// add runs cmdAdd in the host netns and returns the printed result, parsed in the config's version.
func (a *attachment) add(t *testing.T, conf []byte) (types.Result, error) {
	t.Helper()
	return a.addArgs(t, a.args(conf))
}

// addArgs is add with CNI arguments of the test's own.
func (a *attachment) addArgs(t *testing.T, args *skel.CmdArgs) (types.Result, error) {
	t.Helper()
	var res types.Result
	err := a.bed.host.Do(func(ns.NetNS) error {
		var err error
		res, _, err = testutils.CmdAddWithArgs(args, func() error { return cmdAdd(args) })
		return err
	})
	return res, err
}

func (a *attachment) check(conf []byte) error {
	return a.checkArgs(a.args(conf))
}

// checkArgs runs cmdCheck in the host netns.
func (a *attachment) checkArgs(args *skel.CmdArgs) error {
	return a.bed.host.Do(func(ns.NetNS) error {
		return testutils.CmdCheckWithArgs(args, func() error { return cmdCheck(args) })
	})
}

func (a *attachment) del(conf []byte) error {
	args := a.args(conf)
	return testutils.CmdDelWithArgs(args, func() error { return cmdDel(args) })
}

// staleNeigh makes the peer believe the attachment's addresses are still at bedOldMAC: what a
// recycled IP leaves behind.
func (a *attachment) staleNeigh(t *testing.T) []netip.Addr {
	t.Helper()
	ips := a.ips()
	for _, ip := range ips {
		a.bed.peer.SetNeigh(t, ip, bedOldMAC, netlink.NUD_STALE)
	}
	return ips
}

func (a *attachment) ips() []netip.Addr {
	ips := []netip.Addr{a.ipv4}
	if a.ipv6.IsValid() {
		ips = append(ips, a.ipv6)
	}
	return ips
}

// peerSees is the MAC the peer holds for ip after watching up to window for the container's.
func (a *attachment) peerSees(t *testing.T, ip netip.Addr, window time.Duration) net.HardwareAddr {
	t.Helper()
	return a.bed.peer.WatchNeigh(t, ip, a.mac, window)
}

// requirePeerLearns: within window the peer holds the container's MAC for each of ips (all of the
// attachment's addresses when none are given), watched together.
func (a *attachment) requirePeerLearns(t *testing.T, window time.Duration, after string, ips ...netip.Addr) {
	t.Helper()
	if len(ips) == 0 {
		ips = a.ips()
	}
	deadline := time.Now().Add(window)
	for _, ip := range ips {
		if got := a.peerSees(t, ip, time.Until(deadline)); !bytes.Equal(got, a.mac) {
			t.Errorf("the peer's entry for %s is %s after %s, want the container's %s", ip, got, after, a.mac)
		}
	}
}

// requirePeerKeepsOld: for the whole window the peer's entries for the attachment's addresses stay
// bedOldMAC; nothing was announced.
func (a *attachment) requirePeerKeepsOld(t *testing.T, window time.Duration, after string) {
	t.Helper()
	deadline := time.Now().Add(window)
	for {
		for _, ip := range a.ips() {
			if got := a.peerSees(t, ip, 0); !bytes.Equal(got, bedOldMAC) {
				t.Errorf("the peer's entry for %s changed to %s after %s", ip, got, after)
				return
			}
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sysctl reads, or with a value writes, a key of the container netns; IFNAME stands for eth0.
func (a *attachment) sysctl(t *testing.T, key string, value ...string) string {
	t.Helper()
	return nstest.Sysctl(t, a.ctr.NS, strings.ReplaceAll(key, "IFNAME", bedIf), value...)
}
