// Package announcer runs an attachment's announcement rounds after the one ADD
// sends itself. A Job says what to send; where it runs is the caller's
// choice: a goroutine of the node service, or, when no service takes it, a
// detached process (Start) that inherits ADD's sockets. Either way DEL and GC
// stop it (Stop, GC), and it stops by itself once the MAC changes, the link
// or network namespace is gone, or none of its addresses is left on the
// interface. ADD claims the attachment when it starts (ClaimAttachment), so
// that a DEL landing while ADD runs wins. State lives in dataDir, opened
// once and never through a symlink (see stateDir).
package announcer

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
)

// Job is the rest of one attachment's announcements, independent of how its
// sockets reach the runner.
type Job struct {
	Key   Key    `json:"key"`
	NetNS string `json:"netns"`
	// IfIndex is the interface's index in NetNS: sockets handed over are
	// re-adopted for it.
	IfIndex int              `json:"ifIndex"`
	MAC     net.HardwareAddr `json:"mac"`
	Targets l2disco.Targets  `json:"targets"`
	// NoMcastRoute: ADD found no ff02::1 route, so failing NAs are expected.
	NoMcastRoute bool `json:"noMcastRoute"`
	// Rounds still to send, Interval apart, the first Interval after ADD's.
	Rounds   int           `json:"rounds"`
	Interval time.Duration `json:"interval"`
	// Listen, if set, is the black-hole listener to run (Watch) with the
	// sockets of an l2disco.Listener opened at ADD.
	Listen *Listen `json:"listen,omitempty"`
}

// Run sends the job's rounds through t until they are done, ctx ends, or a
// check before a round stops it (MAC changed, link or netns gone, none of
// the addresses left on the interface): see l2disco.Announcer.Run for what
// it returns. Before each round it re-reads the interface's addresses
// through a netlink socket opened once in the namespace of t's sockets, and
// announces only those still there.
func (j Job) Run(ctx context.Context, t l2disco.Transport, log *slog.Logger) error {
	a := &l2disco.Announcer{
		Sender:       t,
		MAC:          j.MAC,
		Targets:      j.Targets,
		NoMcastRoute: j.NoMcastRoute,
		NetNSPath:    j.NetNS,
		Logger:       log,
	}
	if j.Rounds > 0 {
		read, closeFn, err := addrReader(j, t)
		if err != nil {
			log.Debug("addresses will not be re-checked before rounds", "err", err)
		} else {
			defer closeFn()
			a.Addrs = read
		}
	}
	return a.Run(ctx, j.Rounds, j.Interval)
}
