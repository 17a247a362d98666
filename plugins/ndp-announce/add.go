package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/ndp-announce/ndp-announce/pkg/iface"
	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
	"github.com/ndp-announce/ndp-announce/pkg/sysctl"
)

// cmdAdd follows DESIGN.md: validate everything, then sysctls, IPv6 housekeeping, waits, the first
// announcement, and the background rounds. Waits and sends never fail ADD: the pod works without
// them, only the first seconds after an IP is recycled are worse, and the log says why.
func cmdAdd(args *skel.CmdArgs) error {
	start := time.Now()
	plan, res, att, err := loadChained(args)
	if err != nil {
		return err
	}
	conf := plan.Conf
	log, closeLog := newLogger(conf.LogFile, plan.LogLevel,
		"cmd", "ADD", "containerID", args.ContainerID, "netns", args.Netns, "ifname", args.IfName)
	defer closeLog.Close()

	if err := addAttachment(args, plan, res, att, log, start); err != nil {
		log.Error("ADD failed", "err", err)
		return err
	}
	return types.PrintResult(res, conf.CNIVersion)
}

// addReport is the one log line per ADD: what each step saw and did.
type addReport struct {
	attrs []any
}

func (r *addReport) add(kv ...any) { r.attrs = append(r.attrs, kv...) }

func addAttachment(args *skel.CmdArgs, plan *Plan, res *current.Result, att *attachment, log *slog.Logger, start time.Time) (err error) {
	rep := &addReport{}
	t := iface.Target{NetNS: args.Netns, IfName: args.IfName}

	if len(plan.Sysctls) > 0 {
		changes, applyErr := sysctl.Apply(args.Netns, args.IfName, plan.Sysctls)
		if applyErr != nil {
			return sysctlError(plan, applyErr)
		}
		// A failed ADD leaves the interface as it found it.
		defer func() {
			if err != nil {
				if rerr := sysctl.Revert(args.Netns, changes); rerr != nil {
					log.Error("cannot restore sysctls after a failed ADD", "err", rerr)
				}
			}
		}()
		rep.add("sysctls", describeChanges(changes))
	}

	if plan.DisableUnusedIPv6 && len(att.IPv6) == 0 && !setsDisableIPv6(plan.Sysctls) {
		changed, setErr := iface.SetIPv6Disabled(t, true)
		if setErr != nil {
			return fmt.Errorf("disable IPv6 on %s (no IPv6 address in the result): %w", args.IfName, setErr)
		}
		if changed {
			defer func() {
				if err != nil {
					if _, rerr := iface.SetIPv6Disabled(t, false); rerr != nil {
						log.Error("cannot re-enable IPv6 after a failed ADD", "err", rerr)
					}
				}
			}()
		}
		rep.add("ipv6", "disabled: no IPv6 address")
	}

	missing, err := iface.MissingAddrs(t, append(append([]netip.Prefix(nil), att.IPv4...), att.IPv6...))
	if err != nil {
		return fmt.Errorf("read addresses of %s: %w", args.IfName, err)
	}
	var missing4, missing6 []netip.Prefix
	for _, m := range missing {
		if m.Addr().Is4() {
			missing4 = append(missing4, m)
		} else {
			missing6 = append(missing6, m)
		}
	}
	if len(missing6) > 0 {
		dropIPv6(res, att, missing6)
		rep.add("droppedIPv6", prefixStrings(missing6))
	}

	targets := announceTargets(att, missing4, plan.AnnounceToGateways)
	if plan.AdvertiseCount == 0 || (len(targets.IPv4) == 0 && len(targets.IPv6) == 0) {
		rep.add("announced", "nothing", "ms", msSince(start))
		log.Info("ADD done", rep.attrs...)
		return nil
	}

	noMcastRoute := waitForAnnounce(t, plan, targets, rep)
	link, err := iface.LinkInfo(t)
	if err != nil {
		rep.add("announced", "nothing: "+err.Error(), "ms", msSince(start))
		log.Error("ADD done without announcing", rep.attrs...)
		return nil
	}

	sender, err := l2disco.NewSenderInNetNS(args.Netns, l2disco.SenderOptions{
		IfIndex: link.Index, IfName: args.IfName, IPv4: len(targets.IPv4) > 0, IPv6: len(targets.IPv6) > 0,
	})
	if err != nil {
		rep.add("announced", "nothing: "+err.Error(), "ms", msSince(start))
		log.Error("ADD done without announcing", rep.attrs...)
		return nil
	}
	defer sender.Close()
	ann := &l2disco.Announcer{
		Sender:       sender,
		MAC:          link.MAC,
		Targets:      targets,
		NoMcastRoute: noMcastRoute,
		NetNSPath:    args.Netns,
		Logger:       log,
	}
	level := slog.LevelInfo
	round, err := ann.Round(context.Background(), plan.AnnounceToGateways)
	rep.add("round1", round)
	if err != nil {
		// Not an ADD failure: the pod works, only a recycled IP may stay unreachable for a while.
		rep.add("round1Err", err.Error())
		level = slog.LevelWarn
	}

	// The rest of the rounds go to a detached process. With none left it still takes the sockets: the
	// last close of a packet socket waits for an RCU grace period (6-23 ms measured), which ADD
	// would otherwise pay before returning.
	{
		pid, err := startAnnouncer(announcerSpec{
			attachmentKey: attachmentKey{Network: plan.Conf.Name, ContainerID: args.ContainerID, IfName: args.IfName},
			NetNS:         args.Netns,
			IfIndex:       link.Index,
			MAC:           link.MAC.String(),
			Targets:       targets,
			NoMcast:       noMcastRoute,
			Rounds:        plan.AdvertiseCount - 1,
			Interval:      plan.AdvertiseInterval,
			DataDir:       plan.Conf.DataDir,
			LogFile:       plan.Conf.LogFile,
			LogLevel:      plan.Conf.LogLevel,
		}, sender)
		if err != nil {
			rep.add("background", "not started: "+err.Error())
		} else {
			rep.add("background", fmt.Sprintf("pid %d: %d more rounds every %v", pid, plan.AdvertiseCount-1, plan.AdvertiseInterval))
		}
	}
	rep.add("ms", msSince(start))
	log.Log(context.Background(), level, "ADD done", rep.attrs...)
	return nil
}

