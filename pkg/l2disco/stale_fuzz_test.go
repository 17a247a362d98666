package l2disco

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/net/bpf"
)

// FuzzParseStaleFrame feeds arbitrary frames to ParseStaleFrame and to the
// listener's filter. Whatever the parser accepts must name exactly the
// header bytes it came from, and a frame the parser accepts as sent to one
// of our addresses must never be dropped by the filter: the kernel would
// otherwise hide a stale peer from us.
func FuzzParseStaleFrame(f *testing.F) {
	f.Add(staleV4Frame())
	f.Add(staleV6Frame())
	f.Add(staleV6Frame()[:ethHeaderLen+ip6HeaderLen])
	f.Add(staleV4Frame()[:ethHeaderLen+3])
	ours := []netip.Addr{testV4, testV6}
	prog, err := staleFilterBody(testMAC, ours)
	if err != nil {
		f.Fatal(err)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		verdict, err := vm.Run(frame)
		if err != nil {
			t.Fatalf("filter on %x: %v", frame, err)
		}
		p, err := ParseStaleFrame(frame, testMAC)
		if err != nil {
			return
		}
		if !bytes.Equal(p.StaleMAC, frame[0:6]) || !bytes.Equal(p.PeerMAC, frame[6:12]) {
			t.Fatalf("MACs %s > %s from %x", p.PeerMAC, p.StaleMAC, frame[:12])
		}
		var src, dst []byte
		switch binary.BigEndian.Uint16(frame[12:]) {
		case etherTypeIPv4:
			src, dst = frame[14+12:14+16], frame[14+16:14+20]
		case etherTypeIPv6:
			src, dst = frame[14+8:14+24], frame[14+24:14+40]
		default:
			t.Fatalf("accepted EtherType %x", frame[12:14])
		}
		if !bytes.Equal(p.PeerIP.AsSlice(), src) || !bytes.Equal(p.OurIP.AsSlice(), dst) {
			t.Fatalf("addresses %s > %s from %x", p.PeerIP, p.OurIP, frame)
		}
		if (p.OurIP == testV4 || p.OurIP == testV6) && verdict == 0 {
			t.Fatalf("filter drops a stale frame to %s: %x", p.OurIP, frame)
		}
	})
}
