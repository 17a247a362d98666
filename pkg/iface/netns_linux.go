package iface

import (
	"fmt"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nsRef is an open network namespace, or the calling thread's current one
// when path is "" (fd is then netns.None(), which makes the netlink package
// create its sockets without switching namespaces at all). The namespace
// file is opened once; netlink sockets, subscriptions and threads switched
// into it all use that one descriptor.
type nsRef struct {
	path string
	ns   ns.NetNS       // nil for the current netns
	fd   netns.NsHandle // ns's descriptor (owned by ns), or netns.None()
}

func openNS(path string) (nsRef, error) {
	if path == "" {
		return nsRef{fd: netns.None()}, nil
	}
	n, err := ns.GetNS(path)
	if err != nil {
		return nsRef{}, fmt.Errorf("open netns %s: %w", path, err)
	}
	return nsRef{path: path, ns: n, fd: netns.NsHandle(n.Fd())}, nil
}

func (r nsRef) Close() {
	if r.ns != nil {
		r.ns.Close()
	}
}

func (r nsRef) String() string {
	if r.path == "" {
		return "current netns"
	}
	return "netns " + r.path
}

// do runs fn on a thread inside the namespace (right here for the current
// one). fn must not start goroutines: they would not run in the namespace.
func (r nsRef) do(fn func(ns.NetNS) error) error {
	if r.ns == nil {
		return fn(nil)
	}
	return r.ns.Do(fn)
}

// handle opens a netlink handle in the namespace. Its sockets stay in that
// namespace whichever thread uses them later.
func (r nsRef) handle() (*netlink.Handle, error) {
	h, err := netlink.NewHandleAt(r.fd, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink socket in %s: %w", r, err)
	}
	return h, nil
}

// withFD calls fn with a descriptor of the namespace, for netlink calls that
// name a netns by fd (RTM_GETNSID, IFLA_NET_NS_FD): the open one, or for the
// current netns the calling thread's, opened for the call.
func (r nsRef) withFD(fn func(fd int) error) error {
	if r.path != "" {
		return fn(int(r.fd))
	}
	cur, err := netns.Get()
	if err != nil {
		return fmt.Errorf("open %s: %w", r, err)
	}
	defer cur.Close()
	return fn(int(cur))
}

// linkByName wraps the lookup error with the interface and namespace.
func linkByName(h *netlink.Handle, r nsRef, name string) (netlink.Link, error) {
	l, err := h.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("find link %s in %s: %w", name, r, err)
	}
	return l, nil
}
