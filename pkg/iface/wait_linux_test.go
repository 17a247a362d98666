package iface

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/ndp-announce/ndp-announce/internal/nstest"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// fastPath bounds a wait whose condition already holds: a few netlink round
// trips, no sleep. Generous so that a loaded CI machine does not flake.
const fastPath = 50 * time.Millisecond

func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// after runs f in the background after d, and makes the test wait for it.
// f must not call t.Fatal (it is not on the test goroutine).
func after(t *testing.T, d time.Duration, f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(d)
		f()
	}()
	t.Cleanup(func() { <-done })
}

// setUpAsync sets a link up from a goroutine other than the test's.
func (tb *testbed) setUpAsync(t *testing.T, h *netlink.Handle, name string) {
	l, err := h.LinkByName(name)
	if err == nil {
		err = h.LinkSetUp(l)
	}
	if err != nil {
		t.Errorf("set %s up: %v", name, err)
	}
}

// bringUp sets the port, then the container end, up and waits until the
// container end is operationally up.
func (tb *testbed) bringUp(t *testing.T) {
	t.Helper()
	tb.setUp(t, tb.hostH, tbPort, true)
	tb.setUp(t, tb.ctrH, tbIf, true)
	if r := WaitLinkUp(ctxTimeout(t, 3*time.Second), tb.target); !r.Met {
		t.Fatalf("link did not come up: %s", r.debug())
	}
}

func TestWaitLinkUp(t *testing.T) {
	t.Run("already up", func(t *testing.T) {
		tb := newTestbed(t)
		tb.bringUp(t)
		r := WaitLinkUp(ctxTimeout(t, 3*time.Second), tb.target)
		if !r.Met || r.Waited > fastPath || r.LastState != "up" || r.Interface != tbIf {
			t.Errorf("want met at once with state up: %s", r.debug())
		}
	})
	t.Run("brought up during the wait", func(t *testing.T) {
		tb := newTestbed(t)
		tb.setUp(t, tb.hostH, tbPort, true)
		after(t, 50*time.Millisecond, func() {
			tb.setUpAsync(t, tb.ctrH, tbIf)
		})
		r := WaitLinkUp(ctxTimeout(t, 3*time.Second), tb.target)
		if !r.Met || r.Waited < 40*time.Millisecond || r.LastState != "up" {
			t.Errorf("want met after the link came up: %s", r.debug())
		}
	})
	t.Run("stays down", func(t *testing.T) {
		tb := newTestbed(t)
		tb.setUp(t, tb.hostH, tbPort, true)
		r := WaitLinkUp(ctxTimeout(t, 150*time.Millisecond), tb.target)
		if r.Met || r.LastState != "down" || r.Err != nil || r.Skipped != "" {
			t.Errorf("want gave up in state down: %s", r.debug())
		}
		if r.Waited < 140*time.Millisecond || r.Waited > time.Second {
			t.Errorf("waited %s, want about the 150ms deadline", r.Waited)
		}
		if want := "link up eth0 state down after"; r.String()[:len(want)] != want {
			t.Errorf("String() = %q, want prefix %q", r, want)
		}
	})
	t.Run("admin up without carrier is not up", func(t *testing.T) {
		// IFF_UP alone would be met here, but nothing sent would arrive.
		tb := newTestbed(t)
		tb.setUp(t, tb.ctrH, tbIf, true)
		r := WaitLinkUp(ctxTimeout(t, 150*time.Millisecond), tb.target)
		if r.Met || r.LastState != "up, oper down" {
			t.Errorf("want gave up in oper state down: %s", r.debug())
		}
	})
	t.Run("no such link", func(t *testing.T) {
		tb := newTestbed(t)
		tgt := tb.target
		tgt.IfName = "nosuch0"
		r := WaitLinkUp(ctxTimeout(t, time.Second), tgt)
		if r.Met || r.Err == nil || r.Waited > fastPath {
			t.Errorf("want an immediate error: %s", r.debug())
		}
	})
}

