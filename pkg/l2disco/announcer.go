package l2disco

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// Schedule limits, as moby's libnetwork allows (advertise_addr_nmsgs and
// advertise_addr_ms): RFC 5227 sends 2 announcements 2 s apart, RFC 4861
// up to 3 unsolicited NAs; more only adds load on a busy segment and fewer
// than 100 ms apart defeats the point of repeating past a brief outage.
const (
	MinCount    = 0
	MaxCount    = 3
	MinInterval = 100 * time.Millisecond
	MaxInterval = 2000 * time.Millisecond

	// DefaultCount and DefaultInterval are libnetwork's defaults: three
	// rounds a second apart outlast a bridge port that is slow to forward.
	DefaultCount    = 3
	DefaultInterval = time.Second

	// MaxRoundFrames bounds what one round sends, whatever the targets: a
	// pod has a handful of addresses and gateways, and a result listing
	// hundreds must not turn one ADD into a flood on the segment.
	MaxRoundFrames = 64
)

// ValidateSchedule checks an announcement count (0 turns announcements off)
// and the interval between rounds.
func ValidateSchedule(count int, interval time.Duration) error {
	if count < MinCount || count > MaxCount {
		return fmt.Errorf("announcement count %d is outside %d-%d", count, MinCount, MaxCount)
	}
	if interval < MinInterval || interval > MaxInterval {
		return fmt.Errorf("announcement interval %v is outside %v-%v", interval, MinInterval, MaxInterval)
	}
	return nil
}

// A Transport sends announcements on one interface and reads its MAC.
// *Sender is the real one; tests pass fakes.
type Transport interface {
	SendARPAnnouncement(mac net.HardwareAddr, addr netip.Addr) error
	SendARPRequest(mac net.HardwareAddr, src, target netip.Addr) error
	SendUnsolicitedNA(mac net.HardwareAddr, addr netip.Addr) error
	SendNeighborSolicitation(mac net.HardwareAddr, src, target netip.Addr) error
	LinkMAC() (net.HardwareAddr, error)
}

// netNSer is implemented by transports that can tell which network namespace
// their sockets belong to (*Sender, with SIOCGSKNS).
type netNSer interface {
	NetNS() (NetNSID, error)
}

// A NetNSID identifies a network namespace: the device and inode of its
// nsfs file. Two paths refer to the same namespace when their IDs match.
type NetNSID struct {
	Dev, Ino uint64
}

// NetNSIDOf returns the ID of the network namespace file at path
// (/var/run/netns/x, /proc/PID/ns/net).
func NetNSIDOf(path string) (NetNSID, error) { return statNetNS(path) }

// Targets are the addresses an Announcer announces and the gateways it
// solicits.
type Targets struct {
	// IPv4 and IPv6 are our addresses on the interface. IPv6 link-local
	// addresses are not announced: they are derived from the MAC, so a new
	// MAC means a new address, never a stale entry.
	IPv4, IPv6 []netip.Addr

	// GatewaysV4 and GatewaysV6 get a directed ARP request / Neighbor
	// Solicitation from each of our addresses of the same family, for
	// stacks that ignore gratuitous announcements.
	GatewaysV4, GatewaysV6 []netip.Addr
}

// An Announcer sends announcement rounds for one interface.
type Announcer struct {
	Sender Transport

	// MAC is the MAC announced. Run stops, without sending, once the
	// interface's MAC differs.
	MAC net.HardwareAddr

	Targets Targets

	// NoMcastRoute says the caller found no ff02::1 route: an NA or a
	// gateway NS (both go to a multicast group) failing with ErrNoMcastRoute
	// is then expected and reported as skipped. A macvlan whose parent is
	// down has no such route, for one.
	NoMcastRoute bool

	// NetNSPath, if set, makes Run stop once the path no longer refers to
	// the interface's network namespace (our sockets would keep a deleted
	// namespace, and its links, alive).
	NetNSPath string

	// NetNS is the namespace NetNSPath must keep referring to. When zero,
	// Run asks the Sender (SIOCGSKNS) or else records NetNSPath's at start.
	NetNS NetNSID

	// RepeatGateways makes Run's rounds include the directed gateway
	// requests; otherwise only the first, caller-sent round has them.
	RepeatGateways bool

	// Addrs, if set, reads the interface's addresses now. Run calls it
	// before each round and drops the targets no longer there: an address
	// removed after ADD (moved to another pod, say) must not be announced
	// with our MAC. With none left it stops (ErrAddrsGone).
	Addrs func() ([]netip.Addr, error)

	// MaxFrames bounds the frames of one round (0: MaxRoundFrames). The
	// address announcements go first; what is over is counted in
	// RoundReport.Cut, not sent.
	MaxFrames int

	Logger *slog.Logger
}

