package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	ilab "github.com/ndp-announce/ndp-announce/internal/lab"
)

// The bench lab is test/integration/lab.bash in Go: a "host" netns with the bridge (where the CNI
// plugins run, through nsenter), a "peer" netns on the bridge, and a netns per container.
//
//	peer netns                     host netns                             container netns
//	eth0 198.51.100.2/24 ---- <L>hp ── <L>br 198.51.100.1/24 ── veth* ──── eth0 (bridge plugin)
//	     2001:db8:1::2/64               2001:db8:1::1/64
//
// Names start with "ndpb-" (links "ndpb<id>"), never the bats lab's "ndpa-". The root netns is
// never touched: every command runs under nsenter --net=/run/netns/NAME.

const (
	labV4GW     = "198.51.100.1"
	labV4Peer   = "198.51.100.2"
	labV6GW     = "2001:db8:1::1"
	labV6Peer   = "2001:db8:1::2"
	labBrMAC    = "02:00:5e:00:01:01"
	labPeerMAC  = "02:00:5e:00:01:02"
	labPrefixNS = "ndpb-"
)

// labEnv is what every lab needs from the command line.
type labEnv struct {
	BinDirs  string // colon-separated plugin dirs for libcni
	Driver   string // cnidriver
	TmpRoot  string // parent of every lab dir
	Registry *registry
}