// waitForAnnounce runs the waits a first announcement needs, logs what each saw, and reports
// whether the ff02::1 route was missing (then an NA's ENETUNREACH is expected, not an error).
func waitForAnnounce(t iface.Target, plan *Plan, targets l2disco.Targets, rep *addReport) (noMcastRoute bool) {
	// Our 0 means "do not wait"; pkg/iface's is "default" and a negative one skips.
	skip0 := func(d time.Duration) time.Duration {
		if d == 0 {
			return -1
		}
		return d
	}
	res, mcastOK := iface.WaitReady(context.Background(), t, iface.WaitTimeouts{
		LinkUp:     skip0(plan.LinkUpTimeout),
		BridgePort: skip0(plan.BridgePortTimeout),
		McastRoute: skip0(plan.McastRouteTimeout),
		DAD:        skip0(plan.DADTimeout),
	}, targets.IPv6)
	for _, r := range res {
		rep.add(waitLogKey[r.Condition], r.String())
	}
	return len(targets.IPv6) > 0 && !mcastOK
}

// waitLogKey names each wait in the ADD log line.
var waitLogKey = map[string]string{
	iface.CondLinkUp:     "linkUp",
	iface.CondBridgePort: "bridgePort",
	iface.CondMcastRoute: "mcastRoute",
	iface.CondDAD:        "dad",
}

// announceTargets: every IPv4 and global IPv6 address that is on the interface, and the gateways.
func announceTargets(att *attachment, missing4 []netip.Prefix, gateways bool) l2disco.Targets {
	var t l2disco.Targets
	for _, p := range att.IPv4 {
		if !containsPrefix(missing4, p) {
			t.IPv4 = append(t.IPv4, p.Addr())
		}
	}
	for _, p := range att.IPv6 {
		if !p.Addr().IsLinkLocalUnicast() {
			t.IPv6 = append(t.IPv6, p.Addr())
		}
	}
	if gateways {
		if len(t.IPv4) > 0 {
			t.GatewaysV4 = att.GwV4
		}
		if len(t.IPv6) > 0 {
			t.GatewaysV6 = att.GwV6
		}
	}
	return t
}

func containsPrefix(list []netip.Prefix, p netip.Prefix) bool {
	for _, x := range list {
		if x == p {
			return true
		}
	}
	return false
}

func setsDisableIPv6(entries []sysctl.Entry) bool {
	for _, e := range entries {
		if e.Family == "ipv6" && e.Table == "conf" && e.Name == "disable_ipv6" {
			return true
		}
	}
	return false
}

// sysctlError: a knob that does not exist or a value the kernel refuses is the user's config (code 7,
// naming the entry as they wrote it); anything else is an I/O failure.
func sysctlError(plan *Plan, err error) error {
	if !errors.Is(err, sysctl.ErrInvalid) {
		return fmt.Errorf("apply sysctls: %w", err)
	}
	field := "sysctls"
	var ee *sysctl.EntryError
	if errors.As(err, &ee) && ee.Index >= 0 && ee.Index < len(plan.SysctlFields) {
		field = plan.SysctlFields[ee.Index]
	}
	return configError(field, "%v", err)
}

func describeChanges(changes []sysctl.Change) []string {
	out := make([]string, 0, len(changes))
	for _, c := range changes {
		s := c.Entry.Key + "=" + c.Entry.Value
		if c.Written {
			s += " (was " + c.Previous + ")"
		} else {
			s += " (already)"
		}
		out = append(out, s)
	}
	return out
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func msSince(t time.Time) float64 {
	return float64(time.Since(t).Microseconds()) / 1000
}
