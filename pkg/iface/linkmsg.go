package iface

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// Netlink attribute numbers used by parseLinkMsg, from the kernel's uapi
// headers (linux/if_link.h, linux/rtnetlink.h). They are spelled out here,
// not taken from x/sys/unix, so that the parser builds and is tested on any OS.
const (
	ifinfomsgLen = 16 // struct ifinfomsg: family u8, pad u8, type u16, index s32, flags u32, change u32

	iflaAddress     = 1  // IFLA_ADDRESS
	iflaIfname      = 3  // IFLA_IFNAME
	iflaLink        = 5  // IFLA_LINK: for a veth, the peer's ifindex (in IFLA_LINK_NETNSID's netns)
	iflaMaster      = 10 // IFLA_MASTER
	iflaOperstate   = 16 // IFLA_OPERSTATE
	iflaLinkinfo    = 18 // IFLA_LINKINFO (nested)
	iflaLinkNetnsid = 37 // IFLA_LINK_NETNSID

	iflaInfoKind      = 1 // IFLA_INFO_KIND
	iflaInfoData      = 2 // IFLA_INFO_DATA (nested, per kind)
	iflaInfoSlaveKind = 4 // IFLA_INFO_SLAVE_KIND
	iflaInfoSlaveData = 5 // IFLA_INFO_SLAVE_DATA (nested, per slave kind)

	iflaBrStpState  = 5 // IFLA_BR_STP_STATE, u32, in a bridge's IFLA_INFO_DATA
	iflaBrportState = 1 // IFLA_BRPORT_STATE, u8, in a bridge port's IFLA_INFO_SLAVE_DATA
	nlaTypeMask     = 0x3fff
	rtaAlign        = 4
	rtaHeaderLen    = 4
	netnsidUnset    = -1
)

// Bridge port states (linux/if_bridge.h BR_STATE_*).
const (
	portDisabled   uint8 = 0
	portListening  uint8 = 1
	portLearning   uint8 = 2
	portForwarding uint8 = 3
	portBlocking   uint8 = 4
)

// portStateName is the name "ip -d link" and sysfs readers know a state by.
func portStateName(s uint8) string {
	switch s {
	case portDisabled:
		return "disabled"
	case portListening:
		return "listening"
	case portLearning:
		return "learning"
	case portForwarding:
		return "forwarding"
	case portBlocking:
		return "blocking"
	}
	return "state " + strconv.Itoa(int(s))
}

// Operational states (RFC 2863, linux/if.h IF_OPER_*).
const (
	operUnknown        uint8 = 0
	operNotPresent     uint8 = 1
	operDown           uint8 = 2
	operLowerLayerDown uint8 = 3
	operTesting        uint8 = 4
	operDormant        uint8 = 5
	operUp             uint8 = 6
)

func operStateName(s uint8) string {
	switch s {
	case operUnknown:
		return "unknown"
	case operNotPresent:
		return "notpresent"
	case operDown:
		return "down"
	case operLowerLayerDown:
		return "lowerlayerdown"
	case operTesting:
		return "testing"
	case operDormant:
		return "dormant"
	case operUp:
		return "up"
	}
	return "oper " + strconv.Itoa(int(s))
}

// linkMsg is what the waits need from an RTM_NEWLINK message, including the
// bridge-port and bridge attributes that vishvananda/netlink does not parse.
type linkMsg struct {
	Index       int32
	Flags       uint32 // IFF_*
	Name        string
	OperState   uint8
	HasOper     bool
	PeerIndex   int32 // IFLA_LINK; 0 when absent
	LinkNetNSID int32 // IFLA_LINK_NETNSID; -1 when absent (peer in the same netns)
	Master      int32 // IFLA_MASTER; 0 when none
	Kind        string
	SlaveKind   string // "bridge" when the link is a bridge port

	HasSTPState bool // set for a bridge (Kind "bridge")
	STPState    uint32

	HasPortState bool // set for a bridge port (SlaveKind "bridge")
	PortState    uint8
}

var errShortMsg = errors.New("truncated netlink message")

