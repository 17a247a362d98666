package l2disco

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"unsafe"

	"github.com/containernetworking/plugins/pkg/ns"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Operation names used in OpError.
const (
	opOpenARP   = "open ARP socket"
	opOpenICMP6 = "open ICMPv6 socket"
	opAdopt     = "adopt socket"
	opDup       = "duplicate socket"
	opAnnounce4 = "send ARP announcement of"
	opRequest4  = "send ARP request for"
	opAnnounce6 = "send neighbor advertisement of"
	opSolicit6  = "send neighbor solicitation for"
	opLinkMAC   = "read link MAC"
	opNetNS     = "read socket netns"
	opClose     = "close"
)

// SenderOptions says which interface a Sender sends on and which sockets it
// opens.
type SenderOptions struct {
	// IfIndex is the interface's index in the network namespace the sockets
	// are opened in. When zero, IfName is resolved instead.
	IfIndex int
	IfName  string

	// IPv4 opens the AF_PACKET socket for ARP; IPv6 the raw ICMPv6 socket
	// for NA and NS. Leave IPv6 off for an interface with IPv6 disabled.
	IPv4, IPv6 bool
}

// A Sender sends announcements on one interface through sockets that belong
// to the interface's network namespace. Its methods may be called from any
// goroutine and any network namespace.
type Sender struct {
	ifindex int
	ifname  string // for errors; read when the Sender is made

	// Either may be nil. Kept as *os.File so that Close cannot race a send
	// into a reused descriptor: os.File reference-counts the fd.
	arp   *os.File
	icmp6 *os.File
}

// NewSenderInNetNS opens a Sender's sockets inside the network namespace at
// nsPath, for example /var/run/netns/x or /proc/PID/ns/net.
func NewSenderInNetNS(nsPath string, opts SenderOptions) (*Sender, error) {
	var s *Sender
	// The closure runs on a locked OS thread switched into the namespace and
	// starts no goroutines: the sockets are created in that namespace.
	err := ns.WithNetNSPath(nsPath, func(ns.NetNS) error {
		var err error
		s, err = NewSender(opts)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open sender in netns %s: %w", nsPath, err)
	}
	return s, nil
}

// NewSender opens a Sender's sockets in the calling thread's network
// namespace. Call it with the OS thread locked inside the namespace, or use
// NewSenderInNetNS.
func NewSender(opts SenderOptions) (*Sender, error) {
	if !opts.IPv4 && !opts.IPv6 {
		return nil, fmt.Errorf("l2disco: sender for %q (ifindex %d): neither IPv4 nor IPv6 requested", opts.IfName, opts.IfIndex)
	}
	if opts.IfIndex < 0 || (opts.IfIndex == 0 && opts.IfName == "") {
		return nil, fmt.Errorf("l2disco: sender: interface index %d and no name", opts.IfIndex)
	}
	s := &Sender{ifindex: opts.IfIndex, ifname: opts.IfName}
	if opts.IPv4 {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, s.opError(opOpenARP, netip.Addr{}, os.NewSyscallError("socket", err))
		}
		// Protocol 0: the socket is bound to no EtherType and receives
		// nothing, so it never needs reading.
		s.arp = os.NewFile(uintptr(fd), "l2disco-arp")
	}
	if opts.IPv6 {
		f, err := openICMPv6()
		if err != nil {
			s.Close()
			return nil, s.opError(opOpenICMP6, netip.Addr{}, err)
		}
		s.icmp6 = f
	}
	if err := s.resolveInterface(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func openICMPv6() (*os.File, error) {
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMPV6)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	// Block every ICMPv6 type (a set bit blocks, RFC 3542 Section 3.2): a
	// raw ICMPv6 socket otherwise queues every NDP, MLD and echo message on
	// the link until its buffer fills.
	var filter unix.ICMPv6Filter
	for i := range filter.Data {
		filter.Data[i] = ^uint32(0)
	}
	if err := unix.SetsockoptICMPv6Filter(fd, unix.IPPROTO_ICMPV6, unix.ICMPV6_FILTER, &filter); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("setsockopt ICMP6_FILTER", err)
	}
	// Our own multicast NA looped back is useless to the local stack.
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, 0); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("setsockopt IPV6_MULTICAST_LOOP", err)
	}
	return os.NewFile(uintptr(fd), "l2disco-icmp6"), nil
}