func TestWaitBridgePort(t *testing.T) {
	t.Run("disabled then forwarding", func(t *testing.T) {
		tb := newTestbed(t)
		tb.setUp(t, tb.ctrH, tbIf, true)
		// Port down: state disabled, and it stays so.
		r := WaitBridgePort(ctxTimeout(t, 100*time.Millisecond), tb.target)
		if r.Met || r.LastState != "disabled" || r.Interface != tbPort || r.Skipped != "" || r.Err != nil {
			t.Fatalf("want gave up in state disabled on %s: %s", tbPort, r.debug())
		}
		after(t, 50*time.Millisecond, func() {
			tb.setUpAsync(t, tb.hostH, tbPort)
		})
		r = WaitBridgePort(ctxTimeout(t, 3*time.Second), tb.target)
		if !r.Met || r.LastState != "forwarding" || r.Waited < 40*time.Millisecond {
			t.Fatalf("want forwarding after the port came up: %s", r.debug())
		}
		// Now it is forwarding: fast path.
		r = WaitBridgePort(ctxTimeout(t, 3*time.Second), tb.target)
		if !r.Met || r.Waited > fastPath {
			t.Errorf("want met at once: %s", r.debug())
		}
	})
	t.Run("host netns is the current one", func(t *testing.T) {
		// The plugin runs in the host netns and passes HostNetNS "".
		tb := newTestbed(t)
		tb.bringUp(t)
		tgt := tb.target
		tgt.HostNetNS = ""
		var r WaitResult
		err := tb.host.Do(func(ns.NetNS) error {
			r = WaitBridgePort(ctxTimeout(t, 3*time.Second), tgt)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Met || r.Interface != tbPort {
			t.Errorf("want met on %s: %s", tbPort, r.debug())
		}
	})
	t.Run("stp enabled", func(t *testing.T) {
		tb := newTestbed(t)
		setBridgeSTP(t, tb.host, tb.hostH, tbBridge, true)
		tb.setUp(t, tb.hostH, tbPort, true)
		tb.setUp(t, tb.ctrH, tbIf, true)
		r := WaitBridgePort(ctxTimeout(t, 3*time.Second), tb.target)
		if r.Skipped != "stp enabled" || r.Met || r.Waited > fastPath {
			t.Errorf("want skipped at once because of stp: %s", r.debug())
		}
	})
	t.Run("peer without master", func(t *testing.T) {
		tb := newTestbed(t)
		if err := tb.hostH.LinkSetNoMaster(tb.link(t, tb.hostH, tbPort)); err != nil {
			t.Fatal(err)
		}
		r := WaitBridgePort(ctxTimeout(t, 3*time.Second), tb.target)
		if r.Skipped != "no bridge master" || r.Interface != tbPort {
			t.Errorf("want skipped, no master: %s", r.debug())
		}
	})
	t.Run("not a veth", func(t *testing.T) {
		tb := newTestbed(t)
		tgt := tb.target
		tgt.IfName = "dummy0"
		err := tb.ctrH.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: "dummy0"}})
		if errors.Is(err, unix.EOPNOTSUPP) {
			t.Log("no dummy driver in this kernel, using lo")
			tgt.IfName = "lo"
		} else if err != nil {
			t.Fatal(err)
		}
		r := WaitBridgePort(ctxTimeout(t, 3*time.Second), tgt)
		if r.Skipped != "not a veth" {
			t.Errorf("want skipped, not a veth: %s", r.debug())
		}
	})
	t.Run("peer in the container netns", func(t *testing.T) {
		tb := newTestbed(t)
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "va"}, PeerName: "vb"}
		if err := tb.ctrH.LinkAdd(veth); err != nil {
			t.Fatal(err)
		}
		tgt := tb.target
		tgt.IfName = "va"
		r := WaitBridgePort(ctxTimeout(t, 3*time.Second), tgt)
		if r.Skipped != "peer not in host netns" {
			t.Errorf("want skipped, peer elsewhere: %s", r.debug())
		}
	})
	t.Run("peer in a third netns", func(t *testing.T) {
		// The peer's ifindex would name some other link in the host netns.
		tb := newTestbed(t)
		other := nstest.NewNetNS(t)
		veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "va"}, PeerName: "vb", PeerNamespace: netlink.NsFd(int(other.Fd()))}
		if err := tb.ctrH.LinkAdd(veth); err != nil {
			t.Fatal(err)
		}
		tgt := tb.target
		tgt.IfName = "va"
		r := WaitBridgePort(ctxTimeout(t, 3*time.Second), tgt)
		if r.Skipped != "peer not in host netns" {
			t.Errorf("want skipped, peer elsewhere: %s", r.debug())
		}
	})
}

func TestWaitMcastRoute(t *testing.T) {
	t.Run("no route while down", func(t *testing.T) {
		tb := newTestbed(t)
		tb.setUp(t, tb.hostH, tbPort, true)
		r := WaitMcastRoute(ctxTimeout(t, 150*time.Millisecond), tb.target)
		if r.Met || r.LastState != "no route" || r.Err != nil {
			t.Errorf("want gave up with no route: %s", r.debug())
		}
	})
	t.Run("route once up", func(t *testing.T) {
		tb := newTestbed(t)
		tb.setUp(t, tb.hostH, tbPort, true)
		after(t, 50*time.Millisecond, func() {
			tb.setUpAsync(t, tb.ctrH, tbIf)
		})
		r := WaitMcastRoute(ctxTimeout(t, 3*time.Second), tb.target)
		if !r.Met || r.LastState != "route" || r.Waited < 40*time.Millisecond {
			t.Errorf("want met once up: %s", r.debug())
		}
		r = WaitMcastRoute(ctxTimeout(t, 3*time.Second), tb.target)
		if !r.Met || r.Waited > fastPath {
			t.Errorf("want met at once: %s", r.debug())
		}
	})
	t.Run("ipv6 disabled", func(t *testing.T) {
		tb := newTestbed(t)
		tb.bringUp(t)
		nstest.Sysctl(t, tb.ctr, "net.ipv6.conf.eth0.disable_ipv6", "1")
		r := WaitMcastRoute(ctxTimeout(t, 150*time.Millisecond), tb.target)
		if r.Met || r.LastState != "no route" {
			t.Errorf("want gave up with no route: %s", r.debug())
		}
	})
}

