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

// Run probes from t0 (normally: the instant ADD returned) until every family has answered and Tail
// has passed, or Cap. Probe k of each family is sent at t0 + k*Interval.
func (p *Pinger) Run(ctx context.Context, t0 time.Time, o PingOptions) ([]Series, error) {
	type rec struct {
		sent  []time.Duration
		reply map[int]time.Duration
	}
	var mu sync.Mutex
	recs := make([]rec, len(p.fams))
	first := make([]time.Duration, len(p.fams))
	for i := range recs {
		recs[i].reply = map[int]time.Duration{}
		first[i] = -1
	}

	var wg sync.WaitGroup
	for i, f := range p.fams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1500)
			for {
				n, from, err := f.conn.ReadFrom(buf)
				if err != nil {
					return // closed or deadline: the run is over
				}
				at := time.Since(t0)
				m, err := icmp.ParseMessage(f.proto, buf[:n])
				if err != nil || m.Type != f.repTyp {
					continue
				}
				echo, ok := m.Body.(*icmp.Echo)
				if !ok || echo.ID != p.id {
					continue
				}
				if a, ok := from.(*net.IPAddr); !ok || !a.IP.Equal(f.target.AsSlice()) {
					continue
				}
				mu.Lock()
				if _, dup := recs[i].reply[echo.Seq]; !dup && echo.Seq < len(recs[i].sent) {
					recs[i].reply[echo.Seq] = at
					if first[i] < 0 {
						first[i] = at
					}
				}
				mu.Unlock()
			}
		}()
	}

	var sendErr error
	timer := time.NewTimer(0)
	defer timer.Stop()
loop:
	for seq := 0; ; seq++ {
		due := time.Duration(seq) * o.Interval
		if d := due - time.Since(t0); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				sendErr = ctx.Err()
				break loop
			case <-timer.C:
			}
		}
		mu.Lock()
		done, last := true, time.Duration(0)
		for i := range p.fams {
			if first[i] < 0 {
				done = false
			} else if first[i] > last {
				last = first[i]
			}
		}
		mu.Unlock()
		now := time.Since(t0)
		if (done && now >= last+o.Tail) || now >= o.Cap || seq > 0xffff {
			break
		}
		for i, f := range p.fams {
			msg := icmp.Message{Type: f.reqTyp, Body: &icmp.Echo{ID: p.id, Seq: seq, Data: []byte("ndpb-bench")}}
			b, err := msg.Marshal(nil) // ICMPv6: the kernel fills in the checksum on raw sockets
			if err != nil {
				return nil, err
			}
			mu.Lock()
			recs[i].sent = append(recs[i].sent, time.Since(t0))
			mu.Unlock()
			if _, err := f.conn.WriteTo(b, &net.IPAddr{IP: f.target.AsSlice()}); err != nil && !isTransient(err) {
				sendErr = fmt.Errorf("send %s echo request %d to %s: %w", f.name, seq, f.target, err)
				break loop
			}
		}
	}
	// Late replies of the last probes, then stop the readers.
	for _, f := range p.fams {
		f.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	}
	wg.Wait()

	out := make([]Series, len(p.fams))
	for i, f := range p.fams {
		s := Series{Family: f.name, Target: f.target.String(), Cap: o.Cap}
		for seq, at := range recs[i].sent {
			pr := Probe{Sent: at, Reply: -1}
			if r, ok := recs[i].reply[seq]; ok {
				pr.Reply = r
			}
			s.Probes = append(s.Probes, pr)
		}
		out[i] = s
	}
	return out, sendErr
}

// isTransient: a send the kernel refuses while the neighbour is unresolved (the entry FAILED, its
// queue full) is a lost probe, not a broken pinger.
func isTransient(err error) bool {
	return errors.Is(err, unix.EHOSTUNREACH) || errors.Is(err, unix.ENOBUFS) ||
		errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.ENETUNREACH)
}
