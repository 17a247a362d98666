package iface

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

// The rows below are little-endian, as netlink is host-endian.
func skipIfBigEndian(t testing.TB) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("hand-built netlink rows are little-endian")
	}
}

// vethPortMsg is the RTM_NEWLINK payload of a host-side veth that is a port
// of a bridge, in state learning.
var vethPortMsg = []byte{
	0x00, 0x00, 0x01, 0x00, // ifinfomsg: family AF_UNSPEC, pad, type ARPHRD_ETHER
	0x07, 0x00, 0x00, 0x00, // ifindex 7
	0x03, 0x10, 0x01, 0x00, // flags UP|BROADCAST|MULTICAST|LOWER_UP
	0x00, 0x00, 0x00, 0x00, // change
	0x0d, 0x00, 0x03, 0x00, 'v', 'e', 't', 'h', '1', 'a', '2', 'b', 0x00, 0, 0, 0, // IFLA_IFNAME "veth1a2b"
	0x05, 0x00, 0x10, 0x00, 0x06, 0, 0, 0, // IFLA_OPERSTATE up
	0x08, 0x00, 0x05, 0x00, 0x02, 0x00, 0x00, 0x00, // IFLA_LINK 2 (peer ifindex)
	0x08, 0x00, 0x0a, 0x00, 0x03, 0x00, 0x00, 0x00, // IFLA_MASTER 3
	0x08, 0x00, 0x25, 0x00, 0x00, 0x00, 0x00, 0x00, // IFLA_LINK_NETNSID 0
	0x30, 0x00, 0x12, 0x80, // IFLA_LINKINFO, nested, 48 bytes
	/**/ 0x09, 0x00, 0x01, 0x00, 'v', 'e', 't', 'h', 0x00, 0, 0, 0, // IFLA_INFO_KIND "veth"
	/**/ 0x0b, 0x00, 0x04, 0x00, 'b', 'r', 'i', 'd', 'g', 'e', 0x00, 0, // IFLA_INFO_SLAVE_KIND "bridge"
	/**/ 0x14, 0x00, 0x05, 0x80, // IFLA_INFO_SLAVE_DATA, nested, 20 bytes
	/**/ /**/ 0x05, 0x00, 0x01, 0x00, 0x02, 0, 0, 0, // IFLA_BRPORT_STATE learning
	/**/ /**/ 0x06, 0x00, 0x02, 0x00, 0x20, 0x00, 0, 0, // IFLA_BRPORT_PRIORITY 32
}

// bridgeMsg is the RTM_NEWLINK payload of a bridge with kernel STP on.
var bridgeMsg = []byte{
	0x00, 0x00, 0x01, 0x00, // ifinfomsg: family AF_UNSPEC, pad, type ARPHRD_ETHER
	0x03, 0x00, 0x00, 0x00, // ifindex 3
	0x03, 0x10, 0x01, 0x00, // flags UP|BROADCAST|MULTICAST|LOWER_UP
	0x00, 0x00, 0x00, 0x00, // change
	0x08, 0x00, 0x03, 0x00, 'b', 'r', '0', 0x00, // IFLA_IFNAME "br0"
	0x24, 0x00, 0x12, 0x80, // IFLA_LINKINFO, nested, 36 bytes
	/**/ 0x0b, 0x00, 0x01, 0x00, 'b', 'r', 'i', 'd', 'g', 'e', 0x00, 0, // IFLA_INFO_KIND "bridge"
	/**/ 0x14, 0x00, 0x02, 0x80, // IFLA_INFO_DATA, nested, 20 bytes
	/**/ /**/ 0x08, 0x00, 0x01, 0x00, 0xdc, 0x05, 0x00, 0x00, // IFLA_BR_FORWARD_DELAY 1500
	/**/ /**/ 0x08, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, // IFLA_BR_STP_STATE 1 (kernel STP)
}

