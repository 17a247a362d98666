package handoff

import (
	"fmt"
	"math"
	"net/netip"
	"path/filepath"
	"slices"

	"github.com/ndp-announce/ndp-announce/pkg/announcer"
	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
)

// Version is the protocol version this package speaks. Bump it for any change to the messages,
// announcer.Job's fields included (an announce carries one): a peer that decodes strictly refuses a
// field it does not know.
const Version = 1

// SocketName is the service's socket in the plugin's dataDir.
const SocketName = "announcer.sock"

// Limits a service enforces on every request.
const (
	MaxMessageSize = 64 << 10 // bytes of JSON header
	MaxFiles       = 4        // descriptors in one message
	MaxTargets     = 256      // addresses in each list of Targets
	MaxWaits       = 8        // wait outcomes in one report
	maxKeyField    = 512      // bytes in a network name or container ID
	maxPath        = 4096
	maxSeconds     = 3600.0 // an ADD or wait figure beyond an hour is not a measurement
)

// Kind says what a Request asks.
type Kind string

const (
	// KindAnnounce hands over the remaining rounds of one attachment (and the ADD's report).
	KindAnnounce Kind = "announce"
	// KindReport is an ADD with no round left: only its figures, and maybe its sockets to close.
	KindReport Kind = "report"
	// KindStop stops one attachment's rounds (DEL).
	KindStop Kind = "stop"
	// KindGC stops the rounds of a network's attachments that are not listed as valid (GC).
	KindGC Kind = "gc"
)

// Request is one message from the plugin. Exactly the part named by Kind is set.
type Request struct {
	V        int            `json:"v"`
	Kind     Kind           `json:"kind"`
	Announce *announcer.Job `json:"announce,omitempty"`
	// Report is the ADD's own figures, with an announce or alone (a report request).
	Report *Report        `json:"report,omitempty"`
	Stop   *announcer.Key `json:"stop,omitempty"`
	GC     *GC            `json:"gc,omitempty"`
	// Files names each descriptor passed with the message, in order.
	Files []FileRole `json:"files,omitempty"`
}

// FileRole says what a passed descriptor is.
type FileRole string

const (
	FileARP   FileRole = "arp"   // AF_PACKET SOCK_DGRAM socket in the container netns
	FileICMP6 FileRole = "icmp6" // raw ICMPv6 socket in the container netns
	// The black-hole listener's receive-only packet sockets (l2disco.Listener), with a job's Listen.
	FileListen4 FileRole = "listen4"
	FileListen6 FileRole = "listen6"
)

// GC lists the attachments of Network that stay; the service stops the rounds of the others.
type GC struct {
	Network string     `json:"network"`
	Valid   []ValidAtt `json:"valid"`
}

// ValidAtt is one entry of cni.dev/valid-attachments.
type ValidAtt struct {
	ContainerID string `json:"containerID"`
	IfName      string `json:"ifName"`
}

// Reply is the service's one answer.
type Reply struct {
	V        int    `json:"v"`
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
	Versions []int  `json:"versions,omitempty"` // what the service speaks, when it refused a version
	Stopped  int    `json:"stopped,omitempty"`  // attachments whose rounds a stop or gc ended
}

// Validate checks a decoded request against the limits, so the service never acts on nonsense.
func (r *Request) Validate() error {
	if r.V != Version {
		return fmt.Errorf("protocol version %d, want %d", r.V, Version)
	}
	// A report may ride along with an announce; the other parts go alone.
	parts := 0
	for _, set := range []bool{r.Announce != nil, r.Stop != nil, r.GC != nil} {
		if set {
			parts++
		}
	}
	if parts > 1 {
		return fmt.Errorf("%s request carries %d parts, want one", r.Kind, parts)
	}
	if err := r.validateFiles(); err != nil {
		return err
	}
	switch r.Kind {
	case KindAnnounce:
		if r.Announce == nil {
			return fmt.Errorf("announce request without announce")
		}
		if len(r.Files) == 0 {
			return fmt.Errorf("announce request without sockets")
		}
		if err := validateJob(r.Announce); err != nil {
			return err
		}
		if r.Announce.Listen == nil && (slices.Contains(r.Files, FileListen4) || slices.Contains(r.Files, FileListen6)) {
			return fmt.Errorf("listener sockets without a listen window")
		}
	case KindReport:
		if r.Report == nil || parts > 0 {
			return fmt.Errorf("report request must carry a report and nothing else")
		}
	case KindStop:
		if r.Stop == nil || r.Report != nil {
			return fmt.Errorf("stop request without key")
		}
		if len(r.Files) > 0 {
			return fmt.Errorf("stop request with sockets")
		}
		return ValidateKey(r.Stop)
	case KindGC:
		if r.GC == nil || r.Report != nil {
			return fmt.Errorf("gc request without gc")
		}
		if len(r.Files) > 0 {
			return fmt.Errorf("gc request with sockets")
		}
		return r.GC.validate()
	default:
		return fmt.Errorf("unknown request kind %q", r.Kind)
	}
	if r.Report == nil {
		return nil
	}
	return r.Report.validate()
}

