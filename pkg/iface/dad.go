package iface

import (
	"net/netip"
	"strings"
)

// IPv6 address flags (linux/if_addr.h IFA_F_*).
const (
	ifaFOptimistic = 0x04 // optimistic DAD (RFC 4429): usable while tentative
	ifaFDADFailed  = 0x08
	ifaFTentative  = 0x40
)

// addrFlags is one address seen on an interface with its IFA_F_* flags.
type addrFlags struct {
	Addr  netip.Addr
	Flags uint32
}

// dadStep judges one reading of an interface's addresses for the DAD wait:
// done when none of want is still tentative. IPv4 addresses in want are
// ignored (no DAD). An address that is not on the interface cannot become
// usable by waiting, so it does not hold the wait; state names it. A failed
// DAD ends the wait: failed lists the duplicates.
func dadStep(want []netip.Addr, have []addrFlags) (done bool, state string, failed []netip.Addr) {
	flags := make(map[netip.Addr]uint32, len(have))
	for _, a := range have {
		flags[a.Addr.WithZone("")] = a.Flags
	}
	var tentative, missing []netip.Addr
	for _, a := range want {
		a = a.Unmap().WithZone("")
		if !a.Is6() {
			continue
		}
		f, ok := flags[a]
		switch {
		case !ok:
			missing = append(missing, a)
		case f&ifaFDADFailed != 0:
			failed = append(failed, a)
		case f&ifaFTentative != 0 && f&ifaFOptimistic == 0:
			tentative = append(tentative, a)
		}
	}
	var parts []string
	for _, p := range []struct {
		what  string
		addrs []netip.Addr
	}{{"dadfailed", failed}, {"tentative", tentative}, {"missing", missing}} {
		if len(p.addrs) > 0 {
			parts = append(parts, p.what+" "+joinAddrs(p.addrs))
		}
	}
	state = strings.Join(parts, "; ")
	if state == "" {
		state = "none tentative"
	}
	return len(tentative) == 0 && len(failed) == 0, state, failed
}

// missingPrefixes returns the entries of want whose address is not in have.
// Only the address is compared, not the prefix length: what the caller needs
// to know is whether the address can still be used and announced, and a
// sysctl that drops IPv6 removes the address whatever its prefix.
func missingPrefixes(want []netip.Prefix, have []netip.Addr) []netip.Prefix {
	on := make(map[netip.Addr]bool, len(have))
	for _, a := range have {
		on[a.Unmap().WithZone("")] = true
	}
	var missing []netip.Prefix
	for _, p := range want {
		if !on[p.Addr().Unmap().WithZone("")] {
			missing = append(missing, p)
		}
	}
	return missing
}

func joinAddrs(addrs []netip.Addr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}
