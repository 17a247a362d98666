package l2disco

import (
	"net/netip"
	"testing"

	"golang.org/x/net/bpf"
)

// runFilter runs the filter body on frame in x/net/bpf's VM and returns its
// verdict: 0 drops the frame, n > 0 keeps its first n bytes (the VM, like
// the kernel, leaves a shorter frame whole).
func runFilter(t *testing.T, addrs []netip.Addr, frame []byte) int {
	t.Helper()
	prog, err := staleFilterBody(testMAC, addrs)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		t.Fatalf("VM refuses the filter: %v", err)
	}
	n, err := vm.Run(frame)
	if err != nil {
		t.Fatalf("run filter: %v", err)
	}
	return n
}

func TestStaleFilterKeeps(t *testing.T) {
	ours := []netip.Addr{netip.MustParseAddr("198.51.100.9"), testV4, netip.MustParseAddr("2001:db8::9"), testV6}
	for _, c := range []struct {
		name  string
		addrs []netip.Addr
		frame []byte
	}{
		{"IPv4 to our second address", ours, staleV4Frame()},
		{"IPv6 to our second address", ours, staleV6Frame()},
		{"IPv4 only", []netip.Addr{testV4}, staleV4Frame()},
		{"IPv6 only", []netip.Addr{testV6}, staleV6Frame()},
		{"a full-size frame", ours, append(staleV6Frame(), make([]byte, 1400)...)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := runFilter(t, c.addrs, c.frame); got != StaleSnapLen {
				t.Fatalf("filter verdict %d, want %d (kept, truncated)", got, StaleSnapLen)
			}
		})
	}
}

func TestStaleFilterDrops(t *testing.T) {
	ours := []netip.Addr{testV4, testV6}
	with := func(frame []byte, off int, b ...byte) []byte {
		copy(frame[off:], b)
		return frame
	}
	for _, c := range []struct {
		name  string
		addrs []netip.Addr
		frame []byte
	}{
		{"to our own MAC", ours, with(staleV4Frame(), ethDstOff, testMAC...)},
		{"to broadcast", ours, with(staleV4Frame(), ethDstOff, EthernetBroadcast...)},
		{"to an IPv6 multicast MAC", ours, with(staleV6Frame(), ethDstOff, 0x33, 0x33, 0, 0, 0, 1)},
		{"ARP", ours, with(staleV4Frame(), ethTypeOff, 0x08, 0x06)},
		{"IPv4 to another address", ours, with(staleV4Frame(), ethHeaderLen+ip4DstOff, 198, 51, 100, 11)},
		{"IPv6 to another address", ours, with(staleV6Frame(), ethHeaderLen+ip6DstOff+15, 0x0b)},
		// Only the first word of the address differs.
		{"IPv6 to another prefix", ours, with(staleV6Frame(), ethHeaderLen+ip6DstOff, 0x20, 0x01, 0x0d, 0xb9)},
		{"IPv4 with no IPv4 address", []netip.Addr{testV6}, staleV4Frame()},
		{"IPv6 with no IPv6 address", []netip.Addr{testV4}, staleV6Frame()},
		{"IPv4 EtherType, version 6", ours, with(staleV4Frame(), ethHeaderLen, 0x65)},
		{"IPv6 EtherType, version 4", ours, with(staleV6Frame(), ethHeaderLen, 0x45)},
		{"cut inside the IPv4 destination", ours, staleV4Frame()[:ethHeaderLen+ip4DstOff+2]},
		{"cut inside the IPv6 destination", ours, staleV6Frame()[:ethHeaderLen+ip6DstOff+8]},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := runFilter(t, c.addrs, c.frame); got != 0 {
				t.Fatalf("filter keeps %d bytes, want the frame dropped", got)
			}
		})
	}
}

// A destination MAC that shares four bytes with ours is someone else's.
func TestStaleFilterComparesTheWholeMAC(t *testing.T) {
	for _, off := range []int{0, 1, 5} {
		f := staleV4Frame()
		copy(f[ethDstOff:], testMAC)
		f[ethDstOff+off] ^= 0x04 // stays unicast
		if got := runFilter(t, []netip.Addr{testV4}, f); got == 0 {
			t.Errorf("MAC %x differing from ours in byte %d: dropped", f[:6], off)
		}
	}
}

func TestStaleFilterKernelPrefixAndLimits(t *testing.T) {
	prog, err := StaleFilter(testMAC, []netip.Addr{testV4})
	if err != nil {
		t.Fatal(err)
	}
	if ext, ok := prog[0].(bpf.LoadExtension); !ok || ext.Num != bpf.ExtType {
		t.Fatalf("first instruction %v, want the packet type load", prog[0])
	}
	if jump, ok := prog[1].(bpf.JumpIf); !ok || jump.Val != packetOtherHost || jump.SkipTrue != 1 || jump.SkipFalse != 0 {
		t.Fatalf("second instruction %v, want jump over the drop for PACKET_OTHERHOST", prog[1])
	}
	if _, err := bpf.Assemble(prog); err != nil {
		t.Fatalf("assemble: %v", err)
	}

	many := make([]netip.Addr, MaxFilterAddrs)
	for i := range many {
		many[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)})
	}
	prog, err = StaleFilter(testMAC, many)
	if err != nil {
		t.Fatalf("%d IPv6 addresses: %v", len(many), err)
	}
	// The last address is reached and accepted through every jump.
	f := staleV6Frame()
	f[ethHeaderLen+ip6DstOff+15] = byte(MaxFilterAddrs)
	if got := runFilter(t, many, f); got != StaleSnapLen {
		t.Fatalf("frame to the last of %d addresses: filter keeps %d", len(many), got)
	}
	if _, err := StaleFilter(testMAC, append(many, testV6)); err == nil {
		t.Fatalf("%d IPv6 addresses accepted", len(many)+1)
	}
	if _, err := StaleFilter(testMAC, nil); err == nil {
		t.Fatal("no addresses accepted")
	}
	if _, err := StaleFilter(EthernetBroadcast, []netip.Addr{testV4}); err == nil {
		t.Fatal("broadcast MAC accepted as ours")
	}
}
