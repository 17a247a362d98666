package sysctl

import (
	"errors"
	"strings"
	"testing"
)

func TestAllowlist(t *testing.T) {
	a, err := NewAllowlist([]string{
		`net\.ipv6\.conf\.IFNAME\.disable_ipv6`,
		`^net\.ipv4\.neigh\.IFNAME\.[a-z_]+$`, // anchors written by the user are harmless
		`net\.ipv4\.conf\.IFNAME\.arp_(notify|accept)`,
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key  string
		want bool
	}{
		{"net.ipv6.conf.IFNAME.disable_ipv6", true},
		{"net.ipv6.conf.ifname.disable_ipv6", true}, // lower-case form normalised
		{"net.ipv4.neigh.IFNAME.gc_stale_time", true},
		{"net.ipv4.conf.IFNAME.arp_notify", true},
		{"net.ipv4.conf.IFNAME.arp_accept", true},
		// Anchoring: a pattern must cover the whole key.
		{"net.ipv6.conf.IFNAME.disable_ipv6x", false},
		{"xnet.ipv6.conf.IFNAME.disable_ipv6", false},
		{"net.ipv4.conf.IFNAME.arp_notifyx", false},
		{"net.ipv4.conf.IFNAME.arp_ignore", false},
		{"net.ipv6.conf.IFNAME.accept_ra", false},
		// The literal interface form is not the key form.
		{"net.ipv6.conf.eth0.disable_ipv6", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := a.Allows(tt.key); got != tt.want {
			t.Errorf("Allows(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
	// Keys from Parse are the form Allows expects.
	e, _ := Parse("net.ipv6.conf.ifname.disable_ipv6=1")
	if !a.Allows(e.Key) {
		t.Errorf("Allows(%q) from Parse = false", e.Key)
	}
}

func TestAllowlistEmptyAllowsNothing(t *testing.T) {
	var nilList *Allowlist
	empty, err := NewAllowlist(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range map[string]*Allowlist{"nil": nilList, "empty": empty, "zero": {}} {
		if a.Allows("net.ipv6.conf.IFNAME.disable_ipv6") {
			t.Errorf("%s allowlist allowed a key", name)
		}
	}
}

func TestAllowlistErrors(t *testing.T) {
	tests := []struct {
		patterns []string
		index    string
	}{
		{[]string{`net\.ipv6.*`, `net\.(ipv4`}, "pattern 1"},
		// Balanced once wrapped in ^(?:...)$ but not on its own: accepting
		// it would leave the second alternative unanchored.
		{[]string{`x)|(.*`}, "pattern 0"},
		{[]string{`net\.ipv4\.conf\.IFNAME\.x`, `[z-a]`}, "pattern 1"},
	}
	for _, tt := range tests {
		_, err := NewAllowlist(tt.patterns)
		if err == nil {
			t.Errorf("NewAllowlist(%q) accepted an invalid pattern", tt.patterns)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("error %v is not ErrInvalid", err)
		}
		if !strings.Contains(err.Error(), tt.index) {
			t.Errorf("error %q does not name %s", err, tt.index)
		}
	}
}
