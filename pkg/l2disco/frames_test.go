package l2disco

import (
	"bytes"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"
)

var (
	testMAC  = net.HardwareAddr{0x02, 0x42, 0xc6, 0x33, 0x64, 0x0a}
	testV4   = netip.MustParseAddr("198.51.100.10")
	testGWv4 = netip.MustParseAddr("198.51.100.1")
	testV6   = netip.MustParseAddr("2001:db8::a")
	testGWv6 = netip.MustParseAddr("2001:db8::1")
)

// merge joins the annotated rows of a golden frame.
func merge(rows ...[]byte) []byte { return bytes.Join(rows, nil) }

func TestARPAnnouncementGolden(t *testing.T) {
	want := merge(
		[]byte{0x00, 0x01}, // hardware type: Ethernet
		[]byte{0x08, 0x00}, // protocol type: IPv4
		[]byte{6},          // hardware address length
		[]byte{4},          // protocol address length
		[]byte{0x00, 0x01}, // operation: request (RFC 5227 2.3)
		[]byte{0x02, 0x42, 0xc6, 0x33, 0x64, 0x0a}, // sender MAC: ours
		[]byte{198, 51, 100, 10},                   // sender IP: the address
		[]byte{0, 0, 0, 0, 0, 0},                   // target MAC: zero
		[]byte{198, 51, 100, 10},                   // target IP: the address again (gratuitous)
	)
	got, err := ARPAnnouncement(testMAC, testV4)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("ARP announcement bytes:\n got %x\nwant %x", got, want)
	}
	checkARP(t, got, arp.Packet{
		HardwareType: 1, ProtocolType: 0x0800, HardwareAddrLength: 6, IPLength: 4,
		Operation:          arp.OperationRequest,
		SenderHardwareAddr: testMAC, SenderIP: testV4,
		TargetHardwareAddr: net.HardwareAddr{0, 0, 0, 0, 0, 0}, TargetIP: testV4,
	})

	frame, err := ARPFrame(testMAC, got)
	if err != nil {
		t.Fatal(err)
	}
	wantFrame := merge(
		[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // Ethernet destination: broadcast
		[]byte{0x02, 0x42, 0xc6, 0x33, 0x64, 0x0a}, // Ethernet source: ours
		[]byte{0x08, 0x06},                         // EtherType: ARP
		want,
	)
	if !bytes.Equal(frame, wantFrame) {
		t.Fatalf("ARP frame:\n got %x\nwant %x", frame, wantFrame)
	}
}

func TestARPRequestGolden(t *testing.T) {
	want := merge(
		[]byte{0x00, 0x01}, // hardware type: Ethernet
		[]byte{0x08, 0x00}, // protocol type: IPv4
		[]byte{6},          // hardware address length
		[]byte{4},          // protocol address length
		[]byte{0x00, 0x01}, // operation: request
		[]byte{0x02, 0x42, 0xc6, 0x33, 0x64, 0x0a}, // sender MAC: ours
		[]byte{198, 51, 100, 10},                   // sender IP: ours
		[]byte{0, 0, 0, 0, 0, 0},                   // target MAC: zero
		[]byte{198, 51, 100, 1},                    // target IP: the gateway
	)
	got, err := ARPRequest(testMAC, testV4, testGWv4)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("ARP request bytes:\n got %x\nwant %x", got, want)
	}
	checkARP(t, got, arp.Packet{
		HardwareType: 1, ProtocolType: 0x0800, HardwareAddrLength: 6, IPLength: 4,
		Operation:          arp.OperationRequest,
		SenderHardwareAddr: testMAC, SenderIP: testV4,
		TargetHardwareAddr: net.HardwareAddr{0, 0, 0, 0, 0, 0}, TargetIP: testGWv4,
	})
}

func checkARP(t *testing.T, b []byte, want arp.Packet) {
	t.Helper()
	var got arp.Packet
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatalf("mdlayher/arp cannot decode %x: %v", b, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded ARP:\n got %+v\nwant %+v", got, want)
	}
}

