package iface

const iffUp = 0x1 // IFF_UP: administratively up

// linkUp decides whether an interface is up enough to send: administratively
// up (IFF_UP) AND operationally up. IFF_UP alone (what moby checks) is true
// the moment the link is set up, before a veth has carrier: a veth whose peer
// is down reports oper state "down" (a VLAN over a down link
// "lowerlayerdown") and drops what it is given. Oper
// state "unknown" counts as up because drivers that do not track carrier
// (dummy, tun, loopback) report it for ever.
//
// state names what was seen, for WaitResult.LastState: "down" when
// administratively down, otherwise "up, oper <state>".
func linkUp(flags uint32, oper uint8) (up bool, state string) {
	if flags&iffUp == 0 {
		return false, "down"
	}
	switch oper {
	case operUp:
		return true, "up"
	case operUnknown:
		return true, "up, oper unknown"
	}
	return false, "up, oper " + operStateName(oper)
}