// tentative reports whether addr on eth0 carries IFA_F_TENTATIVE.
func (tb *testbed) tentative(t *testing.T, addr string) bool {
	t.Helper()
	addrs, err := tb.ctrH.AddrList(tb.link(t, tb.ctrH, tbIf), netlink.FAMILY_V6)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if a.IP.String() == addr {
			return a.Flags&unix.IFA_F_TENTATIVE != 0
		}
	}
	t.Fatalf("%s not on %s", addr, tbIf)
	return false
}

func (tb *testbed) fastDAD(t *testing.T) {
	nstest.Sysctl(t, tb.ctr, "net.ipv6.conf.eth0.accept_dad", "1")
	nstest.Sysctl(t, tb.ctr, "net.ipv6.conf.eth0.dad_transmits", "1")
	nstest.Sysctl(t, tb.ctr, "net.ipv6.neigh.eth0.retrans_time_ms", "200")
}

func TestWaitDAD(t *testing.T) {
	addr := netip.MustParseAddr("2001:db8::10")
	t.Run("tentative then done", func(t *testing.T) {
		tb := newTestbed(t)
		tb.fastDAD(t)
		tb.bringUp(t)
		addAddr(t, tb.ctrH, tbIf, "2001:db8::10/64", 0)
		if !tb.tentative(t, addr.String()) {
			t.Fatal("new address is not tentative: the test would prove nothing")
		}
		r := WaitDAD(ctxTimeout(t, 3*time.Second), tb.target, []netip.Addr{addr})
		if !r.Met || r.LastState != "none tentative" || r.Waited < 100*time.Millisecond {
			t.Errorf("want met after DAD: %s", r.debug())
		}
		if tb.tentative(t, addr.String()) {
			t.Error("met, but the address is still tentative")
		}
	})
	t.Run("nodad is met at once", func(t *testing.T) {
		tb := newTestbed(t)
		tb.fastDAD(t)
		tb.bringUp(t)
		addAddr(t, tb.ctrH, tbIf, "2001:db8::10/64", unix.IFA_F_NODAD)
		r := WaitDAD(ctxTimeout(t, 3*time.Second), tb.target, []netip.Addr{addr})
		if !r.Met || r.Waited > fastPath {
			t.Errorf("want met at once: %s", r.debug())
		}
	})
	t.Run("duplicate", func(t *testing.T) {
		tb := newTestbed(t)
		tb.fastDAD(t)
		tb.bringUp(t)
		// The bridge already has the address: its NA answers the container's NS.
		addAddr(t, tb.hostH, tbBridge, "2001:db8::10/64", unix.IFA_F_NODAD)
		if r := WaitBridgePort(ctxTimeout(t, 3*time.Second), tb.target); !r.Met {
			t.Fatalf("bridge port: %s", r.debug())
		}
		addAddr(t, tb.ctrH, tbIf, "2001:db8::10/64", 0)
		r := WaitDAD(ctxTimeout(t, 3*time.Second), tb.target, []netip.Addr{addr})
		if r.Met || r.Err == nil || r.LastState != "dadfailed 2001:db8::10" || r.Waited > 2*time.Second {
			t.Errorf("want stop on dadfailed: %s", r.debug())
		}
	})
}

func TestLinkInfo(t *testing.T) {
	tb := newTestbed(t)
	tb.bringUp(t)
	l, err := LinkInfo(tb.target)
	if err != nil {
		t.Fatal(err)
	}
	nl := tb.link(t, tb.ctrH, tbIf).Attrs()
	if l.Index != nl.Index || l.Name != tbIf || l.Kind != "veth" || l.MAC.String() != nl.HardwareAddr.String() || l.OperState != "up" {
		t.Errorf("LinkInfo = %+v, netlink says index %d mac %s", l, nl.Index, nl.HardwareAddr)
	}
	if l, err := LinkInfo(tb.target); err != nil || l.Index != nl.Index {
		t.Errorf("LinkInfo(...).Index = %d, %v; want %d", l.Index, err, nl.Index)
	}
}
