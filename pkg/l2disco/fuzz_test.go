package l2disco

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ndp"
)

// Each target feeds arbitrary MACs and addresses to an encoder; whatever the
// encoder accepts must decode, with an independent decoder, to exactly the
// MAC and addresses given, and IPv6 messages must carry a valid checksum.

func addSeeds(f *testing.F, a, b netip.Addr) {
	f.Add([]byte(testMAC), a.AsSlice(), b.AsSlice())
	f.Add([]byte{1, 2, 3}, a.AsSlice(), b.AsSlice())
	f.Add([]byte(testMAC), netip.IPv4Unspecified().AsSlice(), netip.MustParseAddr("::ffff:198.51.100.7").AsSlice())
	f.Add([]byte(testMAC), IPv6AllNodes.AsSlice(), netip.MustParseAddr("fe80::1").AsSlice())
}

func addrOf(b []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(b)
	return a
}

func FuzzARPAnnouncement(f *testing.F) {
	addSeeds(f, testV4, testGWv4)
	f.Fuzz(func(t *testing.T, mac, addr, _ []byte) {
		a := addrOf(addr)
		b, err := ARPAnnouncement(mac, a)
		if err != nil {
			return
		}
		p := decodeARP(t, b, mac)
		if p.SenderIP != a.Unmap() || p.TargetIP != a.Unmap() {
			t.Fatalf("addresses %s/%s, want %s twice", p.SenderIP, p.TargetIP, a)
		}
	})
}

func FuzzARPRequest(f *testing.F) {
	addSeeds(f, testV4, testGWv4)
	f.Fuzz(func(t *testing.T, mac, src, target []byte) {
		s, tg := addrOf(src), addrOf(target)
		b, err := ARPRequest(mac, s, tg)
		if err != nil {
			return
		}
		p := decodeARP(t, b, mac)
		if p.SenderIP != s.Unmap() || p.TargetIP != tg.Unmap() {
			t.Fatalf("addresses %s/%s, want %s/%s", p.SenderIP, p.TargetIP, s, tg)
		}
	})
}

func decodeARP(t *testing.T, b, mac []byte) arp.Packet {
	t.Helper()
	if len(mac) != 6 || len(b) != 28 {
		t.Fatalf("accepted MAC %x, encoded %d bytes", mac, len(b))
	}
	var p arp.Packet
	if err := p.UnmarshalBinary(b); err != nil {
		t.Fatalf("decode %x: %v", b, err)
	}
	if p.Operation != arp.OperationRequest || p.HardwareType != 1 || p.ProtocolType != 0x0800 ||
		!bytes.Equal(p.SenderHardwareAddr, mac) || !bytes.Equal(p.TargetHardwareAddr, make([]byte, 6)) {
		t.Fatalf("decoded %+v for MAC %x", p, mac)
	}
	frame, err := ARPFrame(mac, b)
	if err != nil || !bytes.Equal(frame[14:], b) || !bytes.Equal(frame[6:12], mac) {
		t.Fatalf("ARPFrame(%x) = %x, %v", mac, frame, err)
	}
	return p
}

func FuzzUnsolicitedNA(f *testing.F) {
	addSeeds(f, testV6, testGWv6)
	f.Fuzz(func(t *testing.T, mac, addr, _ []byte) {
		a := addrOf(addr)
		m, err := UnsolicitedNA(mac, a)
		if err != nil {
			return
		}
		msg := decodeNDP(t, m, mac)
		na, ok := msg.(*ndp.NeighborAdvertisement)
		if !ok || na.Router || na.Solicited || !na.Override || na.TargetAddress != a ||
			m.Src != a || m.Dst != IPv6AllNodes {
			t.Fatalf("decoded %#v (src %s dst %s) for %s", msg, m.Src, m.Dst, a)
		}
		checkLLA(t, na.Options, ndp.Target, mac)
	})
}

func FuzzNeighborSolicitation(f *testing.F) {
	addSeeds(f, testV6, testGWv6)
	f.Fuzz(func(t *testing.T, mac, src, target []byte) {
		s, tg := addrOf(src), addrOf(target)
		m, err := NeighborSolicitation(mac, s, tg)
		if err != nil {
			return
		}
		msg := decodeNDP(t, m, mac)
		ns, ok := msg.(*ndp.NeighborSolicitation)
		if !ok || ns.TargetAddress != tg || m.Src != s || m.Dst != SolicitedNodeMulticast(tg) {
			t.Fatalf("decoded %#v (src %s dst %s) for %s -> %s", msg, m.Src, m.Dst, s, tg)
		}
		checkLLA(t, ns.Options, ndp.Source, mac)
	})
}

func decodeNDP(t *testing.T, m ICMPv6Message, mac []byte) ndp.Message {
	t.Helper()
	if len(mac) != 6 || m.HopLimit != 255 {
		t.Fatalf("accepted MAC %x, hop limit %d", mac, m.HopLimit)
	}
	msg, err := ndp.ParseMessage(m.Body)
	if err != nil {
		t.Fatalf("decode %x: %v", m.Body, err)
	}
	if ICMPv6Checksum(m.Src, m.Dst, m.Checksummed()) != 0 {
		t.Fatalf("checksum does not verify for %x", m.Body)
	}
	if _, err := m.Frame(net.HardwareAddr(mac)); err != nil {
		t.Fatalf("Frame: %v", err)
	}
	return msg
}

func checkLLA(t *testing.T, opts []ndp.Option, dir ndp.Direction, mac []byte) {
	t.Helper()
	if len(opts) != 1 {
		t.Fatalf("%d options, want 1", len(opts))
	}
	lla, ok := opts[0].(*ndp.LinkLayerAddress)
	if !ok || lla.Direction != dir || !bytes.Equal(lla.Addr, mac) {
		t.Fatalf("option %#v, want %v link-layer address %x", opts[0], dir, mac)
	}
}
