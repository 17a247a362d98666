package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// RunDir is where named network namespaces are bind-mounted, as by `ip netns add`:
// nsenter, cnidriver and the plugins open them by path.
const RunDir = "/run/netns"

// NetNS is one network namespace of a lab, open for as long as the lab is.
type NetNS struct {
	Name   string
	Path   string          // RunDir/Name
	NS     ns.NetNS        // for Do (sysctls, sockets) and Fd
	Handle *netlink.Handle // netlink in this netns, from any thread
}

var sharedRunDir sync.Once

// makeRunDirShared makes RunDir a shared mount point once per process, as
// `ip netns add` and the reference plugins' testutils do, so that a netns
// mounted here shows in every mount namespace and a later bind of RunDir
// onto itself cannot hide it.
func makeRunDirShared() error {
	var err error
	sharedRunDir.Do(func() {
		if err = os.MkdirAll(RunDir, 0o755); err != nil {
			return
		}
		if unix.Mount("", RunDir, "none", unix.MS_SHARED|unix.MS_REC, "") == nil {
			return
		}
		if err = unix.Mount(RunDir, RunDir, "none", unix.MS_BIND|unix.MS_REC, ""); err == nil {
			err = unix.Mount("", RunDir, "none", unix.MS_SHARED|unix.MS_REC, "")
		}
	})
	if err != nil {
		return fmt.Errorf("make %s a shared mount: %w", RunDir, err)
	}
	return nil
}

// newNetNS creates the named netns with lo up and opens it. On error nothing
// is left.
func newNetNS(name string) (n *NetNS, err error) {
	if err := makeRunDirShared(); err != nil {
		return nil, err
	}
	n = &NetNS{Name: name, Path: filepath.Join(RunDir, name)}
	f, err := os.OpenFile(n.Path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		return nil, fmt.Errorf("netns %s: %w", name, err)
	}
	f.Close()
	defer func() {
		if err != nil {
			n.remove()
		}
	}()
	if err := mountNew(n.Path); err != nil {
		return nil, fmt.Errorf("netns %s: %w", name, err)
	}
	if n.NS, err = ns.GetNS(n.Path); err != nil {
		return nil, err
	}
	if n.Handle, err = netlink.NewHandleAt(netns.NsHandle(n.NS.Fd())); err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", name, err)
	}
	lo, err := n.Handle.LinkByName("lo")
	if err == nil {
		err = n.Handle.LinkSetUp(lo)
	}
	if err != nil {
		return nil, fmt.Errorf("lo up in %s: %w", name, err)
	}
	return n, nil
}

// mountNew unshares a new netns on a thread of its own and bind-mounts it at
// path. The thread is never unlocked, so Go ends it rather than reuse it.
func mountNew(path string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("bind mount at %s: %w", path, err)
			return
		}
		errc <- nil
	}()
	return <-errc
}

// remove closes the netns and unmounts and removes its file; the kernel frees
// it once nothing else holds it. Removing one already gone is no error.
func (n *NetNS) remove() error {
	if n.Handle != nil {
		n.Handle.Close()
		n.Handle = nil
	}
	if n.NS != nil {
		n.NS.Close()
		n.NS = nil
	}
	err := unix.Unmount(n.Path, unix.MNT_DETACH)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		err = nil // not mounted (half made, or removed by its test)
	}
	if rerr := os.Remove(n.Path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return fmt.Errorf("remove netns %s: %w", n.Name, err)
	}
	return nil
}

// setSysctl writes a /proc/sys/net key (dots for slashes) inside the netns:
// the files show the netns of the thread that opens them.
func (n *NetNS) setSysctl(key, value string) error {
	p := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
	return n.NS.Do(func(ns.NetNS) error { return os.WriteFile(p, []byte(value), 0o644) })
}
