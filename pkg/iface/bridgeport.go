package iface

// portStep judges one reading of a veth's host-side peer for the bridge
// port wait. skip is non-empty when there is nothing to wait for; otherwise
// forwarding says whether the wait is over and state names the port state.
func portStep(peer linkMsg) (forwarding bool, state, skip string) {
	switch {
	case peer.Master == 0:
		return false, "", "no bridge master"
	case peer.SlaveKind != "bridge":
		// A bond, team or VRF master: there is no port state to wait for.
		if peer.SlaveKind == "" {
			return false, "", "master is not a bridge"
		}
		return false, "", "master is a " + peer.SlaveKind + ", not a bridge"
	case !peer.HasPortState:
		return false, "", "bridge port state not reported"
	}
	return peer.PortState == portForwarding, portStateName(peer.PortState), ""
}

// stpOn reports whether a bridge runs STP (kernel or user space). Its ports
// then reach forwarding only after 2 x forward_delay (30 s by default), far
// beyond any wait worth doing at ADD time; moby does not wait either.
func stpOn(bridge linkMsg) bool {
	return bridge.HasSTPState && bridge.STPState != 0
}
