package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ndp-announce/ndp-announce/internal/lab"
	"github.com/ndp-announce/ndp-announce/pkg/iface"
)

// The bench lab is internal/lab's (the Go tests' lab; test/integration/lab.bash is the same in
// shell): a "host" netns with the bridge (where the CNI plugins run, through nsenter), a "peer"
// netns on the bridge, and a netns per container, which the bridge plugin gives its interface.
//
//	peer netns                     host netns                             container netns
//	eth0 198.51.100.2/24 ---- <L>hp ── <L>br 198.51.100.1/24 ── veth* ──── eth0 (bridge plugin)
//	     2001:db8:1::2/64               2001:db8:1::1/64
//
// Names start with "ndpb-" (links "ndpb<id>"), never the bats lab's "ndpa-". The root netns is
// never touched.

const (
	labV4GW   = "198.51.100.1"
	labV4Peer = "198.51.100.2"
	labV6GW   = "2001:db8:1::1"
	labV6Peer = "2001:db8:1::2"
	labTag    = "ndpb"
)

var (
	labBrMAC   = net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x01, 0x01}
	labPeerMAC = net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x01, 0x02}
)

// labEnv is what every lab needs from the command line.
type labEnv struct {
	BinDirs  string // colon-separated plugin dirs for libcni
	Driver   string // cnidriver
	TmpRoot  string // parent of every lab dir
	Registry *registry
}

// Lab is one set of namespaces with its bridge and peer, and the CNI state of its containers.
type Lab struct {
	*lab.Lab
	env    labEnv
	HostNS string // netns names, for nsenter
	PeerNS string
	Dir    string

	extraEnv []string // for the CNI driver (and so the plugins), e.g. P4's wrapper settings

	mu         sync.Mutex
	containers map[string]*lab.NetNS
	attached   map[string]attachment // container name -> how it was added, for DEL at Close
	services   services              // node services of ndpa-service conflists, stopped after the DELs
}

type attachment struct {
	conf *Conflist
	rc   string
}

// registry remembers the labs still open, so an interrupted run cleans up all of them.
type registry struct {
	mu   sync.Mutex
	labs map[*Lab]bool
}

func newRegistry() *registry { return &registry{labs: map[*Lab]bool{}} }

func (r *registry) add(l *Lab)    { r.mu.Lock(); r.labs[l] = true; r.mu.Unlock() }
func (r *registry) remove(l *Lab) { r.mu.Lock(); delete(r.labs, l); r.mu.Unlock() }

// closeAll closes every lab still open; used on the way out after an interrupt or failure.
func (r *registry) closeAll() {
	r.mu.Lock()
	labs := make([]*Lab, 0, len(r.labs))
	for l := range r.labs {
		labs = append(labs, l)
	}
	r.mu.Unlock()
	for _, l := range labs {
		if err := l.Close(); err != nil {
			progress("cleanup: %v", err)
		}
	}
}

// NewLab builds the host and peer namespaces, the bridge and the peer's veth, and waits until the
// peer's port forwards. On failure whatever was made is removed.
func NewLab(ctx context.Context, env labEnv) (l *Lab, err error) {
	il, err := lab.New(lab.Options{
		Tag:         labTag,
		BridgeMAC:   labBrMAC,
		BridgeAddrs: []netip.Prefix{netip.MustParsePrefix(labV4GW + "/24"), netip.MustParsePrefix(labV6GW + "/64")},
		Peer: &lab.Port{MAC: labPeerMAC,
			Addrs: []netip.Prefix{netip.MustParsePrefix(labV4Peer + "/24"), netip.MustParsePrefix(labV6Peer + "/64")}},
		NoDAD: true,
	})
	if err != nil {
		return nil, err
	}
	l = &Lab{Lab: il, env: env, HostNS: il.Host.Name, PeerNS: il.Peer.Name,
		containers: map[string]*lab.NetNS{}, attached: map[string]attachment{}}
	env.Registry.add(l)
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	if l.Dir, err = os.MkdirTemp(env.TmpRoot, l.Prefix+"-"); err != nil {
		return nil, fmt.Errorf("lab %s: temp dir: %w", l.Prefix, err)
	}
	// pkg/iface's own waits, as the plugin runs them: the peer's link, then its bridge port.
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	t := iface.Target{NetNS: l.Peer.Path, IfName: "eth0", HostNetNS: l.Host.Path}
	for _, wait := range []func(context.Context, iface.Target) iface.WaitResult{iface.WaitLinkUp, iface.WaitBridgePort} {
		if r := wait(wctx, t); !r.Met {
			return nil, fmt.Errorf("lab %s: peer: %s", l.Prefix, r)
		}
	}
	return l, nil
}

// ContainerID is the CNI container ID of a container.
func (l *Lab) ContainerID(name string) string { return l.Prefix + "-" + name }

// AddContainer creates a container netns, as a runtime does before ADD.
func (l *Lab) AddContainer(ctx context.Context, name string) error {
	n, err := l.Lab.AddContainer(name)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.containers[name] = n
	l.mu.Unlock()
	return nil
}

