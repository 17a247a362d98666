package l2disco

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// A black-holed frame is one a peer still sends to one of our addresses at
// a MAC that is no longer ours: after a pod's IP is reused, the bridge no
// longer knows the old pod's MAC and floods such frames, so the new pod's
// interface receives them as PACKET_OTHERHOST. Each names a peer with a
// stale neighbour entry for our address that ignored our announcements.

// IPv4 header (RFC 791, Section 3.1).
const (
	ip4SrcOff    = 12
	ip4DstOff    = 16
	ip4HeaderLen = 20
)

// Families as metrics and logs name them.
const (
	FamilyIPv4 = "ipv4"
	FamilyIPv6 = "ipv6"
)

// ErrNotStale means a frame does not show a stale peer: not a unicast IPv4
// or IPv6 frame from a unicast peer to another MAC than ours.
var ErrNotStale = errors.New("not a black-holed frame")

// A StalePeer is what one black-holed frame says about its sender.
type StalePeer struct {
	// PeerMAC and PeerIP are the frame's source: the peer with the stale
	// entry, and where a directed request reaches it.
	PeerMAC net.HardwareAddr
	PeerIP  netip.Addr
	// OurIP is the frame's destination, the address the peer's entry is
	// stale for; StaleMAC the MAC that entry holds.
	OurIP    netip.Addr
	StaleMAC net.HardwareAddr
}

// Family is FamilyIPv4 or FamilyIPv6.
func (p StalePeer) Family() string {
	if p.PeerIP.Is4() {
		return FamilyIPv4
	}
	return FamilyIPv6
}

// ParseStaleFrame reads a whole Ethernet frame as received on our
// interface, whose MAC is own, and returns the stale peer it shows. Only
// the headers are read, so a frame truncated after them (the listener's
// filter keeps no payload) parses. An error wraps ErrNotStale.
func ParseStaleFrame(frame []byte, own net.HardwareAddr) (StalePeer, error) {
	if len(frame) < ethHeaderLen {
		return StalePeer{}, fmt.Errorf("%w: %d bytes, shorter than an Ethernet header", ErrNotStale, len(frame))
	}
	dst, src := net.HardwareAddr(frame[ethDstOff:ethSrcOff]), net.HardwareAddr(frame[ethSrcOff:ethTypeOff])
	switch {
	case dst[0]&1 != 0:
		return StalePeer{}, fmt.Errorf("%w: destination %s is a group address", ErrNotStale, dst)
	case bytes.Equal(dst, own):
		return StalePeer{}, fmt.Errorf("%w: destination %s is our own MAC", ErrNotStale, dst)
	case src[0]&1 != 0 || bytes.Equal(src, own) || bytes.Equal(src, make([]byte, macLen)):
		return StalePeer{}, fmt.Errorf("%w: source %s is not a peer's MAC", ErrNotStale, src)
	}
	var peerIP, ourIP netip.Addr
	var err error
	switch et, ip := binary.BigEndian.Uint16(frame[ethTypeOff:]), frame[ethHeaderLen:]; et {
	case etherTypeIPv4:
		peerIP, ourIP, err = ipv4Addrs(ip)
	case etherTypeIPv6:
		peerIP, ourIP, err = ipv6Addrs(ip)
	default:
		err = fmt.Errorf("EtherType %#04x is neither IPv4 nor IPv6", et)
	}
	if err != nil {
		return StalePeer{}, fmt.Errorf("%w: %w", ErrNotStale, err)
	}
	return StalePeer{
		PeerMAC:  append(net.HardwareAddr(nil), src...),
		PeerIP:   peerIP,
		OurIP:    ourIP,
		StaleMAC: append(net.HardwareAddr(nil), dst...),
	}, nil
}

func ipv4Addrs(ip []byte) (src, dst netip.Addr, err error) {
	if len(ip) < ip4HeaderLen {
		return src, dst, fmt.Errorf("IPv4 header of %d bytes", len(ip))
	}
	if v, ihl := ip[0]>>4, int(ip[0]&0x0f)*4; v != 4 || ihl < ip4HeaderLen {
		return src, dst, fmt.Errorf("IPv4 version %d, header length %d", v, ihl)
	}
	src = netip.AddrFrom4([4]byte(ip[ip4SrcOff:ip4DstOff]))
	dst = netip.AddrFrom4([4]byte(ip[ip4DstOff:ip4HeaderLen]))
	if _, err := checkIPv4(src, "source"); err != nil {
		return src, dst, err
	}
	if _, err := checkIPv4(dst, "destination"); err != nil {
		return src, dst, err
	}
	return src, dst, nil
}

func ipv6Addrs(ip []byte) (src, dst netip.Addr, err error) {
	if len(ip) < ip6HeaderLen {
		return src, dst, fmt.Errorf("IPv6 header of %d bytes", len(ip))
	}
	if v := ip[0] >> 4; v != 6 {
		return src, dst, fmt.Errorf("IPv6 version %d", v)
	}
	src = netip.AddrFrom16([16]byte(ip[ip6SrcOff:ip6DstOff]))
	dst = netip.AddrFrom16([16]byte(ip[ip6DstOff:ip6HeaderLen]))
	// An IPv4-mapped address is no peer's on an IPv6 link.
	if _, err := checkIPv6(src, "source"); err != nil {
		return src, dst, err
	}
	if _, err := checkIPv6(dst, "destination"); err != nil {
		return src, dst, err
	}
	return src, dst, nil
}

// DirectedNeighborSolicitation returns the Neighbor Solicitation that src
// (at mac) sends to target itself, with a Source Link-Layer Address option:
// the unicast form RFC 4861 Section 7.2.2 uses to reconfirm a neighbour. A
// peer that ignores unsolicited NAs still updates its entry for src from
// it (Section 7.2.3), and the kernel sends it to target's MAC from our
// neighbour table.
func DirectedNeighborSolicitation(mac net.HardwareAddr, src, target netip.Addr) (ICMPv6Message, error) {
	m, err := NeighborSolicitation(mac, src, target)
	if err != nil {
		return ICMPv6Message{}, err
	}
	m.Dst = target.WithZone("")
	return m, nil
}