func TestUnsolicitedNAGolden(t *testing.T) {
	m, err := UnsolicitedNA(testMAC, testV6)
	if err != nil {
		t.Fatal(err)
	}
	wantBody := merge(
		[]byte{136},        // ICMPv6 type: Neighbor Advertisement
		[]byte{0},          // code
		[]byte{0x00, 0x00}, // checksum: left to the kernel
		[]byte{0x20},       // flags: R=0 S=0 O=1
		[]byte{0, 0, 0},    // reserved
		[]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a}, // target: the address
		[]byte{2}, // option: Target Link-Layer Address
		[]byte{1}, // option length: 1 x 8 bytes
		[]byte{0x02, 0x42, 0xc6, 0x33, 0x64, 0x0a}, // the MAC
	)
	if !bytes.Equal(m.Body, wantBody) {
		t.Fatalf("NA body:\n got %x\nwant %x", m.Body, wantBody)
	}
	if m.Src != testV6 || m.Dst != netip.MustParseAddr("ff02::1") || m.HopLimit != 255 {
		t.Fatalf("NA envelope = src %s dst %s hop limit %d, want src %s dst ff02::1 hop limit 255", m.Src, m.Dst, m.HopLimit, testV6)
	}

	checkNDP(t, m, &ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: testV6,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: testMAC}},
	})

	frame, err := m.Frame(testMAC)
	if err != nil {
		t.Fatal(err)
	}
	sum := m.Checksummed()[2:4]
	wantFrame := merge(
		[]byte{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}, // Ethernet destination: ff02::1 mapped (RFC 2464)
		[]byte{0x02, 0x42, 0xc6, 0x33, 0x64, 0x0a}, // Ethernet source: ours
		[]byte{0x86, 0xdd},                         // EtherType: IPv6
		[]byte{0x60, 0, 0, 0},                      // version 6, traffic class 0, flow label 0
		[]byte{0, 32},                              // payload length
		[]byte{58},                                 // next header: ICMPv6
		[]byte{255},                                // hop limit
		[]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a}, // source: the address
		[]byte{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01},       // destination: all nodes
		wantBody[:2], sum, wantBody[4:],
	)
	if !bytes.Equal(frame, wantFrame) {
		t.Fatalf("NA frame:\n got %x\nwant %x", frame, wantFrame)
	}
}

func TestNeighborSolicitationGolden(t *testing.T) {
	m, err := NeighborSolicitation(testMAC, testV6, testGWv6)
	if err != nil {
		t.Fatal(err)
	}
	checkNSGolden(t, m, testGWv6, netip.MustParseAddr("ff02::1:ff00:1"))
	frame, err := m.Frame(testMAC)
	if err != nil {
		t.Fatal(err)
	}
	if want := (net.HardwareAddr{0x33, 0x33, 0xff, 0x00, 0x00, 0x01}); !bytes.Equal(frame[:6], want) {
		t.Fatalf("NS Ethernet destination = %s, want %s", net.HardwareAddr(frame[:6]), want)
	}
}

// checkNSGolden checks m byte for byte as the NS from testV6 at testMAC for
// target, sent to dst.
func checkNSGolden(t *testing.T, m ICMPv6Message, target, dst netip.Addr) {
	t.Helper()
	tb := target.As16()
	wantBody := merge(
		[]byte{135},        // ICMPv6 type: Neighbor Solicitation
		[]byte{0},          // code
		[]byte{0x00, 0x00}, // checksum: left to the kernel
		[]byte{0, 0, 0, 0}, // reserved
		tb[:],              // target
		[]byte{1},          // option: Source Link-Layer Address
		[]byte{1},          // option length: 1 x 8 bytes
		[]byte{0x02, 0x42, 0xc6, 0x33, 0x64, 0x0a}, // the MAC
	)
	if !bytes.Equal(m.Body, wantBody) {
		t.Fatalf("NS body:\n got %x\nwant %x", m.Body, wantBody)
	}
	if m.Src != testV6 || m.Dst != dst || m.HopLimit != 255 {
		t.Fatalf("NS envelope = src %s dst %s hop limit %d, want src %s dst %s hop limit 255", m.Src, m.Dst, m.HopLimit, testV6, dst)
	}
	checkNDP(t, m, &ndp.NeighborSolicitation{
		TargetAddress: target,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: testMAC}},
	})
}