// RemoveContainer deletes a container netns, as a runtime does after DEL.
func (l *Lab) RemoveContainer(ctx context.Context, name string) error {
	n, err := l.container(name)
	if err != nil {
		return err
	}
	l.mu.Lock()
	delete(l.containers, name)
	l.mu.Unlock()
	return l.Remove(n)
}

func (l *Lab) container(name string) (*lab.NetNS, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.containers[name]
	if !ok {
		return nil, fmt.Errorf("lab %s: no container %s", l.Prefix, name)
	}
	return n, nil
}

// CNIAdd runs ADD of the whole conflist for a container through cnidriver in the host netns and
// returns how long cnidriver took, from exec to exit (the time a runtime waits).
func (l *Lab) CNIAdd(ctx context.Context, conf *Conflist, name, runtimeConfig string) (time.Duration, error) {
	l.mu.Lock()
	l.attached[name] = attachment{conf: conf, rc: runtimeConfig} // a failed ADD still needs its DEL
	l.mu.Unlock()
	start := time.Now()
	_, err := l.driver(ctx, "add", conf, name, runtimeConfig)
	return time.Since(start), err
}

// CNIDel runs DEL of the whole conflist for a container.
func (l *Lab) CNIDel(ctx context.Context, name string) (time.Duration, error) {
	l.mu.Lock()
	a, ok := l.attached[name]
	l.mu.Unlock()
	if !ok {
		return 0, fmt.Errorf("lab %s: DEL of %s, which was never added", l.Prefix, name)
	}
	start := time.Now()
	if _, err := l.driver(ctx, "del", a.conf, name, a.rc); err != nil {
		return 0, err
	}
	d := time.Since(start)
	l.mu.Lock()
	delete(l.attached, name)
	l.mu.Unlock()
	return d, nil
}

func (l *Lab) driver(ctx context.Context, cmd string, conf *Conflist, name, rc string) ([]byte, error) {
	args := []string{l.env.Driver, cmd, "--conflist", conf.Path, "--cache-dir", filepath.Join(l.Dir, "cache"),
		"--bin-dir", l.env.BinDirs, "--container-id", l.ContainerID(name), "--ifname", "eth0",
		"--netns", filepath.Join(lab.RunDir, l.ContainerNS(name)), "--timeout", "30s"}
	if rc != "" {
		args = append(args, "--runtime-config", rc)
	}
	out, err := inNSEnv(ctx, l.HostNS, l.extraEnv, args...)
	if err != nil {
		return out, fmt.Errorf("CNI %s of %s (%s): %w", cmd, name, conf.Name, err)
	}
	return out, nil
}

// Neigh is one entry of a neighbour table.
type Neigh struct {
	MAC   string `json:"mac"`
	State string `json:"state"` // REACHABLE, STALE, ... or "" when there is none
}

func (n Neigh) String() string {
	if n.State == "" {
		return "no entry"
	}
	return n.MAC + " " + n.State
}

// PeerNeigh reads the peer's neighbour entry for an address, over netlink.
func (l *Lab) PeerNeigh(ctx context.Context, addr string) (Neigh, error) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return Neigh{}, err
	}
	n, err := l.Peer.Neigh(l.PeerIndex, ip)
	if err != nil || n.State == "" {
		return Neigh{}, err
	}
	return Neigh{MAC: n.MAC.String(), State: n.State}, nil
}

// LinkMAC is a container's eth0 MAC.
func (l *Lab) LinkMAC(ctx context.Context, name string) (string, error) {
	n, err := l.container(name)
	if err != nil {
		return "", err
	}
	link, err := n.Handle.LinkByName("eth0")
	if err != nil {
		return "", fmt.Errorf("lab %s: %s: %w", l.Prefix, name, err)
	}
	return link.Attrs().HardwareAddr.String(), nil
}

// PingOnce sends one echo request from the peer and says whether a reply came within a second.
func (l *Lab) PingOnce(ctx context.Context, addr string) bool {
	_, err := inNS(ctx, l.PeerNS, "ping", "-n", "-c", "1", "-W", "1", addr)
	return err == nil
}

// Close DELs what is still attached, stops whatever still runs in the lab's namespaces (a leak:
// reported), deletes the namespaces and the lab dir. Idempotent; keeps going past errors.
func (l *Lab) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var errs []error
	l.mu.Lock()
	names := make([]string, 0, len(l.attached))
	for n := range l.attached {
		names = append(names, n)
	}
	l.mu.Unlock()
	for _, n := range names {
		if _, err := l.CNIDel(ctx, n); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, l.services.stopAll())
	errs = append(errs, l.Lab.Close())
	if l.Dir != "" {
		errs = append(errs, os.RemoveAll(l.Dir))
	}
	l.env.Registry.remove(l)
	return errors.Join(errs...)
}

// inNS runs a command in a netns with nsenter (not `ip netns exec`, which remounts /sys and hides
// cgroup mounts) and returns its stdout; stderr goes into the error.
func inNS(ctx context.Context, ns string, args ...string) ([]byte, error) {
	return inNSEnv(ctx, ns, nil, args...)
}

func inNSEnv(ctx context.Context, ns string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + filepath.Join(lab.RunDir, ns), "--"}, args...)...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s in %s: %w: %s", strings.Join(args, " "), ns, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}
