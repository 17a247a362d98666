package l2disco

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

var (
	// ErrLinkGone means the interface no longer exists in the sender's
	// network namespace (ENODEV/ENXIO).
	ErrLinkGone = errors.New("link is gone")

	// ErrNoMcastRoute means an IPv6 message to a multicast group failed with
	// ENETUNREACH: the interface has no ff00::/8 route (yet, or IPv6 is off).
	// Callers that already found no ff02::1 route may treat it as expected.
	ErrNoMcastRoute = errors.New("no IPv6 multicast route")

	// ErrSourceUnavailable means the kernel refused an IPv6 message's
	// source address (EINVAL or EADDRNOTAVAIL): it is not on the interface
	// or still tentative while DAD runs. With IPV6_PKTINFO Linux answers
	// EINVAL for a tentative source, not EADDRNOTAVAIL.
	ErrSourceUnavailable = errors.New("IPv6 source address not usable (absent or tentative)")

	// ErrNoSocket means the Sender was opened without the socket an
	// operation needs, for example the ICMPv6 socket on an IPv4-only
	// interface.
	ErrNoSocket = errors.New("socket not open")

	// ErrMACChanged is returned by Announcer.Run when the interface's MAC is
	// no longer the one being announced: announcing the old one would undo
	// whoever changed it.
	ErrMACChanged = errors.New("interface MAC changed")

	// ErrNetNSGone is returned by Announcer.Run when its NetNSPath no longer
	// refers to the sender's network namespace. The sockets keep a deleted
	// namespace alive, so the link would otherwise never look gone.
	ErrNetNSGone = errors.New("network namespace is gone")
)

// An OpError is an error from a Sender operation, naming the operation, the
// interface and the address concerned, like net.OpError does for sockets.
type OpError struct {
	// Op is the operation, such as "send neighbor advertisement".
	Op string

	// IfIndex and IfName identify the interface in the sender's network
	// namespace; IfName is empty when it could not be read.
	IfIndex int
	IfName  string

	// Addr is the address announced or asked about; invalid when none.
	Addr netip.Addr

	Err error
}

func (e *OpError) Error() string {
	var b strings.Builder
	b.WriteString("l2disco: ")
	b.WriteString(e.Op)
	if e.Addr.IsValid() {
		fmt.Fprintf(&b, " %s", e.Addr)
	}
	switch {
	case e.IfName != "":
		fmt.Fprintf(&b, " on %s (ifindex %d)", e.IfName, e.IfIndex)
	case e.IfIndex != 0:
		fmt.Fprintf(&b, " on ifindex %d", e.IfIndex)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *OpError) Unwrap() error { return e.Err }