// Lab is one set of namespaces with its bridge and peer.
type Lab struct {
	env        labEnv
	ID         string
	Prefix     string // netns prefix, "ndpb-<id>"
	LinkPrefix string // "ndpb<id>", leaves room for a suffix within IFNAMSIZ
	HostNS     string
	PeerNS     string
	Bridge     string
	Dir        string

	extraEnv []string // for the CNI driver (and so the plugins), e.g. P4's wrapper settings

	mu       sync.Mutex
	netns    []string
	attached map[string]attachment // container name -> how it was added, for DEL at Close
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

func randomID() string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// NewLab builds the host and peer namespaces, the bridge and the peer's veth. On failure whatever
// was made is removed.
func NewLab(ctx context.Context, env labEnv) (l *Lab, err error) {
	id := randomID()
	l = &Lab{
		env:        env,
		ID:         id,
		Prefix:     labPrefixNS + id,
		LinkPrefix: "ndpb" + id,
		attached:   map[string]attachment{},
	}
	l.HostNS = l.Prefix + "-host"
	l.PeerNS = l.Prefix + "-peer"
	l.Bridge = l.LinkPrefix + "br"
	if l.Dir, err = os.MkdirTemp(env.TmpRoot, l.Prefix+"-"); err != nil {
		return nil, fmt.Errorf("lab %s: temp dir: %w", l.Prefix, err)
	}
	env.Registry.add(l)
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	for _, ns := range []string{l.HostNS, l.PeerNS} {
		if err := l.addNetNS(ctx, ns); err != nil {
			return nil, err
		}
	}
	hostVeth := l.LinkPrefix + "hp"
	steps := [][]string{
		{l.HostNS, "ip", "link", "add", "name", l.Bridge, "address", labBrMAC, "type", "bridge", "stp_state", "0"},
		{l.HostNS, "ip", "addr", "add", labV4GW + "/24", "dev", l.Bridge},
		{l.HostNS, "ip", "addr", "add", labV6GW + "/64", "dev", l.Bridge, "nodad"},
		{l.HostNS, "ip", "link", "set", l.Bridge, "up"},
		{l.HostNS, "ip", "link", "add", "name", hostVeth, "type", "veth", "peer", "name", "eth0", "address", labPeerMAC, "netns", l.PeerNS},
		{l.HostNS, "ip", "link", "set", hostVeth, "master", l.Bridge, "up"},
		{l.PeerNS, "ip", "addr", "add", labV4Peer + "/24", "dev", "eth0"},
		{l.PeerNS, "ip", "addr", "add", labV6Peer + "/64", "dev", "eth0", "nodad"},
		{l.PeerNS, "ip", "link", "set", "eth0", "up"},
	}
	for _, s := range steps {
		if _, err := inNS(ctx, s[0], s[1:]...); err != nil {
			return nil, fmt.Errorf("lab %s: %w", l.Prefix, err)
		}
	}
	if err := l.waitPortForwarding(ctx, hostVeth, 5*time.Second); err != nil {
		return nil, err
	}
	return l, nil
}

// addNetNS: a namespace with lo up and no DAD (lab addresses are unique by construction, and a
// tentative address cannot send). Recorded before creation so Close removes a half-made one.
func (l *Lab) addNetNS(ctx context.Context, name string) error {
	l.mu.Lock()
	l.netns = append(l.netns, name)
	l.mu.Unlock()
	if out, err := exec.CommandContext(ctx, "ip", "netns", "add", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns add %s: %w: %s", name, err, bytes.TrimSpace(out))
	}
	if _, err := inNS(ctx, name, "ip", "link", "set", "lo", "up"); err != nil {
		return err
	}
	_, err := inNS(ctx, name, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
	return err
}

// ContainerNS is the netns name of a container.
func (l *Lab) ContainerNS(name string) string { return l.Prefix + "-c-" + name }

// ContainerID is the CNI container ID of a container.
func (l *Lab) ContainerID(name string) string { return l.Prefix + "-" + name }

// AddContainer creates a container netns, as a runtime does before ADD.
func (l *Lab) AddContainer(ctx context.Context, name string) error {
	return l.addNetNS(ctx, l.ContainerNS(name))
}

// RemoveContainer deletes a container netns, as a runtime does after DEL.
func (l *Lab) RemoveContainer(ctx context.Context, name string) error {
	out, err := exec.CommandContext(ctx, "ip", "netns", "del", l.ContainerNS(name)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip netns del %s: %w: %s", l.ContainerNS(name), err, bytes.TrimSpace(out))
	}
	return nil
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
		"--netns", "/run/netns/" + l.ContainerNS(name), "--timeout", "30s"}
	if rc != "" {
		args = append(args, "--runtime-config", rc)
	}
	out, err := inNSEnv(ctx, l.HostNS, l.extraEnv, args...)
	if err != nil {
		return out, fmt.Errorf("CNI %s of %s (%s): %w", cmd, name, conf.Name, err)
	}
	return out, nil
}

// waitPortForwarding polls a host-netns bridge port over netlink (ip -j -d) until it forwards.
func (l *Lab) waitPortForwarding(ctx context.Context, port string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	state := ""
	for time.Now().Before(deadline) {
		out, err := inNS(ctx, l.HostNS, "ip", "-j", "-d", "link", "show", "dev", port)
		if err != nil {
			return err
		}
		var links []struct {
			LinkInfo struct {
				SlaveData struct {
					State string `json:"state"`
				} `json:"info_slave_data"`
			} `json:"linkinfo"`
		}
		if err := json.Unmarshal(out, &links); err == nil && len(links) > 0 {
			state = links[0].LinkInfo.SlaveData.State
			if state == "forwarding" {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("lab %s: bridge port %s still %q after %v", l.Prefix, port, state, limit)
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

// PeerNeigh reads the peer's neighbour entry for an address.
func (l *Lab) PeerNeigh(ctx context.Context, addr string) (Neigh, error) {
	out, err := inNS(ctx, l.PeerNS, "ip", "-j", "neigh", "show", addr, "dev", "eth0")
	if err != nil {
		return Neigh{}, err
	}
	var entries []struct {
		LLAddr string   `json:"lladdr"`
		State  []string `json:"state"`
	}
	if err := json.Unmarshal(out, &entries); err != nil {
		return Neigh{}, fmt.Errorf("peer neighbour %s: %w", addr, err)
	}
	if len(entries) == 0 {
		return Neigh{}, nil
	}
	return Neigh{MAC: entries[0].LLAddr, State: strings.Join(entries[0].State, ",")}, nil
}

// LinkMAC is a container's eth0 MAC.
func (l *Lab) LinkMAC(ctx context.Context, name string) (string, error) {
	// Over netlink: under nsenter, /sys is still the root netns's.
	out, err := inNS(ctx, l.ContainerNS(name), "ip", "-j", "link", "show", "dev", "eth0")
	if err != nil {
		return "", err
	}
	return parseLinkMAC(out)
}

func parseLinkMAC(out []byte) (string, error) {
	var links []struct {
		Address string `json:"address"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) == 0 {
		return "", fmt.Errorf("cannot read a MAC from %q", bytes.TrimSpace(out))
	}
	return links[0].Address, nil
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
	l.mu.Lock()
	netns := append([]string(nil), l.netns...)
	l.netns = nil
	l.mu.Unlock()
	paths := make([]string, len(netns))
	for i, ns := range netns {
		paths[i] = "/run/netns/" + ns
	}
	if left := ilab.StopStragglers(paths, 2*time.Second); len(left) > 0 {
		errs = append(errs, fmt.Errorf("lab %s: processes still running in its namespaces, stopped: %s", l.Prefix, strings.Join(left, "; ")))
	}
	for i := len(netns) - 1; i >= 0; i-- {
		if _, err := os.Stat("/run/netns/" + netns[i]); err != nil {
			continue
		}
		if out, err := exec.CommandContext(ctx, "ip", "netns", "del", netns[i]).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip netns del %s: %w: %s", netns[i], err, bytes.TrimSpace(out)))
		}
	}
	if l.Dir != "" {
		if err := os.RemoveAll(l.Dir); err != nil {
			errs = append(errs, err)
		}
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
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=/run/netns/" + ns, "--"}, args...)...)
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
