package l2disco

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"testing"
)

var (
	testPeerMAC  = net.HardwareAddr{0x02, 0x42, 0xcb, 0x00, 0x71, 0x0a}
	testStaleMAC = net.HardwareAddr{0x02, 0x42, 0xc6, 0x33, 0x0e, 0x1d} // the previous pod's
	testPeerV4   = netip.MustParseAddr("198.51.100.20")
	testPeerV6   = netip.MustParseAddr("2001:db8::14")
)

// staleV4Frame is what a peer whose entry for 198.51.100.10 still holds the
// previous pod's MAC sends it: a ping, as tcpdump -e shows it in the new
// pod's netns.
func staleV4Frame() []byte {
	return merge(
		[]byte{0x02, 0x42, 0xc6, 0x33, 0x0e, 0x1d}, // Ethernet destination: the stale MAC
		[]byte{0x02, 0x42, 0xcb, 0x00, 0x71, 0x0a}, // Ethernet source: the peer
		[]byte{0x08, 0x00},                         // EtherType: IPv4
		[]byte{0x45, 0x00},                         // version 4, IHL 5; DSCP/ECN
		[]byte{0x00, 0x54},                         // total length 84
		[]byte{0x12, 0x34, 0x40, 0x00},             // identification; DF
		[]byte{64, 1},                              // TTL; protocol ICMP
		[]byte{0x00, 0x00},                         // header checksum (not read)
		[]byte{198, 51, 100, 20},                   // source: the peer
		[]byte{198, 51, 100, 10},                   // destination: our address
		[]byte{8, 0, 0, 0, 0, 1, 0, 1},             // ICMP echo request
	)
}

func staleV6Frame() []byte {
	return merge(
		[]byte{0x02, 0x42, 0xc6, 0x33, 0x0e, 0x1d},                            // Ethernet destination: the stale MAC
		[]byte{0x02, 0x42, 0xcb, 0x00, 0x71, 0x0a},                            // Ethernet source: the peer
		[]byte{0x86, 0xdd},                                                    // EtherType: IPv6
		[]byte{0x60, 0x00, 0x00, 0x00},                                        // version 6; traffic class, flow label
		[]byte{0x00, 0x08, 58, 64},                                            // payload length 8; next header ICMPv6; hop limit
		[]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x14}, // source: the peer
		[]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a}, // destination: our address
		[]byte{128, 0, 0, 0, 0, 1, 0, 1},                                      // ICMPv6 echo request
	)
}

func TestParseStaleFrame(t *testing.T) {
	for _, c := range []struct {
		name  string
		frame []byte
		want  StalePeer
	}{
		{"ipv4", staleV4Frame(), StalePeer{PeerMAC: testPeerMAC, PeerIP: testPeerV4, OurIP: testV4, StaleMAC: testStaleMAC}},
		{"ipv6", staleV6Frame(), StalePeer{PeerMAC: testPeerMAC, PeerIP: testPeerV6, OurIP: testV6, StaleMAC: testStaleMAC}},
		// The listener's filter keeps only the headers.
		{"ipv6 truncated after the header", staleV6Frame()[:ethHeaderLen+ip6HeaderLen], StalePeer{PeerMAC: testPeerMAC, PeerIP: testPeerV6, OurIP: testV6, StaleMAC: testStaleMAC}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseStaleFrame(c.frame, testMAC)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.PeerMAC, c.want.PeerMAC) || got.PeerIP != c.want.PeerIP || got.OurIP != c.want.OurIP || !bytes.Equal(got.StaleMAC, c.want.StaleMAC) {
				t.Fatalf("parsed %+v, want %+v", got, c.want)
			}
			if wantFam := map[bool]string{true: FamilyIPv4, false: FamilyIPv6}[c.want.PeerIP.Is4()]; got.Family() != wantFam {
				t.Fatalf("family %q, want %q", got.Family(), wantFam)
			}
		})
	}
}

func TestParseStaleFrameRejects(t *testing.T) {
	with := func(frame []byte, off int, b ...byte) []byte {
		copy(frame[off:], b)
		return frame
	}
	for _, c := range []struct {
		name  string
		frame []byte
	}{
		{"empty", nil},
		{"Ethernet header only", staleV4Frame()[:ethHeaderLen]},
		{"to our own MAC", with(staleV4Frame(), ethDstOff, testMAC...)},
		{"to broadcast", with(staleV4Frame(), ethDstOff, EthernetBroadcast...)},
		{"to an IPv6 multicast MAC", with(staleV6Frame(), ethDstOff, 0x33, 0x33, 0, 0, 0, 1)},
		{"from our own MAC", with(staleV4Frame(), ethSrcOff, testMAC...)},
		{"from a group MAC", with(staleV4Frame(), ethSrcOff, 0x01)},
		{"from the zero MAC", with(staleV4Frame(), ethSrcOff, 0, 0, 0, 0, 0, 0)},
		{"ARP", with(staleV4Frame(), ethTypeOff, 0x08, 0x06)},
		{"IPv4 header cut short", staleV4Frame()[:ethHeaderLen+ip4HeaderLen-1]},
		{"IPv4 EtherType, version 6", with(staleV4Frame(), ethHeaderLen, 0x65)},
		{"IPv4 header length 16", with(staleV4Frame(), ethHeaderLen, 0x44)},
		{"IPv4 source unspecified", with(staleV4Frame(), ethHeaderLen+ip4SrcOff, 0, 0, 0, 0)},
		{"IPv4 source loopback", with(staleV4Frame(), ethHeaderLen+ip4SrcOff, 127, 0, 0, 1)},
		{"IPv4 to a multicast group", with(staleV4Frame(), ethHeaderLen+ip4DstOff, 224, 0, 0, 1)},
		{"IPv4 to broadcast", with(staleV4Frame(), ethHeaderLen+ip4DstOff, 255, 255, 255, 255)},
		{"IPv6 header cut short", staleV6Frame()[:ethHeaderLen+ip6HeaderLen-1]},
		{"IPv6 EtherType, version 4", with(staleV6Frame(), ethHeaderLen, 0x45)},
		{"IPv6 source unspecified", with(staleV6Frame(), ethHeaderLen+ip6SrcOff, make([]byte, 16)...)},
		{"IPv6 source IPv4-mapped", with(staleV6Frame(), ethHeaderLen+ip6SrcOff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 20)},
		{"IPv6 to a multicast group", with(staleV6Frame(), ethHeaderLen+ip6DstOff, 0xff, 0x02)},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := ParseStaleFrame(c.frame, testMAC)
			if !errors.Is(err, ErrNotStale) {
				t.Fatalf("parsed %+v, %v; want an error wrapping ErrNotStale", p, err)
			}
		})
	}
}

func TestDirectedNeighborSolicitationGolden(t *testing.T) {
	m, err := DirectedNeighborSolicitation(testMAC, testV6, testPeerV6)
	if err != nil {
		t.Fatal(err)
	}
	// Unicast to the peer itself, not to its solicited-node group.
	checkNSGolden(t, m, testPeerV6, testPeerV6)
	if _, err := DirectedNeighborSolicitation(testMAC, testV6, IPv6AllNodes); err == nil {
		t.Fatal("NS to ff02::1 accepted")
	}
}
