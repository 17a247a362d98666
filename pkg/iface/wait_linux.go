package iface

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// linkEvents is a netlink multicast subscription in one namespace. Waits use
// it to re-check as soon as the kernel reports a change instead of sleeping;
// it is read with a receive deadline, so no goroutine is needed and nothing
// is left running when a wait returns.
type linkEvents struct {
	sock  *nl.NetlinkSocket
	index int32 // link and address messages of other interfaces are ignored
}

// subscribe joins the rtnetlink groups in the namespace. It must be called
// before the state is read, so that a change between the read and the
// subscription cannot be missed.
func subscribe(r nsRef, index int, groups ...uint) (*linkEvents, error) {
	s, err := nl.SubscribeAt(r.fd, netns.None(), unix.NETLINK_ROUTE, groups...)
	if err != nil {
		return nil, fmt.Errorf("subscribe to rtnetlink events in %s: %w", r, err)
	}
	return &linkEvents{sock: s, index: int32(index)}, nil
}

func (e *linkEvents) Close() {
	if e != nil {
		e.sock.Close()
	}
}

// next returns when a message about the interface arrives or d has passed.
// Messages lost to a receive-buffer overrun (ENOBUFS) count as an event: the
// caller re-reads the state anyway.
func (e *linkEvents) next(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left < time.Microsecond {
			return nil
		}
		tv := unix.NsecToTimeval(left.Nanoseconds())
		if err := e.sock.SetReceiveTimeout(&tv); err != nil {
			return fmt.Errorf("set netlink receive timeout: %w", err)
		}
		msgs, _, err := e.sock.Receive()
		switch {
		case errors.Is(err, unix.EAGAIN):
			return nil
		case errors.Is(err, unix.ENOBUFS):
			return nil
		case err != nil:
			return fmt.Errorf("read rtnetlink events: %w", err)
		}
		for _, m := range msgs {
			if e.relevant(m.Header.Type, m.Data) {
				return nil
			}
		}
	}
}

// relevant filters by interface index; ifinfomsg and ifaddrmsg both carry
// it at offset 4. Route messages name the interface in an attribute, so they
// always count.
func (e *linkEvents) relevant(typ uint16, data []byte) bool {
	switch typ {
	case unix.RTM_NEWLINK, unix.RTM_DELLINK, unix.RTM_NEWADDR, unix.RTM_DELADDR:
		return len(data) >= 8 && int32(binary.NativeEndian.Uint32(data[4:8])) == e.index
	}
	return true
}

// pollInterval bounds the time between two checks of a wait even when no
// event comes: events can be lost, and a cancelled context is only noticed
// between receives.
const pollInterval = 10 * time.Millisecond

// waitLoop runs check, then again after every relevant event or pollInterval,
// until it reports done, fails, or ctx ends. The last check runs at the
// deadline, so a state reached just in time still counts.
func waitLoop(ctx context.Context, ev *linkEvents, check func() (done bool, err error)) (bool, error) {
	for {
		done, err := check()
		if done || err != nil {
			return done, err
		}
		if err := ctx.Err(); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return false, nil // the normal way to give up
			}
			return false, err
		}
		d := pollInterval
		if dl, ok := ctx.Deadline(); ok {
			d = min(d, time.Until(dl))
		}
		if err := ev.next(max(d, 0)); err != nil {
			return false, err
		}
	}
}

// watch subscribes to groups in r and runs waitLoop with check, so every
// wait holds its subscription only while it waits and closes it on return.
// Callers check once first (the fast path needs no subscription); waitLoop
// then checks again before its first receive, which closes the race with a
// change between that first check and the subscription.
func watch(ctx context.Context, r nsRef, index int, check func() (done bool, err error), groups ...uint) (bool, error) {
	ev, err := subscribe(r, index, groups...)
	if err != nil {
		return false, err
	}
	defer ev.Close()
	return waitLoop(ctx, ev, check)
}

// waitState records a wait as it runs, so every return path fills the same
// WaitResult.
type waitState struct {
	res   WaitResult
	start time.Time
}

func startWait(cond, ifName string) *waitState {
	return &waitState{res: WaitResult{Condition: cond, Interface: ifName}, start: time.Now()}
}

func (w *waitState) done(met bool, err error) WaitResult {
	w.res.Met = met && err == nil
	w.res.Err = err
	w.res.Waited = time.Since(w.start)
	return w.res
}

func (w *waitState) skip(why string) WaitResult {
	w.res.Skipped = why
	w.res.Waited = time.Since(w.start)
	return w.res
}

// withHandle opens t for a single wait; a failure to open is that wait's
// result.
func withHandle(t Target, cond, ifName string, wait func(*Handle) WaitResult) WaitResult {
	c, err := Open(t)
	if err != nil {
		return startWait(cond, ifName).done(false, err)
	}
	defer c.Close()
	return wait(c)
}
