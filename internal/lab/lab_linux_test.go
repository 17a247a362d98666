package lab

import (
	"bytes"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

var (
	testPeerMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x30, 0x00, 0x01}
	testCtrMAC  = net.HardwareAddr{0x02, 0x00, 0x5e, 0x30, 0x00, 0x0a}
	testPeerV4  = netip.MustParsePrefix("198.51.100.2/24")
	testPeerV6  = netip.MustParsePrefix("2001:db8:1::2/64")
	testCtrV4   = netip.MustParsePrefix("198.51.100.10/24")
	testCtrV6   = netip.MustParsePrefix("2001:db8:1::a/64")
)

// The lab is one L2 segment: a container plugged in reaches the peer over
// both families, and the peer's neighbour table, read over netlink, then
// holds the container's MAC. Close leaves nothing.
func TestLabSegment(t *testing.T) {
	l := ForTest(t, Options{Tag: "ndpt", NoDAD: true,
		BridgeAddrs: []netip.Prefix{netip.MustParsePrefix("198.51.100.1/24")},
		Peer:        &Port{MAC: testPeerMAC, Addrs: []netip.Prefix{testPeerV4, testPeerV6}}})
	ctr, err := l.AddContainer("c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Plug(ctr, Port{Name: l.LinkPrefix + "c1", MAC: testCtrMAC, Addrs: []netip.Prefix{testCtrV4, testCtrV6}}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*NetNS{l.Host, l.Peer, ctr} {
		if !strings.HasPrefix(n.Name, "ndpt-"+l.ID+"-") || n.Path != RunDir+"/"+n.Name {
			t.Errorf("netns %q at %q, want ndpt-%s-* under %s", n.Name, n.Path, l.ID, RunDir)
		}
		if got := sysctl(t, n, "net/ipv6/conf/default/accept_dad"); got != "0" {
			t.Errorf("accept_dad in %s = %s with NoDAD", n.Name, got)
		}
	}
	if peer, err := l.Peer.Handle.LinkByIndex(l.PeerIndex); err != nil || !bytes.Equal(peer.Attrs().HardwareAddr, testPeerMAC) {
		t.Fatalf("peer link %d: %v %v", l.PeerIndex, peer, err)
	}

	for _, dst := range []netip.Prefix{testPeerV4, testPeerV6} {
		if !pingWithin(ctr.Path, dst.Addr(), 5*time.Second) {
			t.Fatalf("the container does not reach the peer at %s", dst.Addr())
		}
		got, err := l.Peer.Neigh(l.PeerIndex, srcFor(dst))
		if err != nil || !bytes.Equal(got.MAC, testCtrMAC) || !got.Usable() {
			t.Errorf("peer's entry for %s = %v (%v), want %s", srcFor(dst), got, err, testCtrMAC)
		}
	}
	none, err := l.Peer.Neigh(l.PeerIndex, netip.MustParseAddr("198.51.100.99"))
	if err != nil || none.State != "" || none.Usable() {
		t.Errorf("entry for an address never used = %v (%v), want none", none, err)
	}

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []*NetNS{l.Host, l.Peer, ctr} {
		if _, err := os.Stat(n.Path); !os.IsNotExist(err) {
			t.Errorf("%s still there after Close: %v", n.Path, err)
		}
	}
	links, _ := netlink.LinkList() // the root netns: only looked at
	for _, link := range links {
		if strings.HasPrefix(link.Attrs().Name, l.LinkPrefix) {
			t.Errorf("link %s in the root netns", link.Attrs().Name)
		}
	}
}

func srcFor(dst netip.Prefix) netip.Addr {
	if dst.Addr().Is4() {
		return testCtrV4.Addr()
	}
	return testCtrV6.Addr()
}

// pingWithin pings once a second until a reply or the limit: a port's first
// frames may go before the peer listens.
func pingWithin(netnsPath string, dst netip.Addr, limit time.Duration) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); {
		if exec.Command("nsenter", "--net="+netnsPath, "--", "ping", "-n", "-c", "1", "-W", "1", dst.String()).Run() == nil {
			return true
		}
	}
	return false
}

func sysctl(t *testing.T, n *NetNS, key string) string {
	t.Helper()
	var b []byte
	err := n.NS.Do(func(ns.NetNS) error {
		var err error
		b, err = os.ReadFile("/proc/sys/" + key)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// A lab that cannot be built leaves nothing behind either.
func TestNewFailsClean(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	if _, err := New(Options{Tag: "toolong"}); err == nil {
		t.Error("New accepted a 7-letter tag")
	}
	// A peer port name longer than IFNAMSIZ: the veth cannot be made.
	l, err := New(Options{Tag: "ndpt", Peer: &Port{Name: "a-name-too-long-for-a-link"}})
	if err == nil {
		l.Close()
		t.Fatal("New built a peer port with a 26-character name")
	}
	ents, _ := os.ReadDir(RunDir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "ndpt-") && strings.Contains(err.Error(), strings.Split(e.Name(), "-")[1]) {
			t.Errorf("%s left after a failed New: %v", e.Name(), err)
		}
	}
}
