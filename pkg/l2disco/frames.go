package l2disco

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
)

// ARP payload (RFC 826) for Ethernet and IPv4: the only combination sent.
const (
	arpHTypeOff  = 0  // hardware type, 2 bytes
	arpPTypeOff  = 2  // protocol type, 2 bytes
	arpHLenOff   = 4  // hardware address length, 1 byte
	arpPLenOff   = 5  // protocol address length, 1 byte
	arpOpOff     = 6  // operation, 2 bytes
	arpSHAOff    = 8  // sender hardware address, 6 bytes
	arpSPAOff    = 14 // sender protocol address, 4 bytes
	arpTHAOff    = 18 // target hardware address, 6 bytes
	arpTPAOff    = 24 // target protocol address, 4 bytes
	arpLen       = 28
	arpHTypeEth  = 1
	arpOpRequest = 1

	etherTypeIPv4 = 0x0800
	etherTypeARP  = 0x0806
	etherTypeIPv6 = 0x86dd

	macLen = 6
)

// ICMPv6 Neighbor Discovery messages (RFC 4861, Sections 4.3, 4.4, 4.6.1).
const (
	icmp6TypeOff     = 0
	icmp6CodeOff     = 1
	icmp6ChecksumOff = 2 // 2 bytes
	ndFlagsOff       = 4 // NA: R, S, O bits; NS: reserved
	ndTargetOff      = 8 // 16 bytes
	ndOptionsOff     = 24
	ndLLAOptLen      = 8 // type, length (in 8-byte units), 6-byte MAC

	icmp6TypeNS = 135
	icmp6TypeNA = 136

	naFlagRouter    = 0x80
	naFlagSolicited = 0x40
	naFlagOverride  = 0x20

	ndOptSourceLLA = 1
	ndOptTargetLLA = 2

	// NDPHopLimit is the only hop limit receivers accept on Neighbor
	// Discovery messages (RFC 4861, Sections 7.1.1 and 7.1.2): it proves the
	// message was not forwarded by a router.
	NDPHopLimit = 255

	protoICMPv6 = 58
)

// IPv6 header (RFC 8200, Section 3).
const (
	ip6PayloadLenOff = 4
	ip6NextHeaderOff = 6
	ip6HopLimitOff   = 7
	ip6SrcOff        = 8
	ip6DstOff        = 24
	ip6HeaderLen     = 40

	ethDstOff     = 0
	ethSrcOff     = 6
	ethTypeOff    = 12
	ethHeaderLen  = 14
	ethMcastV6Pfx = 0x33 // RFC 2464, Section 7: 33:33 + low 32 bits of the group
)

var (
	// EthernetBroadcast is where ARP announcements and requests are sent.
	EthernetBroadcast = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

	// IPv6AllNodes is ff02::1, the destination of unsolicited NAs.
	IPv6AllNodes = netip.MustParseAddr("ff02::1")
)

// ARPAnnouncement returns the 28-byte ARP payload that announces addr at mac:
// an ARP request with sender IP == target IP and a zero target MAC, the form
// RFC 5227 Section 2.3 recommends and Linux accepts without its 1 s locktime.
// There is no Ethernet header: an AF_PACKET SOCK_DGRAM socket adds it.
func ARPAnnouncement(mac net.HardwareAddr, addr netip.Addr) ([]byte, error) {
	if err := checkMAC(mac); err != nil {
		return nil, fmt.Errorf("ARP announcement for %s: %w", addr, err)
	}
	a, err := checkIPv4(addr, "address")
	if err != nil {
		return nil, fmt.Errorf("ARP announcement: %w", err)
	}
	return arpRequest(mac, a, a), nil
}

// ARPRequest returns the ARP payload of a request from src (at mac) for
// target. Sent to a gateway, it makes even stacks that ignore gratuitous ARP
// learn mac for src, since they must answer it.
func ARPRequest(mac net.HardwareAddr, src, target netip.Addr) ([]byte, error) {
	if err := checkMAC(mac); err != nil {
		return nil, fmt.Errorf("ARP request from %s for %s: %w", src, target, err)
	}
	s, err := checkIPv4(src, "source")
	if err != nil {
		return nil, fmt.Errorf("ARP request for %s: %w", target, err)
	}
	t, err := checkIPv4(target, "target")
	if err != nil {
		return nil, fmt.Errorf("ARP request from %s: %w", src, err)
	}
	return arpRequest(mac, s, t), nil
}

func arpRequest(mac net.HardwareAddr, src, target netip.Addr) []byte {
	b := make([]byte, arpLen)
	binary.BigEndian.PutUint16(b[arpHTypeOff:], arpHTypeEth)
	binary.BigEndian.PutUint16(b[arpPTypeOff:], etherTypeIPv4)
	b[arpHLenOff] = macLen
	b[arpPLenOff] = 4
	binary.BigEndian.PutUint16(b[arpOpOff:], arpOpRequest)
	copy(b[arpSHAOff:], mac)
	s, t := src.As4(), target.As4()
	copy(b[arpSPAOff:], s[:])
	// The target hardware address stays zero: RFC 5227 Section 2.3.
	copy(b[arpTPAOff:], t[:])
	return b
}

