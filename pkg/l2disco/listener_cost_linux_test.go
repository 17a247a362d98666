package l2disco

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	nslab "github.com/ndp-announce/ndp-announce/internal/lab"
	"golang.org/x/sys/unix"
)

// BenchmarkListenerCost measures what listening costs the process that runs
// the watches (the node service) with 1,000 attachments listening at once:
// its RSS and goroutines, its CPU while the segment is quiet, and its CPU
// and the machine's while the peer floods frames none of the filters keep
// (unknown unicast, which the bridge copies to every port). Run it by hand:
//
//	go test -run '^$' -bench ListenerCost -benchtime 1x ./pkg/l2disco
//
// LISTENER_COST_N changes the number of attachments, LISTENER_COST_PPS the
// flood's frames per second.
func BenchmarkListenerCost(b *testing.B) {
	n := envInt("LISTENER_COST_N", 1000)
	pps := envInt("LISTENER_COST_PPS", 200)
	l := nslab.ForTest(b, nslab.Options{Tag: "ndpc", Peer: &nslab.Port{IfName: "eth0", MAC: labPeerMAC}})
	pods, err := l.AddContainer("pods")
	if err != nil {
		b.Fatal(err)
	}
	index := make([]int, n)
	for i := range n {
		mac := net.HardwareAddr{0x02, 0x00, 0x5e, 0x20, byte(i >> 8), byte(i)}
		if index[i], err = l.Plug(pods, nslab.Port{Name: fmt.Sprintf("v%d", i), IfName: fmt.Sprintf("p%d", i), MAC: mac}); err != nil {
			b.Fatal(err)
		}
	}
	flood := func() (self, machine time.Duration) { return floodFor(b, l.Peer.NS, l.PeerIndex, pps, 5*time.Second) }
	selfBase, machineBase := flood() // the flood's own cost: the sender is this process

	runtime.GC()
	rss0 := rssKiB(b)
	g0 := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(b.Context())
	var wg sync.WaitGroup
	for i := range n {
		w := openWatch(b, pods.Path, index[i], i)
		wg.Go(func() {
			defer w.Listener.Close()
			defer w.Sender.(*Sender).Close()
			if _, err := w.Run(ctx); err != context.Canceled {
				b.Errorf("watch %d: %v", i, err)
			}
		})
	}
	time.Sleep(time.Second) // every reader blocked in the poller
	runtime.GC()
	rss1, g1 := rssKiB(b), runtime.NumGoroutine()
	idle := cpuOver(10 * time.Second)
	self, machine := flood()
	cancel()
	wg.Wait()

	b.ReportMetric(float64(rss1-rss0)/1024, "MiB-RSS")
	b.ReportMetric(float64(g1-g0)/float64(n), "goroutines/attachment")
	b.ReportMetric(float64(idle)/float64(10*time.Millisecond), "idle-CPU-%")
	b.ReportMetric(float64(self-selfBase)/float64(5*time.Second/100), "flood-added-self-CPU-%")
	b.ReportMetric(float64(machine-machineBase)/float64(5*time.Second/100), "flood-added-softirq-CPU-%")
	b.Logf("%d attachments, 4 sockets each: RSS +%d KiB, %d goroutines; idle 10 s: %v CPU; flood %d frames/s x %d ports for 5 s: process %v CPU (%v without listeners), softirq %v (%v without listeners)",
		n, rss1-rss0, g1-g0, idle, pps, n, self, selfBase, machine, machineBase)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// openWatch opens attachment i's sender and listener, as ADD does, and a
// one-minute watch over them.
func openWatch(b *testing.B, nsPath string, ifindex, i int) *StaleWatch {
	mac := net.HardwareAddr{0x02, 0x00, 0x5e, 0x20, byte(i >> 8), byte(i)}
	v4 := netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i%240)})
	v6 := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 14: byte(i >> 8), 15: byte(i)})
	ln, err := NewListenerInNetNS(nsPath, ListenerOptions{IfIndex: ifindex, MAC: mac, Addrs: []netip.Addr{v4, v6}})
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewSenderInNetNS(nsPath, SenderOptions{IfIndex: ifindex, IPv4: true, IPv6: true})
	if err != nil {
		b.Fatal(err)
	}
	return &StaleWatch{Listener: ln, Sender: s, MAC: mac, Start: time.Now(), Window: time.Minute,
		Prefixes: []netip.Prefix{netip.PrefixFrom(v4, 24), netip.PrefixFrom(v6, 64)}}
}

// floodFor sends pps IPv4 frames a second from the peer to an unknown MAC
// and an address no attachment has, for d, and returns the CPU this
// process and the whole machine used meanwhile.
func floodFor(b *testing.B, peer ns.NetNS, ifindex, pps int, d time.Duration) (self, machine time.Duration) {
	var fd int
	err := peer.Do(func(ns.NetNS) error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	frame := staleV4Frame()
	copy(frame[ethSrcOff:], labPeerMAC)
	copy(frame[ethHeaderLen+ip4DstOff:], []byte{203, 0, 113, 254})
	sa := &unix.SockaddrLinklayer{Ifindex: ifindex, Halen: 6}
	self0, mach0 := selfCPU(), machineCPU(b)
	tick := time.NewTicker(time.Second / time.Duration(pps))
	defer tick.Stop()
	for end := time.Now().Add(d); time.Now().Before(end); <-tick.C {
		if err := unix.Sendto(fd, frame, 0, sa); err != nil {
			b.Fatal(err)
		}
	}
	return selfCPU() - self0, machineCPU(b) - mach0
}

// cpuOver is the CPU this process uses in d.
func cpuOver(d time.Duration) time.Duration {
	c0 := selfCPU()
	time.Sleep(d)
	return selfCPU() - c0
}

func selfCPU() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU is the softirq time of all CPUs from /proc/stat, where the
// bridge's copies are delivered and the filters run: less noisy on a
// shared machine than all busy time.
func machineCPU(b *testing.B) time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		b.Fatal(err)
	}
	fields := strings.Fields(strings.SplitN(string(data), "\n", 2)[0])[1:]
	softirq, _ := strconv.ParseInt(fields[6], 10, 64) // user nice system idle iowait irq softirq
	return time.Duration(softirq) * time.Second / 100 // USER_HZ
}

func rssKiB(b *testing.B) int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			v, _ := strconv.Atoi(strings.Fields(rest)[0])
			return v
		}
	}
	b.Fatal("no VmRSS")
	return 0
}