func (r *Request) validateFiles() error {
	if len(r.Files) > MaxFiles {
		return fmt.Errorf("%d files, at most %d", len(r.Files), MaxFiles)
	}
	seen := map[FileRole]bool{}
	for _, f := range r.Files {
		if f != FileARP && f != FileICMP6 && f != FileListen4 && f != FileListen6 {
			return fmt.Errorf("unknown file role %q", f)
		}
		if seen[f] {
			return fmt.Errorf("file role %q twice", f)
		}
		seen[f] = true
	}
	return nil
}

// ValidateKey checks a key against the protocol's limits; GC leaves out entries that fail it (no
// attachment of the service can have such a key).
func ValidateKey(k *announcer.Key) error {
	if k.Network == "" || k.ContainerID == "" || k.IfName == "" {
		return fmt.Errorf("key %s/%s/%s: network, containerID and ifName are all required", k.Network, k.ContainerID, k.IfName)
	}
	if len(k.Network) > maxKeyField || len(k.ContainerID) > maxKeyField {
		return fmt.Errorf("key: network or containerID longer than %d bytes", maxKeyField)
	}
	if len(k.IfName) > 15 {
		return fmt.Errorf("key: ifName %q longer than 15 bytes", k.IfName)
	}
	return nil
}

func validateJob(a *announcer.Job) error {
	if err := ValidateKey(&a.Key); err != nil {
		return err
	}
	if a.NetNS == "" || len(a.NetNS) > maxPath || !filepath.IsAbs(a.NetNS) {
		return fmt.Errorf("netns %q is not an absolute path", a.NetNS)
	}
	if a.IfIndex <= 0 {
		return fmt.Errorf("ifIndex %d is not positive", a.IfIndex)
	}
	if len(a.MAC) != 6 {
		return fmt.Errorf("mac %v is not an Ethernet address", a.MAC)
	}
	if a.Rounds < 1 || a.Rounds > l2disco.MaxCount-1 {
		return fmt.Errorf("rounds %d is outside 1-%d", a.Rounds, l2disco.MaxCount-1)
	}
	if err := l2disco.ValidateSchedule(a.Rounds, a.Interval); err != nil {
		return err
	}
	if err := validateTargets(&a.Targets); err != nil {
		return err
	}
	return validateListen(a.Listen)
}

func validateListen(l *announcer.Listen) error {
	if l == nil {
		return nil
	}
	if l.Window <= 0 || l.Window > l2disco.MaxStaleWindow {
		return fmt.Errorf("listen.window %v is outside (0, %v]", l.Window, l2disco.MaxStaleWindow)
	}
	if len(l.Prefixes) == 0 || len(l.Prefixes) > MaxTargets {
		return fmt.Errorf("listen.prefixes: %d, want 1-%d", len(l.Prefixes), MaxTargets)
	}
	for _, p := range l.Prefixes {
		if !p.IsValid() || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			return fmt.Errorf("listen.prefixes: %v is not a plain prefix", p)
		}
	}
	return nil
}

func validateTargets(t *l2disco.Targets) error {
	for _, l := range []struct {
		name string
		list []netip.Addr
		v4   bool
	}{{"ipv4", t.IPv4, true}, {"ipv6", t.IPv6, false}, {"gatewaysV4", t.GatewaysV4, true}, {"gatewaysV6", t.GatewaysV6, false}} {
		if len(l.list) > MaxTargets {
			return fmt.Errorf("targets.%s: %d addresses, at most %d", l.name, len(l.list), MaxTargets)
		}
		for _, a := range l.list {
			if !a.IsValid() || a.Is4() != l.v4 || a.Is4In6() || a.Zone() != "" {
				return fmt.Errorf("targets.%s: %v is not a plain address of that family", l.name, a)
			}
		}
	}
	if len(t.IPv4) == 0 && len(t.IPv6) == 0 {
		return fmt.Errorf("targets: no address to announce")
	}
	return nil
}

func (g *GC) validate() error {
	if g.Network == "" || len(g.Network) > maxKeyField {
		return fmt.Errorf("gc: network %q is empty or too long", g.Network)
	}
	for _, v := range g.Valid {
		k := announcer.Key{Network: g.Network, ContainerID: v.ContainerID, IfName: v.IfName}
		if err := ValidateKey(&k); err != nil {
			return fmt.Errorf("gc: valid attachment: %w", err)
		}
	}
	return nil
}

// finiteSeconds checks one duration figure of a report.
func finiteSeconds(name string, s float64) error {
	if math.IsNaN(s) || s < 0 || s > maxSeconds {
		return fmt.Errorf("%s %v is not a duration in seconds within 0-%v", name, s, maxSeconds)
	}
	return nil
}
