package l2disco

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"
	"unsafe"

	"github.com/containernetworking/plugins/pkg/ns"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Operation names used in OpError.
const (
	opOpenListener = "open listener socket"
	opListen       = "listen for black-holed frames"
)

// listenRcvBuf bounds what a listener queues (the kernel doubles it): a
// few dozen truncated frames, enough for a burst between two reads.
const listenRcvBuf = 32 << 10

// ListenerOptions say which interface a Listener listens on and for which
// of its addresses.
type ListenerOptions struct {
	// IfIndex is the interface's index in the namespace the sockets are
	// opened in; MAC its own MAC.
	IfIndex int
	MAC     net.HardwareAddr
	// Addrs are our addresses: only frames to them are kept, and a socket
	// is opened for each family among them.
	Addrs []netip.Addr
}

// A Listener receives the frames peers still send to our addresses at a MAC
// that is not ours (see ParseStaleFrame): one receive-only packet socket
// per family, bound to the interface and its EtherType, with StaleFilter
// attached. Bound to one EtherType rather than to all, the sockets see only
// received frames: nothing is cloned for them on the send path.
type Listener struct {
	ifindex int
	// Either may be nil. Non-blocking, so that reads take deadlines.
	v4, v6 *os.File
}

// NewListenerInNetNS opens a Listener's sockets inside the network namespace
// at nsPath.
func NewListenerInNetNS(nsPath string, o ListenerOptions) (*Listener, error) {
	var l *Listener
	err := ns.WithNetNSPath(nsPath, func(ns.NetNS) error {
		var err error
		l, err = NewListener(o)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open listener in netns %s: %w", nsPath, err)
	}
	return l, nil
}

// NewListener opens a Listener's sockets in the calling thread's network
// namespace (lock the OS thread inside it, or use NewListenerInNetNS).
func NewListener(o ListenerOptions) (*Listener, error) {
	if o.IfIndex <= 0 {
		return nil, fmt.Errorf("l2disco: listener: invalid interface index %d", o.IfIndex)
	}
	filter, err := StaleFilter(o.MAC, o.Addrs)
	if err != nil {
		return nil, fmt.Errorf("l2disco: listener on ifindex %d: %w", o.IfIndex, err)
	}
	raw, err := bpf.Assemble(filter)
	if err != nil {
		return nil, fmt.Errorf("l2disco: listener on ifindex %d: assemble filter: %w", o.IfIndex, err)
	}
	l := &Listener{ifindex: o.IfIndex}
	v4, v6 := families(o.Addrs)
	for _, s := range []struct {
		want      bool
		etherType uint16
		f         **os.File
	}{{v4, etherTypeIPv4, &l.v4}, {v6, etherTypeIPv6, &l.v6}} {
		if !s.want {
			continue
		}
		if *s.f, err = openListenSocket(o.IfIndex, s.etherType, raw); err != nil {
			l.Close()
			return nil, l.opError(opOpenListener, linkErr(err))
		}
	}
	return l, nil
}

func families(addrs []netip.Addr) (v4, v6 bool) {
	for _, a := range addrs {
		if a.Unmap().Is4() {
			v4 = true
		} else {
			v6 = true
		}
	}
	return v4, v6
}

// openListenSocket opens the socket with protocol 0, which receives
// nothing, and binds it to etherType only once the filter is attached: no
// unfiltered frame is ever queued.
func openListenSocket(ifindex int, etherType uint16, raw []bpf.RawInstruction) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	fail := func(call string, err error) (*os.File, error) {
		unix.Close(fd)
		return nil, os.NewSyscallError(call, err)
	}
	prog := unix.SockFprog{
		Len: uint16(len(raw)),
		// bpf.RawInstruction and struct sock_filter share their layout.
		Filter: (*unix.SockFilter)(unsafe.Pointer(&raw[0])),
	}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
		return fail("setsockopt SO_ATTACH_FILTER", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, listenRcvBuf); err != nil {
		return fail("setsockopt SO_RCVBUF", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(etherType), Ifindex: ifindex}); err != nil {
		return fail("bind", err)
	}
	return os.NewFile(uintptr(fd), fmt.Sprintf("l2disco-listen-%#04x", etherType)), nil
}

