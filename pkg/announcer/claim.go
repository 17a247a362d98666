package announcer

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
)

// ErrDeleted: a DEL (or GC) of the attachment came while its ADD ran. The
// DEL has returned success, so the ADD must start nothing that outlives it.
var ErrDeleted = errors.New("the attachment was deleted while ADD ran")

// A Claim is an ADD under way, recorded where DEL looks: the attachment's
// state file, with no PID yet. DEL and GC remove it like any state file
// whose lock nobody holds, and Start runs the background rounds only if the
// file claimed is still there, so a DEL that lands while ADD runs wins.
type Claim struct {
	err     error
	d       *stateDir
	name    string
	f       *os.File
	started bool
}

// ClaimAttachment claims k's state file in dataDir for an ADD starting now,
// stopping the announcer of a previous ADD of k first. It always returns a
// Claim; if dataDir cannot hold state, Start returns why and Release does
// nothing.
func ClaimAttachment(dataDir string, k Key, netNS string) *Claim {
	d, err := openStateDir(dataDir, true)
	if err != nil {
		return &Claim{err: err}
	}
	c := &Claim{d: d, name: stateName(k)}
	// No PID: DEL removes the file without signalling anybody.
	if c.f, c.err = claimFile(d, c.name, Record{Key: k, NetNS: netNS, Started: time.Now().UTC()}); c.err != nil {
		d.Close()
		c.d = nil
	}
	return c
}

// claimFile stops the announcer that owns name, then creates the file anew with rec, unlocked.
func claimFile(d *stateDir, name string, rec Record) (*os.File, error) {
	if err := d.stop(name, time.Second); err != nil {
		return nil, err
	}
	f, err := d.create(name)
	if err != nil {
		return nil, err
	}
	if err := writeState(f, rec); err != nil {
		_ = d.remove(name, f)
		f.Close()
		return nil, err
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return f, nil
}

// Err says why the attachment cannot be claimed (dataDir not safe, say), nil once it is. A node
// service found through such a dataDir is not trusted with the sockets either.
func (c *Claim) Err() error { return c.err }

// Cancelled says whether a DEL or GC removed the claim (or is removing it).
// Whoever runs the background rounds instead of Start (a node service) must
// not start them once it says so.
func (c *Claim) Cancelled() bool {
	if c.err != nil {
		return false
	}
	if !tryLock(c.f) {
		return true // DEL holds it, on its way to removing it
	}
	defer unix.Flock(int(c.f.Fd()), unix.LOCK_UN)
	return !c.d.same(c.name, c.f)
}

// Start starts the detached announcer for job on the claimed state file,
// unless the claim was cancelled (ErrDeleted). The child inherits the file
// locked and keeps the lock after ADD exits; the caller still owns sender.
func (c *Claim) Start(job Job, sender *l2disco.Sender, o ProcessOptions) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if !tryLock(c.f) || !c.d.same(c.name, c.f) {
		return 0, ErrDeleted
	}
	pid, err := spawn(processSpec{Job: job, DataDir: o.DataDir, LogFile: o.LogFile, LogLevel: o.LogLevel}, c.f, sender, o.Listener)
	if err != nil {
		_ = c.d.remove(c.name, c.f)
		return 0, err
	}
	c.started = true
	// Its next round is a second away: let pods being created now have the CPU first.
	_ = unix.Setpriority(unix.PRIO_PROCESS, pid, announcerNice)
	pidns, _ := pidNamespace()
	if err := writeState(c.f, Record{
		Key: job.Key, NetNS: job.NetNS, PID: pid, PIDNS: pidns, Started: time.Now().UTC(),
	}); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		_ = c.d.remove(c.name, c.f)
		return 0, fmt.Errorf("record announcer %d: %w", pid, err)
	}
	return pid, nil
}

// Release ends ADD's part: without a started announcer the claimed file goes
// (unless a DEL is removing it already).
func (c *Claim) Release() {
	if c.err != nil {
		return
	}
	if !c.started && tryLock(c.f) {
		_ = c.d.remove(c.name, c.f)
	}
	c.f.Close()
	c.d.Close()
}
