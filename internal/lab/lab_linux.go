package lab

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The lab is lab.bash's, in Go:
//
//	peer netns                host netns                          container netns
//	eth0 (Peer.MAC) ---- Peer.Port ── Bridge (BridgeAddrs) ── port ──── eth0
//	     Peer.Addrs                                                (Plug, or the bridge plugin)
//
// Namespaces are "<tag>-<id>-host", "<tag>-<id>-peer" and "<tag>-<id>-c-<name>"
// under RunDir; <id> is random, so labs run side by side. Nothing is made in
// the root netns.

// Options say what New builds.
type Options struct {
	// Tag starts every name (namespaces, default link names): 1-4 letters,
	// so that "<tag><id>br" fits a link name. Tests and tools each use their
	// own ("ndpt" the Go tests, "ndpb" the bench; lab.bash "ndpa", the demo
	// "ndpd").
	Tag string
	// Bridge is the bridge's name in the host netns; "" for "<tag><id>br".
	Bridge    string
	BridgeMAC net.HardwareAddr // nil: the kernel picks
	// BridgeAddrs go on the bridge (the gateway), IPv6 without DAD.
	BridgeAddrs []netip.Prefix
	// Peer, when set, is a netns "peer" plugged into the bridge: a real Linux
	// stack standing for the host, other pods and the gateway.
	Peer *Port
	// NoDAD sets accept_dad=0 (all and default) in every netns of the lab:
	// lab addresses are unique by construction, and a tentative address
	// cannot send. Tests of DAD leave it off.
	NoDAD bool
}

// Port is a veth from the bridge into a netns.
type Port struct {
	Name   string           // host side, a port of the bridge; the peer's defaults to "<tag><id>hp"
	IfName string           // in the netns; "" for eth0
	MAC    net.HardwareAddr // of IfName; nil: the kernel picks
	Addrs  []netip.Prefix   // on IfName, IPv6 without DAD
	Down   bool             // leave both ends down
}

// Lab is one set of namespaces with its bridge and, optionally, its peer.
type Lab struct {
	ID         string
	Prefix     string // namespaces: "<tag>-<id>"
	LinkPrefix string // "<tag><id>"
	Bridge     string
	Host       *NetNS
	Peer       *NetNS // nil without Options.Peer
	PeerIndex  int    // the peer's interface, in Peer

	noDAD bool
	mu    sync.Mutex
	netns []*NetNS // in creation order; Close removes them in reverse
}

// New builds the host netns with the bridge, and the peer when asked. On
// error whatever was made is removed.
func New(o Options) (l *Lab, err error) {
	if len(o.Tag) < 1 || len(o.Tag) > 4 {
		return nil, fmt.Errorf("lab: tag %q is not 1-4 characters", o.Tag)
	}
	id := randomID()
	l = &Lab{ID: id, Prefix: o.Tag + "-" + id, LinkPrefix: o.Tag + id, Bridge: o.Bridge, noDAD: o.NoDAD}
	if l.Bridge == "" {
		l.Bridge = l.LinkPrefix + "br"
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.Close())
			l = nil
		}
	}()
	if l.Host, err = l.addNetNS(l.Prefix + "-host"); err != nil {
		return l, err
	}
	if err := l.addBridge(o); err != nil {
		return l, err
	}
	if o.Peer != nil {
		if l.Peer, err = l.addNetNS(l.Prefix + "-peer"); err != nil {
			return l, err
		}
		p := *o.Peer
		if p.Name == "" {
			p.Name = l.LinkPrefix + "hp"
		}
		if l.PeerIndex, err = l.Plug(l.Peer, p); err != nil {
			return l, err
		}
	}
	return l, nil
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand does not fail on Linux
	return hex.EncodeToString(b)
}

func (l *Lab) addBridge(o Options) error {
	h := l.Host.Handle
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: l.Bridge, HardwareAddr: o.BridgeMAC}}
	if err := h.LinkAdd(br); err != nil {
		return fmt.Errorf("lab %s: add bridge %s: %w", l.Prefix, l.Bridge, err)
	}
	link, err := h.LinkByName(l.Bridge)
	if err != nil {
		return fmt.Errorf("lab %s: %w", l.Prefix, err)
	}
	if err := addAddrs(h, link, o.BridgeAddrs); err != nil {
		return fmt.Errorf("lab %s: %w", l.Prefix, err)
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("lab %s: set %s up: %w", l.Prefix, l.Bridge, err)
	}
	return nil
}