// A RoundReport says what one round sent.
type RoundReport struct {
	ARP        []netip.Addr // addresses announced by ARP
	NA         []netip.Addr // addresses announced by NA
	GatewayARP []netip.Addr // gateways sent an ARP request
	GatewayNS  []netip.Addr // gateways sent a Neighbor Solicitation
	SkippedNA  []netip.Addr // NAs not sent: no multicast route, as expected
	SkippedNS  []netip.Addr // gateways not sent an NS, for the same reason
	Failed     int          // sends that failed (see the returned error)
	Cut        int          // frames not sent: over Announcer.MaxFrames
}

// Sent is the number of messages sent.
func (r RoundReport) Sent() int {
	return len(r.ARP) + len(r.NA) + len(r.GatewayARP) + len(r.GatewayNS)
}

// LogValue implements slog.LogValuer.
func (r RoundReport) LogValue() slog.Value {
	attrs := []slog.Attr{slog.Int("sent", r.Sent())}
	for _, f := range []struct {
		key   string
		addrs []netip.Addr
	}{{"arp", r.ARP}, {"na", r.NA}, {"gatewayARP", r.GatewayARP}, {"gatewayNS", r.GatewayNS}, {"skippedNA", r.SkippedNA}, {"skippedNS", r.SkippedNS}} {
		if len(f.addrs) > 0 {
			attrs = append(attrs, slog.Any(f.key, f.addrs))
		}
	}
	if r.Failed > 0 {
		attrs = append(attrs, slog.Int("failed", r.Failed))
	}
	if r.Cut > 0 {
		attrs = append(attrs, slog.Int("cut", r.Cut))
	}
	return slog.GroupValue(attrs...)
}