// resolveInterface fills in the index from the name or the name from the
// index, with ioctls on our own socket so they act in its namespace.
func (s *Sender) resolveInterface() error {
	f := s.anyFile()
	if s.ifindex == 0 {
		ifr, err := unix.NewIfreq(s.ifname)
		if err != nil {
			return s.opError(opAdopt, netip.Addr{}, fmt.Errorf("interface name %q: %w", s.ifname, err))
		}
		err = control(f, func(fd int) error { return unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr) })
		if err != nil {
			return s.opError(opAdopt, netip.Addr{}, linkErr(os.NewSyscallError("ioctl SIOCGIFINDEX", err)))
		}
		s.ifindex = int(ifr.Uint32())
		return nil
	}
	name, err := s.ifName(f)
	if err != nil {
		return s.opError(opAdopt, netip.Addr{}, err)
	}
	s.ifname = name
	return nil
}

// NewSenderFromFiles makes a Sender from sockets another process opened
// (passed with exec.Cmd.ExtraFiles and made with os.NewFile) for interface
// ifindex. Either file may be nil. The Sender keeps duplicates: the caller
// still owns and should close arp and icmp6.
func NewSenderFromFiles(arp, icmp6 *os.File, ifindex int) (*Sender, error) {
	if arp == nil && icmp6 == nil {
		return nil, fmt.Errorf("l2disco: sender for ifindex %d: no socket files", ifindex)
	}
	if ifindex <= 0 {
		return nil, fmt.Errorf("l2disco: sender: invalid interface index %d", ifindex)
	}
	s := &Sender{ifindex: ifindex}
	var err error
	if arp != nil {
		if s.arp, err = adopt(arp, unix.AF_PACKET, unix.SOCK_DGRAM, 0); err != nil {
			return nil, s.opError(opAdopt, netip.Addr{}, fmt.Errorf("ARP socket %s: %w", arp.Name(), err))
		}
	}
	if icmp6 != nil {
		if s.icmp6, err = adopt(icmp6, unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_ICMPV6); err != nil {
			s.Close()
			return nil, s.opError(opAdopt, netip.Addr{}, fmt.Errorf("ICMPv6 socket %s: %w", icmp6.Name(), err))
		}
	}
	if err := s.resolveInterface(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// adopt duplicates f after checking it is the kind of socket we open, so
// that swapped or stale descriptors fail here rather than on first send.
func adopt(f *os.File, domain, typ, proto int) (*os.File, error) {
	var dup int
	err := control(f, func(fd int) error {
		for _, o := range []struct {
			name      string
			opt, want int
		}{{"SO_DOMAIN", unix.SO_DOMAIN, domain}, {"SO_TYPE", unix.SO_TYPE, typ}, {"SO_PROTOCOL", unix.SO_PROTOCOL, proto}} {
			got, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, o.opt)
			if err != nil {
				return os.NewSyscallError("getsockopt "+o.name, err)
			}
			if got != o.want {
				return fmt.Errorf("%s is %d, want %d", o.name, got, o.want)
			}
		}
		var err error
		dup, err = unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		return os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err)
	})
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(dup), f.Name()), nil
}

// Files returns duplicates of the Sender's sockets (nil for an absent one)
// for handing to another process with exec.Cmd.ExtraFiles. They are
// close-on-exec until exec.Cmd places them; the caller closes them.
func (s *Sender) Files() (arp, icmp6 *os.File, err error) {
	if arp, err = dupFile(s.arp); err != nil {
		return nil, nil, s.opError(opDup, netip.Addr{}, err)
	}
	if icmp6, err = dupFile(s.icmp6); err != nil {
		if arp != nil {
			arp.Close()
		}
		return nil, nil, s.opError(opDup, netip.Addr{}, err)
	}
	return arp, icmp6, nil
}

// IfIndex returns the interface index the Sender sends on.
func (s *Sender) IfIndex() int { return s.ifindex }

// Close closes the Sender's sockets.
func (s *Sender) Close() error {
	var errs []error
	for _, f := range []*os.File{s.arp, s.icmp6} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return s.opError(opClose, netip.Addr{}, err)
	}
	return nil
}

// SendARPAnnouncement broadcasts the ARP announcement of addr at mac.
func (s *Sender) SendARPAnnouncement(mac net.HardwareAddr, addr netip.Addr) error {
	b, err := ARPAnnouncement(mac, addr)
	if err != nil {
		return s.opError(opAnnounce4, addr, err)
	}
	return s.sendARP(opAnnounce4, addr, b, EthernetBroadcast)
}

