package l2disco

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Stale watch limits.
const (
	// DefaultStaleWindow outlasts a Linux peer's path from REACHABLE
	// (base_reachable_time 30 s, so up to 45 s) through DELAY (5 s) and
	// PROBE (3 unicast probes 1 s apart), after which it would have
	// resolved our address by broadcast anyway.
	DefaultStaleWindow = 60 * time.Second
	MaxStaleWindow     = 10 * time.Minute

	// StaleRequestInterval is the least time between two requests to one
	// peer: a peer still black-holed a second after our request (it did
	// not learn from it, or the request was lost) is asked again.
	StaleRequestInterval = time.Second

	// MaxStalePeers bounds the peers one attachment sends requests to, so
	// that a flood of frames from many sources makes a bounded number of
	// requests.
	MaxStalePeers = 64
)

// DirectedTransport sends the requests that correct a stale peer and reads
// the interface's MAC. *Sender is the real one.
type DirectedTransport interface {
	SendARPRequestTo(mac net.HardwareAddr, src, target netip.Addr, to net.HardwareAddr) error
	SendNeighborSolicitationTo(mac net.HardwareAddr, src, target netip.Addr) error
	LinkMAC() (net.HardwareAddr, error)
}

// A StaleWatch listens, for a bounded window after ADD, for frames that
// peers still send to our addresses at another MAC, and sends each such
// peer one request addressed to it: an ARP request to its MAC, or a
// Neighbor Solicitation to its address, both from the address it is
// black-holing and carrying our MAC. Stacks that ignore unsolicited ARP and
// NAs (gVisor, Windows, Linux with drop_gratuitous_arp and
// drop_unsolicited_na) still learn from a request addressed to them.
type StaleWatch struct {
	Listener *Listener
	Sender   DirectedTransport

	// MAC is ours, as announced. Run stops once the interface's differs.
	MAC net.HardwareAddr

	// Prefixes are our addresses with their prefix lengths. A frame to
	// another address is ignored, and nothing is sent to a peer outside
	// their subnets (IPv6 link-local peers are on-link and accepted).
	Prefixes []netip.Prefix

	// Start is when the attachment was added (the window and the delays
	// logged count from it); Window how long Run listens after it.
	Start  time.Time
	Window time.Duration

	// Interval and MaxPeers default to StaleRequestInterval and
	// MaxStalePeers when zero.
	Interval time.Duration
	MaxPeers int

	Logger *slog.Logger

	// OnRequest, if set, is called after each request sent (metrics).
	OnRequest func(StaleRequest)

	// NetNSPath, if set, ends Run (ErrNetNSGone) once the path no longer
	// names the namespace it named when Run began: the listener's sockets
	// would otherwise keep a deleted namespace, and its veth, alive for the
	// rest of the window. It is checked every NetNSCheckInterval.
	NetNSPath string
}

// NetNSCheckInterval is how often a StaleWatch checks its NetNSPath.
const NetNSCheckInterval = 500 * time.Millisecond

// A StaleRequest is one request sent to a stale peer.
type StaleRequest struct {
	Peer StalePeer
	// After is how long after Start it was sent.
	After time.Duration
}

// A StaleReport is what Run saw and did.
type StaleReport struct {
	Frames   int // black-holed frames received
	Peers    int // distinct peers sent a request
	Requests int // requests sent
	Failed   int // requests that failed to send
	Ignored  int // frames from peers off our subnets or beyond MaxPeers
}

// LogValue implements slog.LogValuer.
func (r StaleReport) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("frames", r.Frames), slog.Int("peers", r.Peers),
		slog.Int("requests", r.Requests), slog.Int("failed", r.Failed), slog.Int("ignored", r.Ignored))
}