// parseLinkMsg parses the payload of an RTM_NEWLINK message (the bytes after
// the nlmsghdr). Attributes it does not know are skipped.
func parseLinkMsg(b []byte) (linkMsg, error) {
	m := linkMsg{LinkNetNSID: netnsidUnset}
	if len(b) < ifinfomsgLen {
		return m, fmt.Errorf("ifinfomsg of %d bytes: %w", len(b), errShortMsg)
	}
	ne := binary.NativeEndian
	m.Index = int32(ne.Uint32(b[4:8]))
	m.Flags = ne.Uint32(b[8:12])
	err := walkAttrs(b[ifinfomsgLen:], func(typ uint16, v []byte) error {
		switch typ {
		case iflaIfname:
			m.Name = cString(v)
		case iflaOperstate:
			if len(v) < 1 {
				return fmt.Errorf("IFLA_OPERSTATE: %w", errShortMsg)
			}
			m.OperState, m.HasOper = v[0], true
		case iflaLink:
			n, err := attrU32(v, "IFLA_LINK")
			m.PeerIndex = int32(n)
			return err
		case iflaMaster:
			n, err := attrU32(v, "IFLA_MASTER")
			m.Master = int32(n)
			return err
		case iflaLinkNetnsid:
			n, err := attrU32(v, "IFLA_LINK_NETNSID")
			m.LinkNetNSID = int32(n)
			return err
		case iflaLinkinfo:
			return parseLinkInfo(v, &m)
		}
		return nil
	})
	return m, err
}

// parseLinkInfo reads IFLA_LINKINFO. The kind attributes come before their
// data attributes (the kernel fills them in that order), but the data is only
// interpreted after the walk so that the order does not matter.
func parseLinkInfo(b []byte, m *linkMsg) error {
	var data, slaveData []byte
	err := walkAttrs(b, func(typ uint16, v []byte) error {
		switch typ {
		case iflaInfoKind:
			m.Kind = cString(v)
		case iflaInfoData:
			data = v
		case iflaInfoSlaveKind:
			m.SlaveKind = cString(v)
		case iflaInfoSlaveData:
			slaveData = v
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("IFLA_LINKINFO: %w", err)
	}
	if m.Kind == "bridge" && data != nil {
		err := walkAttrs(data, func(typ uint16, v []byte) error {
			if typ == iflaBrStpState {
				n, err := attrU32(v, "IFLA_BR_STP_STATE")
				m.STPState, m.HasSTPState = n, err == nil
				return err
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("IFLA_INFO_DATA: %w", err)
		}
	}
	if m.SlaveKind == "bridge" && slaveData != nil {
		err := walkAttrs(slaveData, func(typ uint16, v []byte) error {
			if typ == iflaBrportState {
				if len(v) < 1 {
					return fmt.Errorf("IFLA_BRPORT_STATE: %w", errShortMsg)
				}
				m.PortState, m.HasPortState = v[0], true
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("IFLA_INFO_SLAVE_DATA: %w", err)
		}
	}
	return nil
}

// walkAttrs calls fn for each rtattr in b, with the nested/byte-order flag
// bits cleared from the type.
func walkAttrs(b []byte, fn func(typ uint16, v []byte) error) error {
	ne := binary.NativeEndian
	for len(b) > 0 {
		if len(b) < rtaHeaderLen {
			return fmt.Errorf("attribute header of %d bytes: %w", len(b), errShortMsg)
		}
		l := int(ne.Uint16(b[0:2]))
		typ := ne.Uint16(b[2:4]) & nlaTypeMask
		if l < rtaHeaderLen || l > len(b) {
			return fmt.Errorf("attribute %d of length %d in %d bytes: %w", typ, l, len(b), errShortMsg)
		}
		if err := fn(typ, b[rtaHeaderLen:l]); err != nil {
			return err
		}
		next := (l + rtaAlign - 1) &^ (rtaAlign - 1)
		if next >= len(b) {
			return nil
		}
		b = b[next:]
	}
	return nil
}

func attrU32(v []byte, name string) (uint32, error) {
	if len(v) < 4 {
		return 0, fmt.Errorf("%s of %d bytes: %w", name, len(v), errShortMsg)
	}
	return binary.NativeEndian.Uint32(v[:4]), nil
}

// cString returns a NUL-terminated attribute string without its terminator.
func cString(v []byte) string {
	for i, c := range v {
		if c == 0 {
			return string(v[:i])
		}
	}
	return string(v)
}
