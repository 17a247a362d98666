package iface

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Names of the wait conditions, as they appear in WaitResult.Condition.
const (
	CondLinkUp     = "link up"
	CondBridgePort = "bridge port forwarding"
	CondMcastRoute = "ff02::1 route"
	CondDAD        = "ipv6 dad"
)

// WaitResult says how a wait ended. A wait never fails the caller by itself:
// whatever it saw is here so that one log line explains it, e.g.
// "bridge port forwarding veth1a2b state learning after 200ms: gave up".
type WaitResult struct {
	Condition string // one of the Cond* names
	// Interface is the interface the condition was checked on. For the
	// bridge port wait this is the host-side veth peer, which the caller
	// does not otherwise know.
	Interface string
	Met       bool
	Skipped   string // non-empty: did not wait, and why ("stp enabled", "not a veth", ...)
	Waited    time.Duration
	LastState string // the last state seen, e.g. "down", "learning", "no route"
	Err       error  // what made the wait give up before its deadline, if anything
}

// String renders the result as one log-ready phrase.
func (r WaitResult) String() string {
	var b strings.Builder
	b.WriteString(r.Condition)
	if r.Interface != "" {
		b.WriteString(" " + r.Interface)
	}
	switch {
	case r.Skipped != "":
		fmt.Fprintf(&b, ": skipped: %s", r.Skipped)
	case r.Met:
		fmt.Fprintf(&b, ": met after %s", roundDuration(r.Waited))
	default:
		if r.LastState != "" {
			fmt.Fprintf(&b, " state %s", r.LastState)
		}
		fmt.Fprintf(&b, " after %s: gave up", roundDuration(r.Waited))
		if r.Err != nil {
			fmt.Fprintf(&b, ": %v", r.Err)
		}
	}
	return b.String()
}

// LogValue makes a WaitResult a structured slog group.
func (r WaitResult) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("condition", r.Condition),
		slog.Bool("met", r.Met),
		slog.Duration("waited", r.Waited),
	}
	if r.Interface != "" {
		attrs = append(attrs, slog.String("interface", r.Interface))
	}
	if r.Skipped != "" {
		attrs = append(attrs, slog.String("skipped", r.Skipped))
	}
	if r.LastState != "" {
		attrs = append(attrs, slog.String("last_state", r.LastState))
	}
	if r.Err != nil {
		attrs = append(attrs, slog.String("error", r.Err.Error()))
	}
	return slog.GroupValue(attrs...)
}

// roundDuration keeps log lines short: waits are read in milliseconds, but a
// fast path of a few microseconds should not print as "0s".
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond)
	case d < 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	default:
		return d.Round(time.Millisecond)
	}
}