// AddContainer creates the netns "<prefix>-c-<name>", as a runtime does
// before ADD; the bridge plugin or Plug gives it its interface.
func (l *Lab) AddContainer(name string) (*NetNS, error) {
	return l.addNetNS(l.ContainerNS(name))
}

// AddNetNS creates the netns "<prefix>-<role>" for a test's own use (a
// second peer, say); Plug connects it.
func (l *Lab) AddNetNS(role string) (*NetNS, error) {
	return l.addNetNS(l.Prefix + "-" + role)
}

// ContainerNS is the netns name of a container.
func (l *Lab) ContainerNS(name string) string { return l.Prefix + "-c-" + name }

// addNetNS makes a netns of the lab. It is recorded at once, so that Close
// removes it whatever happens next.
func (l *Lab) addNetNS(name string) (*NetNS, error) {
	n, err := newNetNS(name)
	if err != nil {
		return nil, fmt.Errorf("lab %s: %w", l.Prefix, err)
	}
	l.mu.Lock()
	l.netns = append(l.netns, n)
	l.mu.Unlock()
	if l.noDAD {
		for _, k := range []string{"net.ipv6.conf.all.accept_dad", "net.ipv6.conf.default.accept_dad"} {
			if err := n.setSysctl(k, "0"); err != nil {
				return nil, fmt.Errorf("lab %s: %s in %s: %w", l.Prefix, k, name, err)
			}
		}
	}
	return n, nil
}

// Remove deletes one of the lab's namespaces before Close, as a runtime does
// after DEL.
func (l *Lab) Remove(n *NetNS) error {
	l.mu.Lock()
	for i, m := range l.netns {
		if m == n {
			l.netns = append(l.netns[:i], l.netns[i+1:]...)
			break
		}
	}
	l.mu.Unlock()
	return n.remove()
}

// Plug connects a new veth port of the bridge to p.IfName in n, with its MAC
// and addresses, both ends up unless p.Down, and returns p.IfName's index in n.
func (l *Lab) Plug(n *NetNS, p Port) (int, error) {
	if p.IfName == "" {
		p.IfName = "eth0"
	}
	h := l.Host.Handle
	br, err := h.LinkByName(l.Bridge)
	if err != nil {
		return 0, fmt.Errorf("lab %s: %w", l.Prefix, err)
	}
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: p.Name, MasterIndex: br.Attrs().Index},
		PeerName:         p.IfName,
		PeerHardwareAddr: p.MAC,
		PeerNamespace:    netlink.NsFd(int(n.NS.Fd())),
	}
	if err := h.LinkAdd(veth); err != nil {
		return 0, fmt.Errorf("lab %s: add veth %s to %s: %w", l.Prefix, p.Name, n.Name, err)
	}
	link, err := n.Handle.LinkByName(p.IfName)
	if err != nil {
		return 0, fmt.Errorf("lab %s: %w", l.Prefix, err)
	}
	if err := addAddrs(n.Handle, link, p.Addrs); err != nil {
		return 0, fmt.Errorf("lab %s: %s in %s: %w", l.Prefix, p.IfName, n.Name, err)
	}
	if !p.Down {
		if err := setUp(h, p.Name); err != nil {
			return 0, fmt.Errorf("lab %s: %w", l.Prefix, err)
		}
		if err := setUp(n.Handle, p.IfName); err != nil {
			return 0, fmt.Errorf("lab %s: in %s: %w", l.Prefix, n.Name, err)
		}
	}
	return link.Attrs().Index, nil
}

func setUp(h *netlink.Handle, name string) error {
	link, err := h.LinkByName(name)
	if err == nil {
		err = h.LinkSetUp(link)
	}
	if err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

func addAddrs(h *netlink.Handle, link netlink.Link, addrs []netip.Prefix) error {
	for _, p := range addrs {
		a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := h.AddrAdd(link, a); err != nil {
			return fmt.Errorf("add %s to %s: %w", p, link.Attrs().Name, err)
		}
	}
	return nil
}

// Close stops whatever still runs in the lab's namespaces (a leak: the error
// names each process) and removes the namespaces, newest first. Safe to call
// again; keeps going past errors.
func (l *Lab) Close() error {
	l.mu.Lock()
	netns := l.netns
	l.netns = nil
	l.mu.Unlock()
	var errs []error
	paths := make([]string, len(netns))
	for i, n := range netns {
		paths[i] = n.Path
	}
	if left := StopStragglers(paths, 2*time.Second); len(left) > 0 {
		errs = append(errs, fmt.Errorf("lab %s: still running in its namespaces, stopped: %v", l.Prefix, left))
	}
	for i := len(netns) - 1; i >= 0; i-- {
		if err := netns[i].remove(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
