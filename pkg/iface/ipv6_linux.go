package iface

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/ndp-announce/ndp-announce/pkg/sysctl"
	"github.com/vishvananda/netlink"
)

// inNetNS runs f with the calling thread in netns path ("" = right here).
// f must not start goroutines: they would not run in that netns.
func inNetNS(path string, f func() error) error {
	if path == "" {
		return f()
	}
	return ns.WithNetNSPath(path, func(ns.NetNS) error { return f() })
}

// SetIPv6Disabled sets net.ipv6.conf.<t.IfName>.disable_ipv6 in the container
// netns and says whether it wrote, so a caller can undo it. It reads first
// and does not write a value that is already right, so a read-only
// /proc/sys/net is fine when nothing changes. Disabling IPv6 where the
// kernel runs none on the interface (no IPv6 in the kernel, or an MTU below
// 1280, which removes the interface's ipv6 directory) is a no-op. Disabling
// IPv6 removes every IPv6 address from the interface (see MissingAddrs).
func SetIPv6Disabled(t Target, disabled bool) (changed bool, err error) {
	// The name becomes a path component: refuse "..", "/" and the like.
	if err := sysctl.CheckIfName(t.IfName); err != nil {
		return false, err
	}
	want := "0"
	if disabled {
		want = "1"
	}
	path := filepath.Join("/proc/sys/net/ipv6/conf", t.IfName, "disable_ipv6")
	err = inNetNS(t.NetNS, func() error {
		cur, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) && disabled && noIPv6On(t.IfName) {
			return nil
		}
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(cur)) == want {
			return nil
		}
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			return err
		}
		changed = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("set %s=%s for %s: %w", path, want, t, err)
	}
	return changed, nil
}

// noIPv6On says the interface exists (it has an ipv4 conf directory) but the
// kernel runs no IPv6 on it. Called on a thread in the interface's netns.
func noIPv6On(ifname string) bool {
	if _, err := os.Stat("/proc/sys/net/ipv6"); errors.Is(err, fs.ErrNotExist) {
		return true // no IPv6 in this kernel
	}
	_, err := os.Stat(filepath.Join("/proc/sys/net/ipv4/conf", ifname))
	return err == nil
}

// MissingAddrs returns the entries of want whose address is not on
// t.IfName now, e.g. IPv6 addresses a sysctl (disable_ipv6) removed after
// IPAM assigned them. Only addresses are compared, not prefix lengths.
func MissingAddrs(t Target, want []netip.Prefix) ([]netip.Prefix, error) {
	if len(want) == 0 {
		return nil, nil
	}
	c, err := openLink(t)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	have, err := addrList(c.h, c.ns, c.link, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	addrs := make([]netip.Addr, len(have))
	for i, a := range have {
		addrs[i] = a.Addr
	}
	return missingPrefixes(want, addrs), nil
}
