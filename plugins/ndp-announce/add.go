package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/vishvananda/netlink"

	"github.com/ndp-announce/ndp-announce/pkg/announcer"
	"github.com/ndp-announce/ndp-announce/pkg/config"
	"github.com/ndp-announce/ndp-announce/pkg/iface"
	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
	"github.com/ndp-announce/ndp-announce/pkg/logging"
	"github.com/ndp-announce/ndp-announce/pkg/sysctl"
)

// cmdAdd follows DESIGN.md: validate everything, then run pkg/iface's steps on the container
// interface (sysctls, IPv6 housekeeping, waits, the first announcement) and hand the remaining
// rounds to the background. Waits and sends never fail ADD: the pod works without them, only the
// first seconds after an IP is recycled are worse, and the log says why.
func cmdAdd(args *skel.CmdArgs) error {
	start := time.Now()
	plan, res, att, err := config.Load(args)
	if err != nil {
		return err
	}
	log, closeLog := logging.New(plan.Conf.LogFile, plan.LogLevel,
		"cmd", "ADD", "containerID", args.ContainerID, "netns", args.Netns, "ifname", args.IfName)
	defer closeLog.Close()
	if ig := config.IgnoredKeys(args.StdinData); !ig.Empty() {
		// Not an error: runtimes add keys of their own. But a misspelt field silently keeping its
		// default is worse, so both the log and the runtime's log (stderr) name them.
		log = log.With("ignored", ig.String())
		fmt.Fprintln(os.Stderr, "ndp-announce: ADD:", ig.String())
	}

	rep, err := addAttachment(args, plan, res, att, start)
	if err != nil {
		log.Error("ADD failed", "err", err)
		return err
	}
	rep.add("ms", logging.Ms(start))
	log.Log(context.Background(), rep.level, "ADD done", rep.attrs...)
	return types.PrintResult(res, plan.Conf.CNIVersion)
}

// addReport is the one log line per ADD: what each step saw and did.
type addReport struct {
	attrs []any
	level slog.Level
}

func (r *addReport) add(kv ...any) { r.attrs = append(r.attrs, kv...) }

// addAttachment opens the container interface once and runs every step on that one handle.
func addAttachment(args *skel.CmdArgs, plan *config.Plan, res *current.Result, att *config.Attachment, start time.Time) (*addReport, error) {
	rep := &addReport{level: slog.LevelInfo}
	// Claimed first, where DEL looks: a DEL landing while this ADD runs removes the claim, and
	// then no background rounds start after it.
	claim := announcer.ClaimAttachment(plan.Conf.DataDir, attachmentKey(args, plan), args.Netns)
	defer claim.Release()
	h, err := iface.Open(iface.Target{NetNS: args.Netns, IfName: args.IfName})
	if err != nil {
		return nil, openError(args, att, err)
	}
	defer h.Close()

	cfg, err := h.Configure(iface.ConfigureOptions{
		Sysctls: plan.Sysctls, DisableUnusedIPv6: plan.DisableUnusedIPv6, Addrs: att.Addrs(),
	})
	if err != nil {
		return nil, sysctlError(plan, err)
	}
	rep.configured(cfg, len(plan.Sysctls))
	config.DropIPv6(res, att, cfg.Dropped)

	an := h.Announce(context.Background(), cfg.Addrs, iface.AnnounceOptions{
		Waits: plan.Waits, Rounds: plan.AdvertiseCount, Gateways: att.Gateways(plan.AnnounceToGateways),
		// Only with rounds left: they are what takes the listener's sockets (the service's job or
		// the detached process); with none, nothing would listen, and ADD would pay their close.
		Listen: plan.StaleListen > 0 && plan.AdvertiseCount > 1,
	})
	rep.announced(an)
	if an.Sender == nil {
		reportOnly(an, plan, start)
		return rep, nil
	}
	defer an.Sender.Close()
	if an.Listener != nil {
		defer an.Listener.Close()
		rep.add("listener", plan.StaleListen.String())
	}
	rep.add("background", startBackground(claim, backgroundJob(args, plan, h, an, cfg.Addrs), an, plan, start))
	return rep, nil
}