// NewListenerFromFiles makes a Listener from sockets another process opened
// with NewListener (passed with SCM_RIGHTS or exec.Cmd.ExtraFiles) for
// interface ifindex. Either may be nil. The Listener keeps duplicates: the
// caller still owns and closes v4 and v6.
func NewListenerFromFiles(v4, v6 *os.File, ifindex int) (*Listener, error) {
	if v4 == nil && v6 == nil {
		return nil, fmt.Errorf("l2disco: listener for ifindex %d: no socket files", ifindex)
	}
	if ifindex <= 0 {
		return nil, fmt.Errorf("l2disco: listener: invalid interface index %d", ifindex)
	}
	l := &Listener{ifindex: ifindex}
	for _, s := range []struct {
		in        *os.File
		etherType uint16
		f         **os.File
	}{{v4, etherTypeIPv4, &l.v4}, {v6, etherTypeIPv6, &l.v6}} {
		if s.in == nil {
			continue
		}
		f, err := adoptListenSocket(s.in, ifindex, s.etherType)
		if err != nil {
			l.Close()
			return nil, l.opError(opAdopt, fmt.Errorf("listener socket %s: %w", s.in.Name(), err))
		}
		*s.f = f
	}
	return l, nil
}

// adoptListenSocket checks that f is a raw packet socket bound to ifindex
// and etherType, so that swapped or stale descriptors fail here, and
// duplicates it.
func adoptListenSocket(f *os.File, ifindex int, etherType uint16) (*os.File, error) {
	err := control(f, func(fd int) error {
		sa, err := unix.Getsockname(fd)
		if err != nil {
			return os.NewSyscallError("getsockname", err)
		}
		ll, ok := sa.(*unix.SockaddrLinklayer)
		if !ok || ll.Ifindex != ifindex || ll.Protocol != htons(etherType) {
			return fmt.Errorf("bound to %+v, want ifindex %d and EtherType %#04x", sa, ifindex, etherType)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return adopt(f, unix.AF_PACKET, unix.SOCK_RAW, 0)
}

// Files returns duplicates of the Listener's sockets (nil for an absent
// one) for handing to another process; the caller closes them.
func (l *Listener) Files() (v4, v6 *os.File, err error) {
	if v4, err = dupFile(l.v4); err != nil {
		return nil, nil, l.opError(opDup, err)
	}
	if v6, err = dupFile(l.v6); err != nil {
		if v4 != nil {
			v4.Close()
		}
		return nil, nil, l.opError(opDup, err)
	}
	return v4, v6, nil
}

// dupFile duplicates f close-on-exec; nil stays nil.
func dupFile(f *os.File) (*os.File, error) {
	if f == nil {
		return nil, nil
	}
	var nfd int
	err := control(f, func(fd int) error {
		var err error
		nfd, err = unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		return os.NewSyscallError("fcntl F_DUPFD_CLOEXEC", err)
	})
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(nfd), f.Name()), nil
}

// IfIndex returns the interface index the Listener listens on.
func (l *Listener) IfIndex() int { return l.ifindex }

// Close closes the Listener's sockets; a read in progress returns.
func (l *Listener) Close() error {
	var errs []error
	for _, f := range l.files() {
		errs = append(errs, f.Close())
	}
	return l.opError(opClose, errors.Join(errs...))
}

func (l *Listener) files() []*os.File {
	var fs []*os.File
	for _, f := range []*os.File{l.v4, l.v6} {
		if f != nil {
			fs = append(fs, f)
		}
	}
	return fs
}

// setReadDeadline sets the deadline of every socket's reads; a deadline in
// the past wakes a read in progress.
func (l *Listener) setReadDeadline(t time.Time) {
	for _, f := range l.files() {
		_ = f.SetReadDeadline(t)
	}
}

// readFrame reads one frame from f into buf, waiting until f's read
// deadline. Frames the kernel did not class PACKET_OTHERHOST (the filter
// already drops them) are skipped.
func (l *Listener) readFrame(f *os.File, buf []byte) (int, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	for {
		var (
			n    int
			from unix.Sockaddr
			rerr error
		)
		err := rc.Read(func(fd uintptr) bool {
			n, from, rerr = unix.Recvfrom(int(fd), buf, 0)
			return rerr != unix.EAGAIN && rerr != unix.EINTR
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			return 0, l.opError(opListen, linkErr(os.NewSyscallError("recvfrom", err)))
		}
		if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == packetOtherHost {
			return n, nil
		}
	}
}

func (l *Listener) opError(op string, err error) error {
	if err == nil {
		return nil
	}
	return &OpError{Op: op, IfIndex: l.ifindex, Err: err}
}