// SendARPRequest broadcasts an ARP request from src (at mac) for target.
func (s *Sender) SendARPRequest(mac net.HardwareAddr, src, target netip.Addr) error {
	b, err := ARPRequest(mac, src, target)
	if err != nil {
		return s.opError(opRequest4, target, err)
	}
	return s.sendARP(opRequest4, target, b, EthernetBroadcast)
}

// SendARPRequestTo sends an ARP request from src (at mac) for target to the
// unicast MAC to: a request addressed to one peer, which stacks that ignore
// gratuitous ARP still learn src from, and which no other host sees.
func (s *Sender) SendARPRequestTo(mac net.HardwareAddr, src, target netip.Addr, to net.HardwareAddr) error {
	b, err := ARPRequest(mac, src, target)
	if err == nil {
		err = checkMAC(to)
	}
	if err != nil {
		return s.opError(opRequest4, target, err)
	}
	return s.sendARP(opRequest4, target, b, to)
}

func (s *Sender) sendARP(op string, addr netip.Addr, payload []byte, to net.HardwareAddr) error {
	if s.arp == nil {
		return s.opError(op, addr, ErrNoSocket)
	}
	err := control(s.arp, func(fd int) error {
		// A fresh sockaddr per send: unix.Sockaddr* marshal into themselves.
		sa := &unix.SockaddrLinklayer{
			Protocol: htons(etherTypeARP),
			Ifindex:  s.ifindex,
			Halen:    macLen,
		}
		copy(sa.Addr[:], to)
		return os.NewSyscallError("sendto", unix.Sendto(fd, payload, 0, sa))
	})
	return s.opError(op, addr, linkErr(err))
}

// SendUnsolicitedNA sends the unsolicited Neighbor Advertisement of addr at
// mac to ff02::1. It fails with ErrSourceUnavailable while addr is tentative
// (DAD) and with ErrNoMcastRoute when the interface has no multicast route.
func (s *Sender) SendUnsolicitedNA(mac net.HardwareAddr, addr netip.Addr) error {
	m, err := UnsolicitedNA(mac, addr)
	if err != nil {
		return s.opError(opAnnounce6, addr, err)
	}
	return s.sendICMPv6(opAnnounce6, addr, m)
}

// SendNeighborSolicitation sends a Neighbor Solicitation from src (at mac)
// for target to target's solicited-node multicast address.
func (s *Sender) SendNeighborSolicitation(mac net.HardwareAddr, src, target netip.Addr) error {
	m, err := NeighborSolicitation(mac, src, target)
	if err != nil {
		return s.opError(opSolicit6, target, err)
	}
	return s.sendICMPv6(opSolicit6, target, m)
}

// SendNeighborSolicitationTo sends a Neighbor Solicitation from src (at mac)
// for target to target itself (DirectedNeighborSolicitation).
func (s *Sender) SendNeighborSolicitationTo(mac net.HardwareAddr, src, target netip.Addr) error {
	m, err := DirectedNeighborSolicitation(mac, src, target)
	if err != nil {
		return s.opError(opSolicit6, target, err)
	}
	return s.sendICMPv6(opSolicit6, target, m)
}

func (s *Sender) sendICMPv6(op string, addr netip.Addr, m ICMPv6Message) error {
	if s.icmp6 == nil {
		return s.opError(op, addr, ErrNoSocket)
	}
	// Source address and interface go in IPV6_PKTINFO, so no interface name
	// is ever resolved (Go's name caches belong to the process's netns, not
	// the socket's). The hop limit is per message: NDP receivers drop
	// anything but 255.
	oob := (&ipv6.ControlMessage{
		HopLimit: int(m.HopLimit),
		Src:      m.Src.AsSlice(),
		IfIndex:  s.ifindex,
	}).Marshal()
	err := control(s.icmp6, func(fd int) error {
		// The scope id must agree with the pktinfo interface for
		// link-local multicast; it is the index itself, never a name.
		sa := &unix.SockaddrInet6{Addr: m.Dst.As16(), ZoneId: uint32(s.ifindex)}
		_, err := unix.SendmsgN(fd, m.Body, oob, sa, 0)
		return os.NewSyscallError("sendmsg", err)
	})
	switch {
	case errors.Is(err, unix.ENETUNREACH):
		err = fmt.Errorf("%w: %w", ErrNoMcastRoute, err)
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.EADDRNOTAVAIL):
		// Our own inputs are validated, so the kernel's complaint is the
		// pktinfo source (ip6_datagram_send_ctl).
		err = fmt.Errorf("%w: %s: %w", ErrSourceUnavailable, m.Src, err)
	}
	return s.opError(op, addr, linkErr(err))
}