// configured reports the sysctls written and the IPv6 given up.
func (r *addReport) configured(cfg *iface.Configured, userSysctls int) {
	if userSysctls > 0 {
		r.add("sysctls", describeChanges(cfg.Changes[:userSysctls]))
	}
	if cfg.IPv6Disabled {
		r.add("ipv6", "disabled: no IPv6 address")
	}
	if len(cfg.Dropped) > 0 {
		r.add("droppedIPv6", prefixStrings(cfg.Dropped))
	}
}

// announced reports the waits and the first round.
func (r *addReport) announced(an *iface.Announced) {
	if an.Sender == nil && an.Round1Err == nil {
		r.add("announced", "nothing")
		return
	}
	for _, w := range an.Waits {
		r.add(waitLogKey[w.Condition], w.String())
	}
	if an.Sender == nil {
		r.add("announced", "nothing: "+an.Round1Err.Error())
		r.level = slog.LevelError
		return
	}
	r.add("round1", an.Round1)
	if an.Round1.Cut > 0 {
		r.add("round1Cut", fmt.Sprintf("%d frames over the bound of %d per round not sent", an.Round1.Cut, l2disco.MaxRoundFrames))
		r.level = slog.LevelWarn
	}
	if an.ListenErr != nil {
		r.add("listenErr", an.ListenErr.Error())
		r.level = slog.LevelWarn
	}
	if an.Round1Err != nil {
		// Not an ADD failure: the pod works, only a recycled IP may stay unreachable for a while.
		r.add("round1Err", an.Round1Err.Error())
		r.level = slog.LevelWarn
	}
}

// waitLogKey names each wait in the ADD log line.
var waitLogKey = map[string]string{
	iface.CondLinkUp:     "linkUp",
	iface.CondBridgePort: "bridgePort",
	iface.CondMcastRoute: "mcastRoute",
	iface.CondDAD:        "dad",
}

func attachmentKey(args *skel.CmdArgs, plan *config.Plan) announcer.Key {
	return announcer.Key{Network: plan.Conf.Name, ContainerID: args.ContainerID, IfName: args.IfName}
}

// backgroundJob is what the rounds after the first and the black-hole listener need; addrs are the
// interface's addresses in effect.
func backgroundJob(args *skel.CmdArgs, plan *config.Plan, h *iface.Handle, an *iface.Announced, addrs []netip.Prefix) announcer.Job {
	var listen *announcer.Listen
	if an.Listener != nil {
		listen = &announcer.Listen{Window: plan.StaleListen, Prefixes: addrs}
	}
	return announcer.Job{
		Key:          attachmentKey(args, plan),
		NetNS:        args.Netns,
		IfIndex:      h.Link().Index,
		MAC:          an.Announcer.MAC,
		Targets:      an.Targets,
		NoMcastRoute: an.Announcer.NoMcastRoute,
		Rounds:       plan.AdvertiseCount - 1,
		Interval:     plan.AdvertiseInterval,
		Listen:       listen,
	}
}

// openError: the interface prevResult names is not in the netns — the chain or the result is
// wrong (code 7, naming the entry), not an I/O failure.
func openError(args *skel.CmdArgs, att *config.Attachment, err error) error {
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return config.Error(fmt.Sprintf("prevResult.interfaces[%d]", att.Index),
			"interface %q is not in netns %s: chain ndp-announce after the plugin that creates it", args.IfName, args.Netns)
	}
	return fmt.Errorf("interface %s of the result: %w", args.IfName, err)
}

// sysctlError: a knob that does not exist or a value the kernel refuses is the user's config (code 7,
// naming the entry as they wrote it); anything else is an I/O failure.
func sysctlError(plan *config.Plan, err error) error {
	if !errors.Is(err, sysctl.ErrInvalid) {
		return fmt.Errorf("apply sysctls: %w", err)
	}
	field := "sysctls"
	var ee *sysctl.EntryError
	switch {
	case !errors.As(err, &ee):
	case ee.Index >= 0 && ee.Index < len(plan.SysctlFields):
		field = plan.SysctlFields[ee.Index]
	case ee.Index == len(plan.SysctlFields):
		field = "disableUnusedIPv6"
	}
	return config.Error(field, "%v", err)
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