// checkNDP decodes m with mdlayher/ndp and checks that our checksum equals
// the one x/net/icmp computes (through ndp.MarshalMessageChecksum) and that
// it verifies.
func checkNDP(t *testing.T, m ICMPv6Message, want ndp.Message) {
	t.Helper()
	got, err := ndp.ParseMessage(m.Body)
	if err != nil {
		t.Fatalf("mdlayher/ndp cannot decode %x: %v", m.Body, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded NDP message:\n got %#v\nwant %#v", got, want)
	}
	ref, err := ndp.MarshalMessageChecksum(want, m.Src, m.Dst)
	if err != nil {
		t.Fatal(err)
	}
	sum := m.Checksummed()
	if !bytes.Equal(sum, ref) {
		t.Fatalf("checksummed message:\n got %x\nwant %x (x/net/icmp)", sum, ref)
	}
	if v := ICMPv6Checksum(m.Src, m.Dst, sum); v != 0 {
		t.Fatalf("checksum does not verify: residue %#04x", v)
	}
}

func TestICMPv6ChecksumDetectsCorruption(t *testing.T) {
	m, err := UnsolicitedNA(testMAC, testV6)
	if err != nil {
		t.Fatal(err)
	}
	b := m.Checksummed()
	b[len(b)-1] ^= 0x01
	if ICMPv6Checksum(m.Src, m.Dst, b) == 0 {
		t.Fatal("a flipped bit still verifies")
	}
	// The pseudo-header is covered: another source must not verify.
	if ICMPv6Checksum(testGWv6, m.Dst, m.Checksummed()) == 0 {
		t.Fatal("checksum verifies with another source address")
	}
}

func TestSolicitedNodeMulticast(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"2001:db8::1", "ff02::1:ff00:1"},
		{"2001:db8::abcd:ef12:3456", "ff02::1:ff12:3456"},
		{"fe80::42:c6ff:fe33:640a", "ff02::1:ff33:640a"},
	} {
		if got := SolicitedNodeMulticast(netip.MustParseAddr(tt.in)); got != netip.MustParseAddr(tt.want) {
			t.Errorf("SolicitedNodeMulticast(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestFrameInputValidation(t *testing.T) {
	short := net.HardwareAddr{1, 2, 3}
	mcastMAC := net.HardwareAddr{0x01, 0, 0x5e, 0, 0, 1}
	tests := []struct {
		name    string
		err     error
		wantSub string
	}{
		{"ARP short MAC", errOf(ARPAnnouncement(short, testV4)), "want 6"},
		{"ARP multicast MAC", errOf(ARPAnnouncement(mcastMAC, testV4)), "multicast"},
		{"ARP IPv6 address", errOf(ARPAnnouncement(testMAC, testV6)), "address 2001:db8::a is not an IPv4"},
		{"ARP unset address", errOf(ARPAnnouncement(testMAC, netip.Addr{})), "address is not set"},
		{"ARP unspecified", errOf(ARPAnnouncement(testMAC, netip.IPv4Unspecified())), "unspecified"},
		{"ARP multicast", errOf(ARPAnnouncement(testMAC, netip.MustParseAddr("224.0.0.1"))), "multicast"},
		{"ARP broadcast", errOf(ARPAnnouncement(testMAC, netip.MustParseAddr("255.255.255.255"))), "broadcast"},
		{"ARP request target", errOf(ARPRequest(testMAC, testV4, testGWv6)), "target 2001:db8::1 is not an IPv4"},
		{"ARP request source", errOf(ARPRequest(testMAC, netip.IPv4Unspecified(), testGWv4)), "source 0.0.0.0 is unspecified"},
		{"NA short MAC", errOf(UnsolicitedNA(short, testV6)), "want 6"},
		{"NA IPv4 address", errOf(UnsolicitedNA(testMAC, testV4)), "address 198.51.100.10 is not an IPv6"},
		{"NA IPv4-mapped", errOf(UnsolicitedNA(testMAC, netip.MustParseAddr("::ffff:198.51.100.10"))), "not an IPv6"},
		{"NA unspecified", errOf(UnsolicitedNA(testMAC, netip.IPv6Unspecified())), "unspecified"},
		{"NA multicast", errOf(UnsolicitedNA(testMAC, IPv6AllNodes)), "multicast"},
		{"NA loopback", errOf(UnsolicitedNA(testMAC, netip.IPv6Loopback())), "loopback"},
		{"NS target", errOf(NeighborSolicitation(testMAC, testV6, netip.MustParseAddr("ff02::2"))), "target ff02::2 is a multicast"},
		{"NS source", errOf(NeighborSolicitation(testMAC, testV4, testGWv6)), "source 198.51.100.10 is not an IPv6"},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		if !strings.Contains(tt.err.Error(), tt.wantSub) {
			t.Errorf("%s: error %q does not say %q", tt.name, tt.err, tt.wantSub)
		}
	}
}

func errOf[T any](_ T, err error) error { return err }

func TestFrameAcceptsMappedIPv4AndZonedIPv6(t *testing.T) {
	a, err := ARPAnnouncement(testMAC, netip.MustParseAddr("::ffff:198.51.100.10"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ARPAnnouncement(testMAC, testV4)
	if !bytes.Equal(a, b) {
		t.Fatalf("IPv4-mapped address encodes differently: %x vs %x", a, b)
	}
	m, err := UnsolicitedNA(testMAC, netip.MustParseAddr("fe80::1%eth0"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Src.Zone() != "" {
		t.Fatalf("source keeps zone %q; the socket's interface is what counts", m.Src.Zone())
	}
}
