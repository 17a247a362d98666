package l2disco

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/net/bpf"
)

// The listener's kernel filter keeps only the frames ParseStaleFrame wants,
// so that a healthy network costs nothing but the filter's few
// instructions per frame received: every other frame is dropped in the
// kernel before it is queued or copied.
const (
	// StaleSnapLen is how much of a kept frame is queued: the Ethernet and
	// IPv6 headers with room to spare, never a payload.
	StaleSnapLen = 96

	// MaxFilterAddrs bounds the addresses per family in a filter: classic
	// BPF jumps skip at most 255 instructions, and an IPv6 address costs 8.
	MaxFilterAddrs = 16

	packetOtherHost = 3 // PACKET_OTHERHOST, linux/if_packet.h
)

// StaleFilter returns the classic BPF program for a listener socket (a
// SOCK_RAW packet socket, which filters whole frames) on an interface whose
// MAC is own and whose addresses are addrs: it keeps frames the kernel
// classed PACKET_OTHERHOST whose destination MAC is unicast and not own,
// and whose IPv4 or IPv6 destination is one of addrs, truncated to
// StaleSnapLen.
func StaleFilter(own net.HardwareAddr, addrs []netip.Addr) ([]bpf.Instruction, error) {
	body, err := staleFilterBody(own, addrs)
	if err != nil {
		return nil, err
	}
	// The packet type is an ancillary load that only the kernel knows (and
	// bpf.VM refuses), so it is a self-contained prefix; the body checks
	// the same from the frame's bytes.
	prefix := []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: packetOtherHost, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
	}
	return append(prefix, body...), nil
}

// staleFilterBody is StaleFilter without the packet type check: what
// bpf.VM can run.
func staleFilterBody(own net.HardwareAddr, addrs []netip.Addr) ([]bpf.Instruction, error) {
	if err := checkMAC(own); err != nil {
		return nil, fmt.Errorf("listener filter: %w", err)
	}
	var v4, v6 []netip.Addr
	for _, a := range addrs {
		if a = a.Unmap().WithZone(""); a.Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	if len(v4) == 0 && len(v6) == 0 {
		return nil, fmt.Errorf("listener filter: no addresses")
	}
	if len(v4) > MaxFilterAddrs || len(v6) > MaxFilterAddrs {
		return nil, fmt.Errorf("listener filter: %d IPv4 and %d IPv6 addresses, at most %d each", len(v4), len(v6), MaxFilterAddrs)
	}
	var p progBuilder
	// Destination MAC: unicast (group bit clear) and not ours.
	p.emit(bpf.LoadAbsolute{Off: ethDstOff, Size: 1})
	p.jumpIf(bpf.JumpBitsSet, 1, "drop", "")
	p.emit(bpf.LoadAbsolute{Off: ethDstOff + 2, Size: 4})
	p.jumpIf(bpf.JumpEqual, binary.BigEndian.Uint32(own[2:]), "", "notOwn")
	p.emit(bpf.LoadAbsolute{Off: ethDstOff, Size: 2})
	p.jumpIf(bpf.JumpEqual, uint32(binary.BigEndian.Uint16(own)), "drop", "notOwn")
	p.label("notOwn")
	p.emit(bpf.LoadAbsolute{Off: ethTypeOff, Size: 2})
	p.jumpIf(bpf.JumpEqual, etherTypeIPv4, "ipv4", "")
	p.jumpIf(bpf.JumpEqual, etherTypeIPv6, "ipv6", "drop")

	p.label("ipv4")
	p.ipVersion(4)
	p.emit(bpf.LoadAbsolute{Off: ethHeaderLen + ip4DstOff, Size: 4})
	for _, a := range v4 {
		b := a.As4()
		p.jumpIf(bpf.JumpEqual, binary.BigEndian.Uint32(b[:]), "accept", "")
	}
	p.jump("drop")

	p.label("ipv6")
	p.ipVersion(6)
	for i, a := range v6 {
		b := a.As16()
		next := fmt.Sprintf("v6next%d", i)
		for w := range 4 {
			p.emit(bpf.LoadAbsolute{Off: uint32(ethHeaderLen + ip6DstOff + 4*w), Size: 4})
			yes := ""
			if w == 3 {
				yes = "accept"
			}
			p.jumpIf(bpf.JumpEqual, binary.BigEndian.Uint32(b[4*w:]), yes, next)
		}
		p.label(next)
	}
	p.label("drop")
	p.emit(bpf.RetConstant{Val: 0})
	p.label("accept")
	p.emit(bpf.RetConstant{Val: StaleSnapLen})
	return p.program()
}

// progBuilder assembles a classic BPF program with named jump targets; ""
// means the next instruction.
type progBuilder struct {
	ins    []bpf.Instruction
	jumps  []pendingJump
	labels map[string]int
}

type pendingJump struct {
	at      int
	yes, no string // for bpf.Jump only yes
}

func (p *progBuilder) emit(i bpf.Instruction) { p.ins = append(p.ins, i) }

func (p *progBuilder) label(name string) {
	if p.labels == nil {
		p.labels = map[string]int{}
	}
	p.labels[name] = len(p.ins)
}

func (p *progBuilder) jumpIf(cond bpf.JumpTest, val uint32, yes, no string) {
	p.jumps = append(p.jumps, pendingJump{at: len(p.ins), yes: yes, no: no})
	p.emit(bpf.JumpIf{Cond: cond, Val: val})
}

func (p *progBuilder) jump(to string) {
	p.jumps = append(p.jumps, pendingJump{at: len(p.ins), yes: to})
	p.emit(bpf.Jump{})
}

// ipVersion drops the frame unless its IP header's version is v.
func (p *progBuilder) ipVersion(v uint32) {
	p.emit(bpf.LoadAbsolute{Off: ethHeaderLen, Size: 1})
	p.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0})
	p.jumpIf(bpf.JumpEqual, v<<4, "", "drop")
}

// program resolves the jumps: classic BPF only jumps forward.
func (p *progBuilder) program() ([]bpf.Instruction, error) {
	skip := func(from int, to string) (uint32, error) {
		if to == "" {
			return 0, nil
		}
		at, ok := p.labels[to]
		if !ok || at <= from {
			return 0, fmt.Errorf("listener filter: jump from %d to %q (%d) is not forward", from, to, at)
		}
		return uint32(at - from - 1), nil
	}
	for _, j := range p.jumps {
		yes, err := skip(j.at, j.yes)
		if err != nil {
			return nil, err
		}
		switch ins := p.ins[j.at].(type) {
		case bpf.Jump:
			ins.Skip = yes
			p.ins[j.at] = ins
		case bpf.JumpIf:
			no, err := skip(j.at, j.no)
			if err != nil {
				return nil, err
			}
			if yes > 255 || no > 255 {
				return nil, fmt.Errorf("listener filter: jump at %d skips %d/%d, more than 255", j.at, yes, no)
			}
			ins.SkipTrue, ins.SkipFalse = uint8(yes), uint8(no)
			p.ins[j.at] = ins
		}
	}
	return p.ins, nil
}
