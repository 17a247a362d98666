package installer

import (
	"encoding/json"
	"fmt"
)

// Served are the interface plugins ndp-announce is chained after. It helps where the container's
// interface sits on a shared L2 segment whose other members (the host, other pods, routers) cache
// the interface's MAC for its addresses: when an address moves to an interface with another MAC,
// they keep sending to the old one until their entry expires. Each of these leaves the container's
// interface in the CNI result that ndp-announce reads.
//
//   - bridge: a veth on a Linux bridge with the host and the node's other pods.
//   - flannel: delegates to bridge (cni0) unless its "delegate" names another type; then that
//     type must be served too.
//   - macvlan: its own MAC on the parent's LAN, with the LAN's hosts and the parent's other
//     macvlans (any mode). No bridge port to wait for.
//   - ipvlan, in l2 mode (the default): the parent's MAC on the parent's LAN. Between two ipvlans of
//     one parent an address keeps its MAC, but one that moves in from another node does not, and the
//     gateway requests and sysctls apply. In l3 and l3s modes the interface neither sends nor
//     answers ARP and NDP: nothing to announce.
//   - host-device: a whole device (a NIC, a VF, a veth) moved into the container, on whatever LAN it
//     was on.
//
// Not served, and why:
//   - ptp, and routed plugins such as calico: the only neighbour is the host, through a veth made for
//     this container; the host's entry lives on that veth and goes with it.
//   - tap: the neighbour is the VM or process on the tap's other end, which announces itself.
//   - dummy, loopback: no neighbours.
//   - vlan: on a shared L2 like ipvlan (the master's MAC), but this project cannot test it (the
//     test kernel has no 8021q); chain it by hand if you need it.
//   - meta plugins (portmap, firewall, tuning, bandwidth, sbr, vrf): they make no interface; in a
//     list, ndp-announce goes right after the interface plugin, before them.
//   - multus: a meta plugin too; Multus regenerates its own file from the cluster network's file,
//     so install into that one (--conf-file), and chain in NetworkAttachmentDefinitions by hand.
var Served = []string{"bridge", "flannel", "macvlan", "ipvlan", "host-device"}

// accept vets a plugin of one of Served's types (conflist.Options.Accept).
func accept(typ string, plugin []byte) error {
	var p struct {
		Mode     string          `json:"mode"`
		Delegate json.RawMessage `json:"delegate"`
	}
	if err := json.Unmarshal(plugin, &p); err != nil {
		return fmt.Errorf("not a plugin object: %w", err)
	}
	switch typ {
	case "ipvlan":
		if p.Mode != "" && p.Mode != "l2" {
			return fmt.Errorf("mode %q sends no ARP or NDP: only l2 is served", p.Mode)
		}
	case "flannel":
		return acceptFlannelDelegate(p.Delegate)
	}
	return nil
}

// acceptFlannelDelegate: flannel runs its delegate with the network's interface; without a "type"
// the delegate is bridge (flannel's default).
func acceptFlannelDelegate(raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	var d struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("delegate: %w", err)
	}
	if d.Type == "" {
		return nil
	}
	if d.Type == "flannel" || !Serves(d.Type) {
		return fmt.Errorf("its delegate is %s, which is not served", d.Type)
	}
	return accept(d.Type, raw)
}

// Serves says whether typ is one of Served.
func Serves(typ string) bool {
	for _, t := range Served {
		if t == typ {
			return true
		}
	}
	return false
}