// ARPFrame prepends the Ethernet header (broadcast destination, source src)
// that the kernel adds to an ARP payload sent on an AF_PACKET SOCK_DGRAM
// socket. It is for comparing with captures and for golden tests.
func ARPFrame(src net.HardwareAddr, payload []byte) ([]byte, error) {
	if err := checkMAC(src); err != nil {
		return nil, fmt.Errorf("ARP frame: %w", err)
	}
	return ethernetFrame(EthernetBroadcast, src, etherTypeARP, payload), nil
}

// An ICMPv6Message is an ICMPv6 message and the IPv6 header fields it must
// be sent with.
type ICMPv6Message struct {
	Src, Dst netip.Addr
	HopLimit uint8

	// Body is the ICMPv6 header and message with a zero checksum: the kernel
	// computes the checksum for raw ICMPv6 sockets (RFC 3542, Section 3.1).
	Body []byte
}

// UnsolicitedNA returns the Neighbor Advertisement that announces addr at
// mac to all nodes (RFC 4861, Section 7.2.6): Router=0, Solicited=0,
// Override=1, a Target Link-Layer Address option, sent from addr itself to
// ff02::1 with hop limit 255. Linux peers ignore a Source Link-Layer Address
// option on an NA, so only the target option is included.
func UnsolicitedNA(mac net.HardwareAddr, addr netip.Addr) (ICMPv6Message, error) {
	if err := checkMAC(mac); err != nil {
		return ICMPv6Message{}, fmt.Errorf("neighbor advertisement for %s: %w", addr, err)
	}
	a, err := checkIPv6(addr, "address")
	if err != nil {
		return ICMPv6Message{}, fmt.Errorf("neighbor advertisement: %w", err)
	}
	b := ndMessage(icmp6TypeNA, a, ndOptTargetLLA, mac)
	b[ndFlagsOff] = naFlagOverride
	return ICMPv6Message{Src: a, Dst: IPv6AllNodes, HopLimit: NDPHopLimit, Body: b}, nil
}

// NeighborSolicitation returns the Neighbor Solicitation that src (at mac)
// sends to resolve target, to target's solicited-node multicast address, with
// a Source Link-Layer Address option. The solicited peer updates its entry
// for src to mac (RFC 4861, Section 7.2.3) even if it ignores unsolicited NAs.
func NeighborSolicitation(mac net.HardwareAddr, src, target netip.Addr) (ICMPv6Message, error) {
	if err := checkMAC(mac); err != nil {
		return ICMPv6Message{}, fmt.Errorf("neighbor solicitation from %s for %s: %w", src, target, err)
	}
	s, err := checkIPv6(src, "source")
	if err != nil {
		return ICMPv6Message{}, fmt.Errorf("neighbor solicitation for %s: %w", target, err)
	}
	t, err := checkIPv6(target, "target")
	if err != nil {
		return ICMPv6Message{}, fmt.Errorf("neighbor solicitation from %s: %w", src, err)
	}
	b := ndMessage(icmp6TypeNS, t, ndOptSourceLLA, mac)
	return ICMPv6Message{Src: s, Dst: SolicitedNodeMulticast(t), HopLimit: NDPHopLimit, Body: b}, nil
}

// ndMessage lays out an NS or NA with one link-layer address option; the
// flags and the checksum are left zero.
func ndMessage(typ uint8, target netip.Addr, optType uint8, mac net.HardwareAddr) []byte {
	b := make([]byte, ndOptionsOff+ndLLAOptLen)
	b[icmp6TypeOff] = typ
	b[icmp6CodeOff] = 0
	t := target.As16()
	copy(b[ndTargetOff:], t[:])
	b[ndOptionsOff] = optType
	b[ndOptionsOff+1] = ndLLAOptLen / 8
	copy(b[ndOptionsOff+2:], mac)
	return b
}

// SolicitedNodeMulticast returns ff02::1:ffXX:XXXX for the low 24 bits of
// addr (RFC 4291, Section 2.7.1).
func SolicitedNodeMulticast(addr netip.Addr) netip.Addr {
	a := addr.As16()
	return netip.AddrFrom16([16]byte{
		0xff, 0x02, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0x01, 0xff, a[13], a[14], a[15],
	})
}

// Checksummed returns a copy of m.Body with the ICMPv6 checksum filled in,
// as it appears on the wire.
func (m ICMPv6Message) Checksummed() []byte {
	b := append([]byte(nil), m.Body...)
	if len(b) < icmp6ChecksumOff+2 {
		return b
	}
	b[icmp6ChecksumOff], b[icmp6ChecksumOff+1] = 0, 0
	binary.BigEndian.PutUint16(b[icmp6ChecksumOff:], ICMPv6Checksum(m.Src, m.Dst, b))
	return b
}

