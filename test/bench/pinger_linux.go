package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Pinger sends an echo request to an IPv4 and an IPv6 address at a fixed rate from the peer netns,
// both families at once, and records when each reply came. Its sockets are opened inside the peer
// netns before the measurement, so probing starts the instant ADD returns (no process to start).
type Pinger struct {
	id   int
	fams []*pingFamily
}

type pingFamily struct {
	name   string // "IPv4", "IPv6"
	target netip.Addr
	conn   net.PacketConn
	proto  int
	reqTyp icmp.Type
	repTyp icmp.Type
}

// PingOptions say how long to probe.
type PingOptions struct {
	Interval time.Duration // between probes
	Cap      time.Duration // give up this long after the start when a family never answers
	Tail     time.Duration // keep probing this long after the last family's first reply
}

// OpenPinger opens raw ICMP sockets in the netns at nsPath. A socket belongs to the netns it was
// created in, so they are made in a short closure on a locked thread and used from anywhere.
func OpenPinger(nsPath string, v4, v6 netip.Addr) (*Pinger, error) {
	p := &Pinger{id: os.Getpid()&0x7fff | 0x4000}
	var c4, c6 net.PacketConn
	err := ns.WithNetNSPath(nsPath, func(ns.NetNS) error {
		var err error
		if c4, err = net.ListenPacket("ip4:icmp", "0.0.0.0"); err != nil {
			return err
		}
		c6, err = net.ListenPacket("ip6:ipv6-icmp", "::")
		return err
	})
	if err != nil {
		if c4 != nil {
			c4.Close()
		}
		return nil, fmt.Errorf("open ICMP sockets in %s: %w", nsPath, err)
	}
	p.fams = []*pingFamily{
		{name: "IPv4", target: v4, conn: c4, proto: 1, reqTyp: ipv4.ICMPTypeEcho, repTyp: ipv4.ICMPTypeEchoReply},
		{name: "IPv6", target: v6, conn: c6, proto: 58, reqTyp: ipv6.ICMPTypeEchoRequest, repTyp: ipv6.ICMPTypeEchoReply},
	}
	return p, nil
}

// Close closes the sockets.
func (p *Pinger) Close() {
	for _, f := range p.fams {
		f.conn.Close()
	}
}

// pingRun is one Run: when each probe was sent and answered, per family.
type pingRun struct {
	p  *Pinger
	t0 time.Time
	mu sync.Mutex
	// sent[i][seq] is when probe seq of family i left; reply[i][seq] when its first reply came.
	sent  [][]time.Duration
	reply []map[int]time.Duration
	first []time.Duration // family i's first reply, -1 before it
}

// Run probes from t0 (normally: the instant ADD returned) until every family has answered and Tail
// has passed, or Cap. Probe k of each family is sent at t0 + k*Interval.
func (p *Pinger) Run(ctx context.Context, t0 time.Time, o PingOptions) ([]Series, error) {
	r := &pingRun{p: p, t0: t0, sent: make([][]time.Duration, len(p.fams)),
		reply: make([]map[int]time.Duration, len(p.fams)), first: make([]time.Duration, len(p.fams))}
	for i := range p.fams {
		r.reply[i] = map[int]time.Duration{}
		r.first[i] = -1
	}
	var wg sync.WaitGroup
	for i := range p.fams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.readReplies(i)
		}()
	}
	sendErr := r.sendProbes(ctx, o)
	// Late replies of the last probes, then stop the readers.
	for _, f := range p.fams {
		f.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	}
	wg.Wait()
	return r.series(o), sendErr
}

// readReplies records family i's echo replies to this pinger until its socket is closed or times out.
func (r *pingRun) readReplies(i int) {
	f := r.p.fams[i]
	buf := make([]byte, 1500)
	for {
		n, from, err := f.conn.ReadFrom(buf)
		if err != nil {
			return // closed or deadline: the run is over
		}
		at := time.Since(r.t0)
		m, err := icmp.ParseMessage(f.proto, buf[:n])
		if err != nil || m.Type != f.repTyp {
			continue
		}
		echo, ok := m.Body.(*icmp.Echo)
		if !ok || echo.ID != r.p.id {
			continue
		}
		if a, ok := from.(*net.IPAddr); !ok || !a.IP.Equal(f.target.AsSlice()) {
			continue
		}
		r.mu.Lock()
		if _, dup := r.reply[i][echo.Seq]; !dup && echo.Seq < len(r.sent[i]) {
			r.reply[i][echo.Seq] = at
			if r.first[i] < 0 {
				r.first[i] = at
			}
		}
		r.mu.Unlock()
	}
}

// sendProbes sends probe seq of every family at t0 + seq*Interval until finished.
func (r *pingRun) sendProbes(ctx context.Context, o PingOptions) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for seq := 0; ; seq++ {
		due := time.Duration(seq) * o.Interval
		if d := due - time.Since(r.t0); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
			}
		}
		if r.finished(o) || seq > 0xffff {
			return nil
		}
		for i, f := range r.p.fams {
			msg := icmp.Message{Type: f.reqTyp, Body: &icmp.Echo{ID: r.p.id, Seq: seq, Data: []byte("ndpb-bench")}}
			b, err := msg.Marshal(nil) // ICMPv6: the kernel fills in the checksum on raw sockets
			if err != nil {
				return err
			}
			r.mu.Lock()
			r.sent[i] = append(r.sent[i], time.Since(r.t0))
			r.mu.Unlock()
			if _, err := f.conn.WriteTo(b, &net.IPAddr{IP: f.target.AsSlice()}); err != nil && !isTransient(err) {
				return fmt.Errorf("send %s echo request %d to %s: %w", f.name, seq, f.target, err)
			}
		}
	}
}

// finished: every family answered and Tail has passed since the last of them, or Cap.
func (r *pingRun) finished(o PingOptions) bool {
	r.mu.Lock()
	done, last := true, time.Duration(0)
	for _, first := range r.first {
		if first < 0 {
			done = false
		} else if first > last {
			last = first
		}
	}
	r.mu.Unlock()
	now := time.Since(r.t0)
	return (done && now >= last+o.Tail) || now >= o.Cap
}

func (r *pingRun) series(o PingOptions) []Series {
	out := make([]Series, len(r.p.fams))
	for i, f := range r.p.fams {
		s := Series{Family: f.name, Target: f.target.String(), Cap: o.Cap}
		for seq, at := range r.sent[i] {
			pr := Probe{Sent: at, Reply: -1}
			if rep, ok := r.reply[i][seq]; ok {
				pr.Reply = rep
			}
			s.Probes = append(s.Probes, pr)
		}
		out[i] = s
	}
	return out
}

// isTransient: a send the kernel refuses while the neighbour is unresolved (the entry FAILED, its
// queue full) is a lost probe, not a broken pinger.
func isTransient(err error) bool {
	return errors.Is(err, unix.EHOSTUNREACH) || errors.Is(err, unix.ENOBUFS) ||
		errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ENETUNREACH)
}
