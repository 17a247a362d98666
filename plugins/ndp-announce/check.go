package main

import (
	"fmt"

	"github.com/containernetworking/cni/pkg/skel"

	"github.com/ndp-announce/ndp-announce/pkg/config"
	"github.com/ndp-announce/ndp-announce/pkg/iface"
	"github.com/ndp-announce/ndp-announce/pkg/sysctl"
)

// cmdCheck verifies what ADD promised: the configured sysctls still hold and every IPv6 address of the
// result is still on the interface.
func cmdCheck(args *skel.CmdArgs) error {
	plan, _, att, err := config.Load(args)
	if err != nil {
		return err
	}
	if len(plan.Sysctls) == 0 && len(att.IPv6) == 0 {
		return nil
	}
	h, err := iface.Open(iface.Target{NetNS: args.Netns, IfName: args.IfName})
	if err != nil {
		return fmt.Errorf("CHECK %s: %w", args.IfName, err)
	}
	defer h.Close()
	if err := sysctl.VerifyIn(h, args.IfName, plan.Sysctls); err != nil {
		return fmt.Errorf("CHECK %s: %w", args.IfName, err)
	}
	missing, err := h.MissingAddrs(att.IPv6)
	if err != nil {
		return fmt.Errorf("CHECK %s: %w", args.IfName, err)
	}
	if len(missing) > 0 {
		return fmt.Errorf("CHECK %s: IPv6 addresses of the result are not on the interface: %v", args.IfName, prefixStrings(missing))
	}
	return nil
}