// containerVethMsg is a container-side veth with no master, no link info
// beyond its kind, and no operstate: the parser must leave the defaults.
var containerVethMsg = []byte{
	0x00, 0x00, 0x01, 0x00, // ifinfomsg
	0x02, 0x00, 0x00, 0x00, // ifindex 2
	0x02, 0x10, 0x00, 0x00, // flags BROADCAST|MULTICAST (down)
	0x00, 0x00, 0x00, 0x00, // change
	0x09, 0x00, 0x03, 0x00, 'e', 't', 'h', '0', 0x00, 0, 0, 0, // IFLA_IFNAME "eth0"
	0x0c, 0x00, 0x12, 0x80, // IFLA_LINKINFO, nested, 12 bytes
	/**/ 0x08, 0x00, 0x01, 0x00, 'v', 'e', 't', 0x00, // IFLA_INFO_KIND "vet" (no padding needed)
}

func TestParseLinkMsg(t *testing.T) {
	skipIfBigEndian(t)
	tests := []struct {
		name string
		in   []byte
		want linkMsg
	}{
		{
			name: "bridge port",
			in:   vethPortMsg,
			want: linkMsg{
				Index: 7, Flags: 0x11003, Name: "veth1a2b",
				OperState: operUp, HasOper: true,
				PeerIndex: 2, LinkNetNSID: 0, Master: 3,
				Kind: "veth", SlaveKind: "bridge",
				HasPortState: true, PortState: portLearning,
			},
		},
		{
			name: "bridge",
			in:   bridgeMsg,
			want: linkMsg{
				Index: 3, Flags: 0x11003, Name: "br0", LinkNetNSID: -1,
				Kind: "bridge", HasSTPState: true, STPState: 1,
			},
		},
		{
			name: "defaults",
			in:   containerVethMsg,
			want: linkMsg{Index: 2, Flags: 0x1002, Name: "eth0", LinkNetNSID: -1, Kind: "vet"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLinkMsg(tt.in)
			if err != nil {
				t.Fatalf("parseLinkMsg: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseLinkMsg:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// A port state or STP state under a different kind must not be read: the
// same attribute numbers mean other things for bonds and other masters.
func TestParseLinkMsgIgnoresOtherSlaveKinds(t *testing.T) {
	skipIfBigEndian(t)
	msg := append([]byte(nil), vethPortMsg...)
	// Rewrite "bridge" in IFLA_INFO_SLAVE_KIND to "bondxx".
	off := len(msg) - 20 - 12 + 4
	copy(msg[off:], "bondxx")
	got, err := parseLinkMsg(msg)
	if err != nil {
		t.Fatalf("parseLinkMsg: %v", err)
	}
	if got.SlaveKind != "bondxx" || got.HasPortState {
		t.Errorf("slave kind %q, has port state %v; want bondxx without a port state", got.SlaveKind, got.HasPortState)
	}
}

func TestParseLinkMsgTruncated(t *testing.T) {
	skipIfBigEndian(t)
	shortPortState := append([]byte(nil), vethPortMsg...)
	// IFLA_BRPORT_STATE with no payload (length 4): the state must not be guessed.
	shortPortState[len(shortPortState)-16] = 0x04
	tests := []struct {
		name string
		in   []byte
	}{
		{"short ifinfomsg", vethPortMsg[:12]},
		{"attribute past the end", vethPortMsg[:16+10]},
		{"nested attribute past the end", vethPortMsg[:len(vethPortMsg)-4]},
		{"header cut", vethPortMsg[:16+2]},
		{"empty port state", shortPortState},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseLinkMsg(tt.in); !errors.Is(err, errShortMsg) {
				t.Errorf("parseLinkMsg = %v, want %v", err, errShortMsg)
			}
		})
	}
}

func TestStateNames(t *testing.T) {
	for s, want := range map[uint8]string{0: "disabled", 1: "listening", 2: "learning", 3: "forwarding", 4: "blocking", 9: "state 9"} {
		if got := portStateName(s); got != want {
			t.Errorf("portStateName(%d) = %q, want %q", s, got, want)
		}
	}
	for s, want := range map[uint8]string{0: "unknown", 2: "down", 3: "lowerlayerdown", 5: "dormant", 6: "up"} {
		if got := operStateName(s); got != want {
			t.Errorf("operStateName(%d) = %q, want %q", s, got, want)
		}
	}
}

func FuzzParseLinkMsg(f *testing.F) {
	f.Add(vethPortMsg)
	f.Add(bridgeMsg)
	f.Add(containerVethMsg)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseLinkMsg(b) // must not panic on any input
	})
}
