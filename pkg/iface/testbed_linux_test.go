package iface

import (
	"fmt"
	"net"
	"testing"

	"github.com/containernetworking/plugins/pkg/ns"
	nslab "github.com/ndp-announce/ndp-announce/internal/lab"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// testbed is internal/lab's lab: a "host" netns with bridge br0 (up) and a
// veth vh0 (a port of br0) whose peer eth0 is in a "container" netns. The
// veth starts down.
type testbed struct {
	lab         *nslab.Lab
	host, ctr   ns.NetNS
	hostH, ctrH *netlink.Handle
	target      Target
}

const (
	tbBridge = "br0"
	tbPort   = "vh0"
	tbIf     = "eth0"
)

func newTestbed(t *testing.T) *testbed {
	t.Helper()
	l := nslab.ForTest(t, nslab.Options{Tag: "ndpt", Bridge: tbBridge})
	ctr, err := l.AddContainer("ctr")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Plug(ctr, nslab.Port{Name: tbPort, IfName: tbIf, Down: true}); err != nil {
		t.Fatal(err)
	}
	return &testbed{lab: l, host: l.Host.NS, ctr: ctr.NS, hostH: l.Host.Handle, ctrH: ctr.Handle,
		target: Target{NetNS: ctr.Path, IfName: tbIf, HostNetNS: l.Host.Path}}
}

func (tb *testbed) link(t *testing.T, h *netlink.Handle, name string) netlink.Link {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatalf("find %s: %v", name, err)
	}
	return l
}

func (tb *testbed) setUp(t *testing.T, h *netlink.Handle, name string, up bool) {
	t.Helper()
	l := tb.link(t, h, name)
	f := h.LinkSetDown
	if up {
		f = h.LinkSetUp
	}
	if err := f(l); err != nil {
		t.Fatalf("set %s up=%v: %v", name, up, err)
	}
}

// setBridgeSTP turns STP on a bridge on or off with IFLA_BR_STP_STATE, which
// netlink.Bridge does not expose.
func setBridgeSTP(t *testing.T, n ns.NetNS, h *netlink.Handle, name string, on bool) {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatalf("find %s: %v", name, err)
	}
	s, err := nl.GetNetlinkSocketAt(netns.NsHandle(n.Fd()), netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatalf("netlink socket: %v", err)
	}
	defer s.Close()
	req := &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{Len: unix.SizeofNlMsghdr, Type: unix.RTM_NEWLINK, Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK},
		Sockets:  map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: s}},
	}
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(l.Attrs().Index)
	req.AddData(msg)
	var state uint32
	if on {
		state = 1
	}
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("bridge"))
	data := info.AddRtAttr(nl.IFLA_INFO_DATA, nil)
	data.AddRtAttr(nl.IFLA_BR_STP_STATE, nl.Uint32Attr(state))
	req.AddData(info)
	if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil {
		t.Fatalf("set stp_state=%d on %s: %v", state, name, err)
	}
}

func mustParseCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	n.IP = ip
	return n
}

func addAddr(t *testing.T, h *netlink.Handle, name, cidr string, flags int) {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatalf("find %s: %v", name, err)
	}
	if err := h.AddrAdd(l, &netlink.Addr{IPNet: mustParseCIDR(t, cidr), Flags: flags}); err != nil {
		t.Fatalf("add %s to %s: %v", cidr, name, err)
	}
}

func (r WaitResult) debug() string { return fmt.Sprintf("%s (%+v)", r, r) }
