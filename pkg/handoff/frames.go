package handoff

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"

	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
)

// FrameKind is a kind of frame an announcement round sends, as the metrics label it.
type FrameKind int

const (
	FrameARP        FrameKind = iota // ARP announcement of our address
	FrameNA                          // unsolicited NA of our address
	FrameGatewayARP                  // ARP request to a gateway
	FrameGatewayNS                   // Neighbour Solicitation to a gateway
)

// FrameKinds are all the kinds, in label order.
var FrameKinds = []FrameKind{FrameARP, FrameNA, FrameGatewayARP, FrameGatewayNS}

func (k FrameKind) String() string {
	switch k {
	case FrameARP:
		return "arp"
	case FrameNA:
		return "na"
	case FrameGatewayARP:
		return "gateway_arp"
	case FrameGatewayNS:
		return "gateway_ns"
	}
	return fmt.Sprintf("FrameKind(%d)", int(k))
}

// FrameCounts counts frames per kind.
type FrameCounts struct {
	ARP        int `json:"arp"`
	NA         int `json:"na"`
	GatewayARP int `json:"gatewayARP"`
	GatewayNS  int `json:"gatewayNS"`
}

// Of returns the count of kind k.
func (c *FrameCounts) Of(k FrameKind) int { return *c.ptr(k) }

func (c *FrameCounts) ptr(k FrameKind) *int {
	switch k {
	case FrameNA:
		return &c.NA
	case FrameGatewayARP:
		return &c.GatewayARP
	case FrameGatewayNS:
		return &c.GatewayNS
	}
	return &c.ARP
}

// Frames is what one round (or several) sent and failed to send.
type Frames struct {
	Sent   FrameCounts `json:"sent"`
	Failed FrameCounts `json:"failed"`
}

// Count records one send of kind k that ended with err. An NA that found no multicast route when
// the caller expected none (expectNoMcast) is neither: it was skipped, as l2disco's round reports.
func (f *Frames) Count(k FrameKind, err error, expectNoMcast bool) {
	switch {
	case err == nil:
		*f.Sent.ptr(k)++
	case expectNoMcast && errors.Is(err, l2disco.ErrNoMcastRoute):
	default:
		*f.Failed.ptr(k)++
	}
}

func (f *Frames) validate() error {
	for _, k := range FrameKinds {
		// A round sends at most one frame per target and gateway pair.
		const most = MaxTargets * MaxTargets
		if s, e := f.Sent.Of(k), f.Failed.Of(k); s < 0 || e < 0 || s > most || e > most {
			return fmt.Errorf("%s count out of range", k)
		}
	}
	return nil
}

// CountSends wraps t so that every send is passed to count with its kind and outcome: the plugin
// fills the report of round 1 with it, the service its metrics.
func CountSends(t l2disco.Transport, count func(FrameKind, error)) l2disco.Transport {
	return &countingTransport{t: t, count: count}
}

type countingTransport struct {
	t     l2disco.Transport
	count func(FrameKind, error)
}

func (c *countingTransport) SendARPAnnouncement(mac net.HardwareAddr, addr netip.Addr) error {
	err := c.t.SendARPAnnouncement(mac, addr)
	c.count(FrameARP, err)
	return err
}

func (c *countingTransport) SendARPRequest(mac net.HardwareAddr, src, target netip.Addr) error {
	err := c.t.SendARPRequest(mac, src, target)
	c.count(FrameGatewayARP, err)
	return err
}

func (c *countingTransport) SendUnsolicitedNA(mac net.HardwareAddr, addr netip.Addr) error {
	err := c.t.SendUnsolicitedNA(mac, addr)
	c.count(FrameNA, err)
	return err
}

func (c *countingTransport) SendNeighborSolicitation(mac net.HardwareAddr, src, target netip.Addr) error {
	err := c.t.SendNeighborSolicitation(mac, src, target)
	c.count(FrameGatewayNS, err)
	return err
}

func (c *countingTransport) LinkMAC() (net.HardwareAddr, error) { return c.t.LinkMAC() }

// Files passes through, so that announcer.Job.Run opens its netlink socket in the namespace of the
// sockets and re-reads the interface's addresses before each round.
func (c *countingTransport) Files() (arp, icmp6 *os.File, err error) {
	if f, ok := c.t.(interface {
		Files() (*os.File, *os.File, error)
	}); ok {
		return f.Files()
	}
	return nil, nil, errors.New("transport has no socket files")
}

// NetNS passes through, so that l2disco.Announcer still learns the sockets' namespace.
func (c *countingTransport) NetNS() (l2disco.NetNSID, error) {
	if n, ok := c.t.(interface {
		NetNS() (l2disco.NetNSID, error)
	}); ok {
		return n.NetNS()
	}
	return l2disco.NetNSID{}, errors.New("transport cannot tell its network namespace")
}

// RoundFrames is what a round reported by l2disco sent and failed per kind, for a round over
// targets (with the gateway requests if gateways). l2disco counts failures in one number; a
// send neither sent nor skipped failed, and one a stopped round never tried counts as failed too.
func RoundFrames(rep l2disco.RoundReport, t l2disco.Targets, gateways bool) Frames {
	v6 := 0
	for _, a := range t.IPv6 {
		if !a.IsLinkLocalUnicast() {
			v6++
		}
	}
	var f Frames
	f.Sent = FrameCounts{ARP: len(rep.ARP), NA: len(rep.NA), GatewayARP: len(rep.GatewayARP), GatewayNS: len(rep.GatewayNS)}
	want := FrameCounts{ARP: len(t.IPv4), NA: v6 - len(rep.SkippedNA)}
	if gateways {
		want.GatewayARP, want.GatewayNS = len(t.GatewaysV4)*len(t.IPv4), len(t.GatewaysV6)*v6
	}
	for _, k := range FrameKinds {
		if n := want.Of(k) - f.Sent.Of(k); n > 0 {
			*f.Failed.ptr(k) = n
		}
	}
	return f
}
