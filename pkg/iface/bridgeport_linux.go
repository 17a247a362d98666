package iface

import (
	"context"
	"fmt"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// rtextFilterSkipStats (RTEXT_FILTER_SKIP_STATS) keeps the ~1 KiB of
// counters out of RTM_GETLINK replies we only read states from.
const rtextFilterSkipStats = 1 << 3

// rawLinks reads links with a plain RTM_GETLINK so that parseLinkMsg sees
// the attributes vishvananda/netlink drops (IFLA_BRPORT_STATE,
// IFLA_BR_STP_STATE). Sysfs is not an option: /sys/class/net shows the
// netns of whoever mounted /sys, which is wrong under "ip netns exec" and in
// a plugin running from a container runtime.
type rawLinks struct {
	ns nsRef
	sh *nl.SocketHandle
}

func openRawLinks(r nsRef) (*rawLinks, error) {
	s, err := nl.GetNetlinkSocketAt(r.fd, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink socket in %s: %w", r, err)
	}
	return &rawLinks{ns: r, sh: &nl.SocketHandle{Socket: s}}, nil
}

func (c *rawLinks) Close() { c.sh.Close() }

func (c *rawLinks) get(index int32) (linkMsg, error) {
	req := &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{
			Len:   unix.SizeofNlMsghdr,
			Type:  unix.RTM_GETLINK,
			Flags: unix.NLM_F_REQUEST,
		},
		Sockets: map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: c.sh},
	}
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = index
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_EXT_MASK, nl.Uint32Attr(rtextFilterSkipStats)))
	var (
		m      linkMsg
		got    bool
		perr   error
		reqErr error
	)
	reqErr = req.ExecuteIter(unix.NETLINK_ROUTE, unix.RTM_NEWLINK, func(b []byte) bool {
		m, perr = parseLinkMsg(b)
		got = true
		return false
	})
	switch {
	case reqErr != nil:
		return m, fmt.Errorf("get link index %d in %s: %w", index, c.ns, reqErr)
	case perr != nil:
		return m, fmt.Errorf("parse link index %d in %s: %w", index, c.ns, perr)
	case !got:
		return m, fmt.Errorf("get link index %d in %s: no reply", index, c.ns)
	}
	return m, nil
}

// WaitBridgePort waits until the host-side peer of the veth t.IfName is a
// forwarding port of its Linux bridge, or ctx ends. Frames sent through a
// port that is not forwarding yet are dropped, so the first unsolicited
// ARP/NA would be lost.
//
// It does not wait (Skipped says why) when the interface is not a veth, its
// peer is not in the host netns, the peer has no master or its master is not
// a bridge, or the bridge runs STP. When the port already forwards it costs
// three netlink round trips (link, nsid, peer) and no subscription.
func (c *Handle) WaitBridgePort(ctx context.Context) WaitResult {
	w := startWait(CondBridgePort, "")
	if skip := c.vethSkip(); skip != "" {
		return w.skip(skip)
	}
	hns, err := openNS(c.HostNetNS)
	if err != nil {
		return w.done(false, err)
	}
	defer hns.Close()
	links, err := openRawLinks(hns)
	if err != nil {
		return w.done(false, err)
	}
	defer links.Close()
	peer, skip, err := c.bridgePeer(hns, links)
	w.res.Interface = peer.Name
	switch {
	case err != nil:
		return w.done(false, err)
	case skip != "":
		return w.skip(skip)
	}
	fwd, state, skip := portStep(peer)
	w.res.LastState = state
	switch {
	case skip != "":
		return w.skip(skip)
	case fwd:
		return w.done(true, nil)
	}
	br, err := links.get(peer.Master)
	if err != nil {
		return w.done(false, fmt.Errorf("bridge of %s: %w", peer.Name, err))
	}
	if stpOn(br) {
		return w.skip("stp enabled")
	}

	check := func() (bool, error) {
		p, err := links.get(peer.Index)
		if err != nil {
			return false, fmt.Errorf("veth %s peer: %w", c.IfName, err)
		}
		fwd, state, skip := portStep(p)
		w.res.LastState = state
		if skip != "" {
			// Detached from the bridge while we waited.
			w.res.Skipped = skip
			return true, nil
		}
		return fwd, nil
	}
	met, err := watch(ctx, hns, int(peer.Index), check, unix.RTNLGRP_LINK)
	if w.res.Skipped != "" {
		return w.skip(w.res.Skipped)
	}
	return w.done(met, err)
}

// vethSkip says why the interface cannot be a veth with its peer on a
// bridge in another netns, from what Open read: no netlink call.
func (c *Handle) vethSkip() string {
	a := c.link.Attrs()
	switch {
	case c.link.Type() != "veth":
		return "not a veth"
	case a.ParentIndex <= 0:
		return "veth peer index unknown"
	case a.NetNsID < 0:
		// No link-netnsid: the peer is in the container's own netns.
		return "peer not in host netns"
	}
	return ""
}

// bridgePeer finds the host-side peer of the veth, or says why there is
// none to wait for (skip).
func (c *Handle) bridgePeer(hns nsRef, links *rawLinks) (peer linkMsg, skip string, err error) {
	a := c.link.Attrs()
	// The peer's ifindex only means something in the netns the link-netnsid
	// names. Ask the container netns which nsid it gives the host netns.
	var hostNSID int
	err = hns.withFD(func(fd int) (err error) {
		hostNSID, err = c.h.GetNetNsIdByFd(fd)
		return err
	})
	if err != nil {
		return peer, "", fmt.Errorf("get nsid of %s in %s: %w", hns, c.ns, err)
	}
	if hostNSID != a.NetNsID {
		return peer, "peer not in host netns", nil
	}
	peer, err = links.get(int32(a.ParentIndex))
	if err != nil {
		return peer, "", fmt.Errorf("veth %s peer: %w", c.IfName, err)
	}
	if peer.Kind != "veth" || peer.PeerIndex != int32(a.Index) {
		// The nsid matched, so this cannot happen unless the links changed
		// under us; don't wait on an unrelated interface.
		return peer, "peer not in host netns", nil
	}
	return peer, "", nil
}

// WaitBridgePort opens t for one wait; see Handle.WaitBridgePort.
func WaitBridgePort(ctx context.Context, t Target) WaitResult {
	return withHandle(t, CondBridgePort, "", func(c *Handle) WaitResult { return c.WaitBridgePort(ctx) })
}
