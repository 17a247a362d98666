package sysctl

import (
	"regexp"
	"strings"
)

// Allowlist says which sysctl keys may come from a less trusted source
// (per-attachment args). The zero value and nil allow nothing.
type Allowlist struct {
	patterns []*regexp.Regexp
}

// NewAllowlist compiles patterns, each anchored at both ends: a pattern
// must describe the whole key, never a substring of it. Patterns are
// matched against keys in IFNAME form ("net.ipv6.conf.IFNAME.disable_ipv6").
func NewAllowlist(patterns []string) (*Allowlist, error) {
	a := &Allowlist{patterns: make([]*regexp.Regexp, 0, len(patterns))}
	for i, p := range patterns {
		// Compile the pattern on its own first: one with an unbalanced
		// ")" such as `x)|(.*` would otherwise escape the anchoring group
		// and match anything.
		if _, err := regexp.Compile(p); err != nil {
			return nil, invalid(err, "allowed sysctl pattern %d %s: %v", i, quote(p), err)
		}
		re, err := regexp.Compile("^(?:" + p + ")$")
		if err != nil {
			return nil, invalid(err, "allowed sysctl pattern %d %s: %v", i, quote(p), err)
		}
		a.patterns = append(a.patterns, re)
	}
	return a, nil
}

// Allows reports whether key, in Entry.Key form, matches a pattern. A key
// written with lower-case "ifname" is normalised to IFNAME first so both
// spellings are treated alike.
func (a *Allowlist) Allows(key string) bool {
	if a == nil {
		return false
	}
	key = normaliseKey(key)
	for _, re := range a.patterns {
		if re.MatchString(key) {
			return true
		}
	}
	return false
}

func normaliseKey(key string) string {
	parts := strings.Split(key, ".")
	if len(parts) == 5 && parts[3] == "ifname" {
		parts[3] = placeholder
		return strings.Join(parts, ".")
	}
	return key
}
