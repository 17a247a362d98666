package announcer

import (
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
)

// socketFiler is a transport whose sockets can be duplicated (*l2disco.Sender).
type socketFiler interface {
	Files() (arp, icmp6 *os.File, err error)
}

// addrReader opens, once, a netlink socket in the namespace of the
// transport's own sockets (SIOCGSKNS: not through a path, which may name
// another namespace by now) and returns a function listing the interface's
// addresses through it: before each round the announcer drops what is no
// longer there. One ioctl and one socket per job, one dump per round.
func addrReader(j Job, t l2disco.Transport) (func() ([]netip.Addr, error), func(), error) {
	sf, ok := t.(socketFiler)
	if !ok {
		return nil, nil, errors.New("transport has no sockets to take the namespace from")
	}
	arp, icmp6, err := sf.Files()
	if err != nil {
		return nil, nil, err
	}
	sock := arp
	if sock == nil {
		sock = icmp6
	}
	defer closeFiles(arp, icmp6)
	if sock == nil {
		return nil, nil, errors.New("transport has no sockets to take the namespace from")
	}
	nsfd, err := unix.IoctlRetInt(int(sock.Fd()), unix.SIOCGSKNS)
	if err != nil {
		return nil, nil, fmt.Errorf("ioctl SIOCGSKNS: %w", err)
	}
	defer unix.Close(nsfd) // the netlink socket keeps its namespace
	h, err := netlink.NewHandleAt(netns.NsHandle(nsfd), unix.NETLINK_ROUTE)
	if err != nil {
		return nil, nil, fmt.Errorf("open netlink in the sockets' netns: %w", err)
	}
	link := &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: j.IfIndex}}
	read := func() ([]netip.Addr, error) {
		list, err := h.AddrList(link, netlink.FAMILY_ALL)
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			// An interrupted dump (the table changed while read, DAD finishing say) still holds
			// the addresses; the next round reads again anyway.
			return nil, err
		}
		out := make([]netip.Addr, 0, len(list))
		for _, a := range list {
			if ip, ok := netip.AddrFromSlice(a.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
		return out, nil
	}
	return read, h.Close, nil
}