// Frame returns the whole Ethernet frame the kernel puts on the wire for m
// sent from src: Ethernet, IPv6 (traffic class and flow label zero; the
// kernel may set a flow label) and the checksummed ICMPv6 message. Only
// multicast destinations are supported, since a unicast destination's MAC
// comes from the neighbour table.
func (m ICMPv6Message) Frame(src net.HardwareAddr) ([]byte, error) {
	if err := checkMAC(src); err != nil {
		return nil, fmt.Errorf("IPv6 frame to %s: %w", m.Dst, err)
	}
	if !m.Dst.Is6() || !m.Dst.IsMulticast() {
		return nil, fmt.Errorf("IPv6 frame: destination %s is not an IPv6 multicast address", m.Dst)
	}
	ip := make([]byte, ip6HeaderLen, ip6HeaderLen+len(m.Body))
	ip[0] = 6 << 4
	binary.BigEndian.PutUint16(ip[ip6PayloadLenOff:], uint16(len(m.Body)))
	ip[ip6NextHeaderOff] = protoICMPv6
	ip[ip6HopLimitOff] = m.HopLimit
	s, d := m.Src.As16(), m.Dst.As16()
	copy(ip[ip6SrcOff:], s[:])
	copy(ip[ip6DstOff:], d[:])
	ip = append(ip, m.Checksummed()...)
	dst := net.HardwareAddr{ethMcastV6Pfx, ethMcastV6Pfx, d[12], d[13], d[14], d[15]}
	return ethernetFrame(dst, src, etherTypeIPv6, ip), nil
}

// ICMPv6Checksum returns the checksum of an ICMPv6 message b (whose checksum
// field must be zero) sent from src to dst: the one's complement sum over
// the IPv6 pseudo-header (RFC 8200, Section 8.1) and b. A received message
// is valid when ICMPv6Checksum over it, checksum included, is zero.
func ICMPv6Checksum(src, dst netip.Addr, b []byte) uint16 {
	s, d := src.As16(), dst.As16()
	var sum uint32
	sum = sumWords(sum, s[:])
	sum = sumWords(sum, d[:])
	sum += uint32(len(b)>>16) + uint32(len(b)&0xffff) // upper-layer packet length
	sum += protoICMPv6                                // three zero bytes, next header
	sum = sumWords(sum, b)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

func sumWords(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
		if sum > 0xffff {
			sum = sum>>16 + sum&0xffff
		}
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

func ethernetFrame(dst, src net.HardwareAddr, etherType uint16, payload []byte) []byte {
	b := make([]byte, ethHeaderLen, ethHeaderLen+len(payload))
	copy(b[ethDstOff:], dst)
	copy(b[ethSrcOff:], src)
	binary.BigEndian.PutUint16(b[ethTypeOff:], etherType)
	return append(b, payload...)
}

func checkMAC(mac net.HardwareAddr) error {
	if len(mac) != macLen {
		return fmt.Errorf("MAC %q is %d bytes, want 6 (Ethernet)", mac, len(mac))
	}
	if mac[0]&1 != 0 {
		return fmt.Errorf("MAC %s is a multicast address, not an interface's", mac)
	}
	return nil
}

// checkIPv4 accepts IPv4 and IPv4-mapped IPv6 addresses that an interface
// can hold, and returns the plain IPv4 form; role names the address in
// errors.
func checkIPv4(a netip.Addr, role string) (netip.Addr, error) {
	if !a.IsValid() {
		return a, fmt.Errorf("%s is not set", role)
	}
	u := a.Unmap()
	if !u.Is4() {
		return a, fmt.Errorf("%s %s is not an IPv4 address", role, a)
	}
	if err := checkUnicast(u, role); err != nil {
		return a, err
	}
	if u == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return a, fmt.Errorf("%s %s is the broadcast address", role, a)
	}
	return u, nil
}

// checkIPv6 accepts IPv6 unicast addresses (a zone is dropped: the interface
// is the socket's) and returns them without zone.
func checkIPv6(a netip.Addr, role string) (netip.Addr, error) {
	if !a.IsValid() {
		return a, fmt.Errorf("%s is not set", role)
	}
	if !a.Is6() || a.Is4In6() {
		return a, fmt.Errorf("%s %s is not an IPv6 address", role, a)
	}
	a = a.WithZone("")
	if err := checkUnicast(a, role); err != nil {
		return a, err
	}
	return a, nil
}

func checkUnicast(a netip.Addr, role string) error {
	switch {
	case a.IsUnspecified():
		return fmt.Errorf("%s %s is unspecified", role, a)
	case a.IsMulticast():
		return fmt.Errorf("%s %s is a multicast address", role, a)
	case a.IsLoopback():
		return fmt.Errorf("%s %s is a loopback address", role, a)
	}
	return nil
}