// Round sends one ARP announcement per IPv4 address and one NA per
// non-link-local IPv6 address and, if gateways is set, one ARP request / NS
// to each gateway from each of our addresses of its family. A failed send
// does not stop the others; the error joins all failures. It stops early
// only when ctx is done or the link is gone (ErrLinkGone).
func (a *Announcer) Round(ctx context.Context, gateways bool) (RoundReport, error) {
	if a.Sender == nil {
		return RoundReport{}, errors.New("l2disco: announcer has no sender")
	}
	if err := checkMAC(a.MAC); err != nil {
		return RoundReport{}, fmt.Errorf("l2disco: announcer: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return RoundReport{}, err
	}
	r := &round{ctx: ctx, a: a, budget: a.maxFrames()}
	v6 := announcedIPv6(a.Targets.IPv6)
	for _, addr := range a.Targets.IPv4 {
		r.try(&r.rep.ARP, addr, func() error { return a.Sender.SendARPAnnouncement(a.MAC, addr) })
	}
	for _, addr := range v6 {
		r.try(&r.rep.NA, addr, func() error { return a.Sender.SendUnsolicitedNA(a.MAC, addr) })
	}
	if gateways {
		for _, gw := range a.Targets.GatewaysV4 {
			for _, src := range a.Targets.IPv4 {
				r.try(&r.rep.GatewayARP, gw, func() error { return a.Sender.SendARPRequest(a.MAC, src, gw) })
			}
		}
		for _, gw := range a.Targets.GatewaysV6 {
			for _, src := range v6 {
				r.try(&r.rep.GatewayNS, gw, func() error { return a.Sender.SendNeighborSolicitation(a.MAC, src, gw) })
			}
		}
	}
	if err := ctx.Err(); err != nil {
		r.errs = append(r.errs, err)
	}
	return r.rep, errors.Join(r.errs...)
}

// round is one Round in progress: what it sent, its failures, and whether
// it may go on.
type round struct {
	ctx     context.Context
	a       *Announcer
	rep     RoundReport
	errs    []error
	stopped bool // the link is gone or ctx is done
	budget  int  // frames the bound still allows
}

// try sends one frame with fn while the round may go on and the bound
// allows, and records it in sent (a list of r.rep).
func (r *round) try(sent *[]netip.Addr, addr netip.Addr, fn func() error) {
	switch {
	case r.stopped:
		return
	case r.budget == 0:
		r.rep.Cut++
		return
	}
	r.budget--
	err := fn()
	switch {
	case err == nil:
		*sent = append(*sent, addr)
	case errors.Is(err, ErrNoMcastRoute) && r.a.NoMcastRoute && sent == &r.rep.NA:
		r.rep.SkippedNA = append(r.rep.SkippedNA, addr)
	case errors.Is(err, ErrNoMcastRoute) && r.a.NoMcastRoute && sent == &r.rep.GatewayNS:
		r.rep.SkippedNS = append(r.rep.SkippedNS, addr)
	default:
		r.rep.Failed++
		r.errs = append(r.errs, err)
		r.stopped = errors.Is(err, ErrLinkGone)
	}
	r.stopped = r.stopped || r.ctx.Err() != nil
}

func (a *Announcer) maxFrames() int {
	if a.MaxFrames <= 0 {
		return MaxRoundFrames
	}
	return a.MaxFrames
}

func announcedIPv6(addrs []netip.Addr) []netip.Addr {
	var out []netip.Addr
	for _, a := range addrs {
		if !a.IsLinkLocalUnicast() {
			out = append(out, a)
		}
	}
	return out
}

// Run sends rounds more rounds, each interval after the previous one. Before
// each it checks that NetNSPath still refers to the namespace and that the
// interface still has MAC. It returns nil after the last round; an error
// wrapping ErrNetNSGone, ErrLinkGone or ErrMACChanged when it stopped early
// for that reason; ctx.Err() when ctx is done. Failed sends are logged and
// do not stop it.
func (a *Announcer) Run(ctx context.Context, rounds int, interval time.Duration) error {
	log := a.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if rounds <= 0 {
		return nil
	}
	if interval <= 0 {
		return fmt.Errorf("l2disco: announcer interval %v is not positive", interval)
	}
	if a.Sender == nil {
		return errors.New("l2disco: announcer has no sender")
	}
	want, err := a.namespace()
	if err != nil {
		return err
	}
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for i := 1; i <= rounds; i++ {
		if i > 1 {
			timer.Reset(interval)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		if err := a.check(want); err != nil {
			log.Info("stopped announcing", "round", i, "of", rounds, "reason", err)
			return err
		}
		if err := a.recheckAddrs(log); err != nil {
			log.Info("stopped announcing", "round", i, "of", rounds, "reason", err)
			return err
		}
		rep, err := a.Round(ctx, a.RepeatGateways)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if errors.Is(err, ErrLinkGone) {
			log.Info("stopped announcing", "round", i, "of", rounds, "reason", err)
			return err
		}
		if rep.Cut > 0 {
			log.Warn("announcement round cut at the frame bound", "round", i, "of", rounds, "cut", rep.Cut, "bound", a.maxFrames())
		}
		if err != nil {
			log.Warn("announcement round had failures", "round", i, "of", rounds, "report", rep, "error", err)
			continue
		}
		log.Debug("announcement round sent", "round", i, "of", rounds, "report", rep)
	}
	return nil
}

// ErrAddrsGone: none of the announced addresses is on the interface any more.
var ErrAddrsGone = errors.New("l2disco: no announced address is on the interface any more")

// recheckAddrs drops the targets that Addrs no longer lists. A failed read
// keeps them: the MAC and namespace checks already stand for the link.
func (a *Announcer) recheckAddrs(log *slog.Logger) error {
	if a.Addrs == nil {
		return nil
	}
	have, err := a.Addrs()
	if err != nil {
		log.Debug("addresses not re-read", "err", err)
		return nil
	}
	on := make(map[netip.Addr]bool, len(have))
	for _, h := range have {
		on[h.Unmap()] = true
	}
	var gone []netip.Addr
	keep := func(list []netip.Addr) []netip.Addr {
		var out []netip.Addr
		for _, x := range list {
			if on[x] {
				out = append(out, x)
			} else {
				gone = append(gone, x)
			}
		}
		return out
	}
	a.Targets.IPv4, a.Targets.IPv6 = keep(a.Targets.IPv4), keep(a.Targets.IPv6)
	if len(gone) > 0 {
		log.Info("addresses gone from the interface, no longer announced", "gone", gone)
	}
	if len(a.Targets.IPv4)+len(a.Targets.IPv6) == 0 {
		return ErrAddrsGone
	}
	return nil
}

// namespace returns the namespace NetNSPath must keep referring to.
func (a *Announcer) namespace() (NetNSID, error) {
	if a.NetNSPath == "" || a.NetNS != (NetNSID{}) {
		return a.NetNS, nil
	}
	if n, ok := a.Sender.(netNSer); ok {
		if id, err := n.NetNS(); err == nil {
			return id, nil
		}
	}
	id, err := statNetNS(a.NetNSPath)
	if err != nil {
		return NetNSID{}, fmt.Errorf("%w: %w", ErrNetNSGone, err)
	}
	return id, nil
}

// check says why the next round must not be sent, if it must not.
func (a *Announcer) check(want NetNSID) error {
	if a.NetNSPath != "" {
		id, err := statNetNS(a.NetNSPath)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNetNSGone, err)
		}
		if id != want {
			return fmt.Errorf("%w: %s now refers to another namespace", ErrNetNSGone, a.NetNSPath)
		}
	}
	mac, err := a.Sender.LinkMAC()
	if err != nil {
		return err
	}
	if !bytes.Equal(mac, a.MAC) {
		return fmt.Errorf("%w: announcing %s but the interface has %s", ErrMACChanged, a.MAC, mac)
	}
	return nil
}