// Run listens until Start+Window, ctx ends or the link goes down or away,
// and returns what it saw. It returns nil at the window's end, ctx.Err()
// when ctx ended, an error wrapping ErrLinkGone, unix.ENETDOWN (the link
// went down) or ErrMACChanged when it stopped for that reason. Every goroutine it starts has ended when it returns; it
// does not close the Listener.
func (w *StaleWatch) Run(ctx context.Context) (StaleReport, error) {
	var rep StaleReport
	if w.Listener == nil || w.Sender == nil {
		return rep, errors.New("l2disco: stale watch needs a listener and a sender")
	}
	if err := checkMAC(w.MAC); err != nil {
		return rep, fmt.Errorf("l2disco: stale watch: %w", err)
	}
	end := w.Start.Add(w.Window)
	if !time.Now().Before(end) {
		return rep, nil
	}
	var want NetNSID
	if w.NetNSPath != "" {
		id, err := statNetNS(w.NetNSPath)
		if err != nil {
			return rep, fmt.Errorf("%w: %w", ErrNetNSGone, err)
		}
		want = id
	}
	peers := newStaleTable(w.Prefixes, w.Interval, w.MaxPeers)
	r := w.read(ctx, end)
	defer r.stop()
	if w.NetNSPath != "" {
		defer w.watchNetNS(r, want)()
	}
	var runErr error
	for p := range r.frames {
		rep.Frames++
		if runErr != nil {
			continue // draining until the readers are gone
		}
		switch peers.decide(p, time.Now()) {
		case decisionIgnore:
			rep.Ignored++
			continue
		case decisionWait:
			continue
		}
		if runErr = w.request(p, &rep, peers); runErr != nil {
			r.stop()
		}
	}
	if runErr != nil {
		return rep, runErr
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	// The frames are closed after every reader returned: r.err is final.
	return rep, r.err
}

// request sends p its directed request after checking that our MAC is
// still the one to teach.
func (w *StaleWatch) request(p StalePeer, rep *StaleReport, peers *staleTable) error {
	mac, err := w.Sender.LinkMAC()
	if err != nil {
		return err
	}
	if !bytes.Equal(mac, w.MAC) {
		return fmt.Errorf("%w: teaching %s but the interface has %s", ErrMACChanged, w.MAC, mac)
	}
	if p.Family() == FamilyIPv4 {
		err = w.Sender.SendARPRequestTo(w.MAC, p.OurIP, p.PeerIP, p.PeerMAC)
	} else {
		err = w.Sender.SendNeighborSolicitationTo(w.MAC, p.OurIP, p.PeerIP)
	}
	log := w.logger()
	if err != nil {
		rep.Failed++
		log.Warn("request to stale peer failed", "peer", p.PeerIP, "peerMAC", p.PeerMAC.String(), "error", err)
		if errors.Is(err, ErrLinkGone) {
			return err
		}
		return nil
	}
	rep.Requests++
	if peers.first(p) {
		rep.Peers++
	}
	after := time.Since(w.Start)
	log.Info("stale peer corrected", "peer", p.PeerIP, "peerMAC", p.PeerMAC.String(), "address", p.OurIP,
		"staleMAC", p.StaleMAC.String(), "family", p.Family(), "afterADDMs", after.Milliseconds())
	if w.OnRequest != nil {
		w.OnRequest(StaleRequest{Peer: p, After: after})
	}
	return nil
}

// watchNetNS stops the readers with ErrNetNSGone once NetNSPath stops
// naming want. The returned func ends the check.
func (w *StaleWatch) watchNetNS(r *readers, want NetNSID) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(NetNSCheckInterval)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			id, err := statNetNS(w.NetNSPath)
			if err == nil && id == want {
				continue
			}
			if err == nil {
				err = fmt.Errorf("%s now names another namespace", w.NetNSPath)
			}
			r.mu.Lock()
			r.err = errors.Join(r.err, fmt.Errorf("%w: %w", ErrNetNSGone, err))
			r.mu.Unlock()
			r.stop()
			return
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

func (w *StaleWatch) logger() *slog.Logger {
	if w.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return w.Logger
}

// readers are the goroutines reading a Listener's sockets.
type readers struct {
	// frames is closed once every reader has returned.
	frames chan StalePeer
	// stop makes the readers return now.
	stop func()
	mu   sync.Mutex
	err  error // read failures other than the deadline
}

// read starts a reader per socket that parses frames until end; cancelling
// ctx stops them too.
func (w *StaleWatch) read(ctx context.Context, end time.Time) *readers {
	r := &readers{frames: make(chan StalePeer, 8)}
	done := make(chan struct{})
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			close(done)
			w.Listener.setReadDeadline(time.Now())
		})
	}
	w.Listener.setReadDeadline(end)
	stopCtx := context.AfterFunc(ctx, r.stop)
	files := w.Listener.files()
	// The last reader to return closes frames: no goroutine waits for them.
	var left atomic.Int32
	left.Store(int32(len(files)))
	for _, f := range files {
		go func() {
			if err := w.readSocket(f, r.frames, done); err != nil {
				r.mu.Lock()
				r.err = errors.Join(r.err, err)
				r.mu.Unlock()
			}
			if left.Add(-1) == 0 {
				stopCtx()
				close(r.frames)
			}
		}()
	}
	return r
}

// readSocket parses f's frames onto out until its deadline passes or done
// is closed; only a read failure other than the deadline is an error.
func (w *StaleWatch) readSocket(f *os.File, out chan<- StalePeer, done <-chan struct{}) error {
	buf := make([]byte, StaleSnapLen)
	for {
		n, err := w.Listener.readFrame(f, buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil
		}
		if errors.Is(err, unix.ENETDOWN) {
			// Reported once, when the link goes down or is deleted (down
			// first): either way the watch ends, and says which when it
			// can tell.
			if _, lerr := w.Sender.LinkMAC(); lerr != nil {
				return fmt.Errorf("%w (%w)", lerr, err)
			}
			return fmt.Errorf("link went down: %w", err)
		}
		if err != nil {
			return err
		}
		p, err := ParseStaleFrame(buf[:n], w.MAC)
		if err != nil {
			continue
		}
		select {
		case out <- p:
		case <-done:
			return nil
		}
	}
}
