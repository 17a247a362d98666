package iface

// Target names an interface inside a network namespace, and the namespace the
// caller treats as the host (where a veth's bridge-side peer lives).
type Target struct {
	// NetNS is the path of the container's network namespace ("" = the
	// calling thread's current one).
	NetNS string
	// IfName is the interface's name inside NetNS.
	IfName string
	// HostNetNS is the path of the host network namespace ("" = the calling
	// thread's current one).
	HostNetNS string
}

func (t Target) String() string {
	if t.NetNS == "" {
		return t.IfName
	}
	return t.IfName + " in " + t.NetNS
}