// LinkMAC reads the interface's current MAC with ioctls on the Sender's own
// socket, which act in the socket's network namespace whatever the calling
// process's is. It returns an error wrapping ErrLinkGone once the interface
// is deleted.
func (s *Sender) LinkMAC() (net.HardwareAddr, error) {
	f := s.anyFile()
	if f == nil {
		return nil, s.opError(opLinkMAC, netip.Addr{}, ErrNoSocket)
	}
	var (
		mac net.HardwareAddr
		err error
	)
	// The name is needed for SIOCGIFHWADDR but may change under us (a
	// rename between the two ioctls reads as ENODEV); retry a few times
	// before believing the link is gone.
	for range 3 {
		var name string
		if name, err = s.ifName(f); err != nil {
			break
		}
		if mac, err = hwAddr(f, name); err == nil || !errors.Is(err, ErrLinkGone) {
			break
		}
	}
	if err != nil {
		return nil, s.opError(opLinkMAC, netip.Addr{}, err)
	}
	return mac, nil
}

// NetNS identifies the network namespace the Sender's sockets belong to
// (SIOCGSKNS, needs CAP_NET_ADMIN there).
func (s *Sender) NetNS() (NetNSID, error) {
	f := s.anyFile()
	if f == nil {
		return NetNSID{}, s.opError(opNetNS, netip.Addr{}, ErrNoSocket)
	}
	var id NetNSID
	err := control(f, func(fd int) error {
		nsfd, err := unix.IoctlRetInt(fd, unix.SIOCGSKNS)
		if err != nil {
			return os.NewSyscallError("ioctl SIOCGSKNS", err)
		}
		defer unix.Close(nsfd)
		var st unix.Stat_t
		if err := unix.Fstat(nsfd, &st); err != nil {
			return os.NewSyscallError("fstat", err)
		}
		id = NetNSID{Dev: st.Dev, Ino: st.Ino}
		return nil
	})
	if err != nil {
		return NetNSID{}, s.opError(opNetNS, netip.Addr{}, err)
	}
	return id, nil
}

func (s *Sender) ifName(f *os.File) (string, error) {
	ifr, err := unix.NewIfreq("")
	if err != nil {
		return "", err
	}
	ifr.SetUint32(uint32(s.ifindex))
	err = control(f, func(fd int) error { return unix.IoctlIfreq(fd, unix.SIOCGIFNAME, ifr) })
	if err != nil {
		return "", linkErr(os.NewSyscallError("ioctl SIOCGIFNAME", err))
	}
	return ifr.Name(), nil
}

// ifreqHWAddr is struct ifreq with the union read as struct sockaddr, which
// unix.Ifreq does not expose.
type ifreqHWAddr struct {
	name   [unix.IFNAMSIZ]byte
	family uint16
	data   [14]byte
	_      [8]byte // pad the union to its 24 bytes
}

func hwAddr(f *os.File, name string) (net.HardwareAddr, error) {
	var ifr ifreqHWAddr
	copy(ifr.name[:unix.IFNAMSIZ-1], name)
	err := control(f, func(fd int) error {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCGIFHWADDR, uintptr(unsafe.Pointer(&ifr)))
		if errno != 0 {
			return os.NewSyscallError("ioctl SIOCGIFHWADDR", errno)
		}
		return nil
	})
	if err != nil {
		return nil, linkErr(err)
	}
	if ifr.family != unix.ARPHRD_ETHER {
		return nil, fmt.Errorf("interface %s has hardware type %d, not Ethernet", name, ifr.family)
	}
	return net.HardwareAddr(append([]byte(nil), ifr.data[:macLen]...)), nil
}

func (s *Sender) anyFile() *os.File {
	if s.arp != nil {
		return s.arp
	}
	return s.icmp6
}

func (s *Sender) opError(op string, addr netip.Addr, err error) error {
	if err == nil {
		return nil
	}
	return &OpError{Op: op, IfIndex: s.ifindex, IfName: s.ifname, Addr: addr, Err: err}
}

// control runs fn on f's descriptor while holding a reference to it.
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// linkErr marks errors that mean the interface no longer exists: ENODEV
// from ioctls and IPv6 sends, ENXIO from AF_PACKET sends.
func linkErr(err error) error {
	if errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("%w: %w", ErrLinkGone, err)
	}
	return err
}

// htons returns v in network byte order, as sockaddr_ll's protocol wants.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
