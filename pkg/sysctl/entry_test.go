package sysctl

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Entry
	}{
		{"net.ipv6.conf.IFNAME.disable_ipv6=1", Entry{Key: "net.ipv6.conf.IFNAME.disable_ipv6", Family: "ipv6", Table: "conf", Name: "disable_ipv6", Value: "1"}},
		{"net.ipv4.conf.ifname.arp_notify=1", Entry{Key: "net.ipv4.conf.IFNAME.arp_notify", Family: "ipv4", Table: "conf", Name: "arp_notify", Value: "1"}},
		{"net.ipv4.neigh.IFNAME.base_reachable_time_ms=30000", Entry{Key: "net.ipv4.neigh.IFNAME.base_reachable_time_ms", Family: "ipv4", Table: "neigh", Name: "base_reachable_time_ms", Value: "30000"}},
		{"net.mpls.conf.IFNAME.input=1", Entry{Key: "net.mpls.conf.IFNAME.input", Family: "mpls", Table: "conf", Name: "input", Value: "1"}},
		// sysctl.conf style spaces around key and value are trimmed, inner
		// whitespace of multi-value sysctls kept.
		{" net.ipv6.conf.IFNAME.accept_ra = 2 ", Entry{Key: "net.ipv6.conf.IFNAME.accept_ra", Family: "ipv6", Table: "conf", Name: "accept_ra", Value: "2"}},
		{"net.ipv6.conf.IFNAME.x=1\t2  3", Entry{Key: "net.ipv6.conf.IFNAME.x", Family: "ipv6", Table: "conf", Name: "x", Value: "1\t2  3"}},
		// Only the first "=" separates; the value may contain more.
		{"net.ipv6.conf.IFNAME.stable_secret=a=b", Entry{Key: "net.ipv6.conf.IFNAME.stable_secret", Family: "ipv6", Table: "conf", Name: "stable_secret", Value: "a=b"}},
		{"net.ipv6.conf.IFNAME.v=" + strings.Repeat("9", MaxValueLen), Entry{Key: "net.ipv6.conf.IFNAME.v", Family: "ipv6", Table: "conf", Name: "v", Value: strings.Repeat("9", MaxValueLen)}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		tt.want.Raw = tt.in
		if got != tt.want {
			t.Errorf("Parse(%q) =\n %+v\nwant\n %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		want []string // substrings of the message, besides the quoted input
	}{
		{"net.ipv4.ip_forward=1", []string{`sysctl "net.ipv4.ip_forward=1": expected net.<ipv4|ipv6|mpls>.<conf|neigh>.IFNAME.<name>=<value>`}},
		{"net.ipv6.conf.IFNAME.disable_ipv6", []string{`missing "="`, expectedShape}},
		{"", []string{`missing "="`}},
		{"=1", []string{"expected " + expectedShape}},
		{"kernel.ipv6.conf.IFNAME.x=1", []string{"expected " + expectedShape}},
		{"net/ipv6/conf/IFNAME/disable_ipv6=1", []string{"dots, not slashes"}},
		{"net.ipv6.conf.IFNAME/x.disable_ipv6=1", []string{"dots, not slashes"}},
		{"net.ipv5.conf.IFNAME.x=1", []string{`family "ipv5"`}},
		{"net.core.conf.IFNAME.x=1", []string{`family "core"`}},
		{"net.ipv4.route.IFNAME.x=1", []string{`table "route"`}},
		{"net.ipv6.conf.eth0.disable_ipv6=1", []string{`write IFNAME in place of the interface name "eth0"`, expectedShape}},
		{"net.ipv6.conf.eth0.100.disable_ipv6=1", []string{`write IFNAME in place of the interface name "eth0.100"`}},
		{"net.ipv6.conf.IfName.disable_ipv6=1", []string{`write IFNAME in place of the interface name "IfName"`}},
		{"net.ipv6.conf.IFNAME.IFNAME.disable_ipv6=1", []string{`a single <name> after IFNAME, got "IFNAME.disable_ipv6"`}},
		{"net.ipv6.conf.ifname.x.y=1", []string{`a single <name> after ifname, got "x.y"`}},
		{"net.ipv4.conf.all.forwarding=1", []string{`only per-interface sysctls`, `"all"`}},
		{"net.ipv4.conf.default.forwarding=1", []string{`only per-interface sysctls`, `"default"`}},
		{"net.ipv4.conf..arp_notify=1", []string{"interface part is empty"}},
		{"net.ipv4.conf.IFNAME.=1", []string{"name is empty"}},
		{"net.ipv4.conf.IFNAME.Arp_Notify=1", []string{`"Arp_Notify" must match [a-z0-9_]+`}},
		{"net.ipv4.conf.IFNAME.arp-notify=1", []string{"must match [a-z0-9_]+"}},
		{"net.ipv4.conf.IFNAME..=1", []string{`a single <name> after IFNAME, got "."`}},
		{"net.ipv4.conf.IFNAME." + strings.Repeat("a", 256) + "=1", []string{"at most 255"}},
		{"net.ipv4.conf.IFNAME.arp_notify=", []string{"value is empty"}},
		{"net.ipv4.conf.IFNAME.arp_notify=  \t ", []string{"value is empty"}},
		{"net.ipv4.conf.IFNAME.arp_notify=1\n", []string{"single line"}},
		{"net.ipv4.conf.IFNAME.arp_notify=1\r", []string{"single line"}},
		{"net.ipv4.conf.IFNAME.arp_notify=1\nnet.ipv4.conf.IFNAME.x=2", []string{"single line"}},
		{"net.ipv4.conf.IFNAME.arp_notify=1\x00", []string{"NUL"}},
		{"net.ipv4.conf.IFNAME.arp_notify=1\x1b[0m", []string{"control character"}},
		{"net.ipv4.conf.IFNAME.v=" + strings.Repeat("9", MaxValueLen+1), []string{"4097 bytes, at most 4096"}},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) accepted a bad entry", tt.in)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) error %v is not ErrInvalid", tt.in, err)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "sysctl "+quote(tt.in)) {
			t.Errorf("Parse(%q) error %q does not start by quoting the entry", tt.in, msg)
		}
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("Parse(%q) error %q lacks %q", tt.in, msg, w)
			}
		}
	}
}

func TestParseErrorQuoteIsBounded(t *testing.T) {
	in := "net.ipv4.conf.IFNAME.v=" + strings.Repeat("x", 1<<20)
	_, err := Parse(in)
	if err == nil {
		t.Fatal("accepted a 1 MiB value")
	}
	if len(err.Error()) > 1024 {
		t.Errorf("error message is %d bytes; a huge entry must not be copied whole into it", len(err.Error()))
	}
}

func TestParseList(t *testing.T) {
	good := []string{"net.ipv6.conf.IFNAME.disable_ipv6=1", "net.ipv4.conf.IFNAME.arp_notify=1"}
	got, err := ParseList(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "disable_ipv6" || got[1].Name != "arp_notify" {
		t.Errorf("ParseList kept neither both entries nor their order: %+v", got)
	}

	_, err = ParseList([]string{good[0], "net.ipv4.ip_forward=1", "also bad"})
	if err == nil {
		t.Fatal("ParseList accepted a bad entry")
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error %v is not ErrInvalid", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "entry 1") || !strings.Contains(msg, `"net.ipv4.ip_forward=1"`) || strings.Contains(msg, "also bad") {
		t.Errorf("error %q should name entry 1 only and quote it", msg)
	}

	if got, err := ParseList(nil); err != nil || len(got) != 0 {
		t.Errorf("ParseList(nil) = %v, %v; want empty, nil", got, err)
	}
}

func TestCheckIfName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"eth0", true},
		{"eth0.100", true},
		{"dum0.100", true},
		{"lo", true},
		{"a", true},
		{"...", true}, // odd but a valid name and a single directory
		{"veth-1a2b_c@x", true},
		{strings.Repeat("x", 15), true},
		{strings.Repeat("x", 16), false},
		{"", false},
		{".", false},
		{"..", false},
		{"eth0/..", false},
		{"../eth0", false},
		{"a/b", false},
		{"eth0:1", false},
		{"eth 0", false},
		{"eth0\t", false},
		{"eth0\n", false},
		{"eth\x000", false},
	}
	for _, tt := range tests {
		err := CheckIfName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("CheckIfName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckIfName(%q) error %v is not ErrInvalid", tt.name, err)
		}
	}
}

func TestPath(t *testing.T) {
	v6, _ := Parse("net.ipv6.conf.IFNAME.disable_ipv6=1")
	v4n, _ := Parse("net.ipv4.neigh.ifname.gc_stale_time=60")
	tests := []struct {
		e      Entry
		ifname string
		want   string // "" means an error is expected
	}{
		{v6, "eth0", "/proc/sys/net/ipv6/conf/eth0/disable_ipv6"},
		// Dots stay dots: unlike sysctl(8) keys, the path needs no "/" swap.
		{v6, "eth0.100", "/proc/sys/net/ipv6/conf/eth0.100/disable_ipv6"},
		{v4n, "dum0.100", "/proc/sys/net/ipv4/neigh/dum0.100/gc_stale_time"},
		{v6, strings.Repeat("x", 15), "/proc/sys/net/ipv6/conf/xxxxxxxxxxxxxxx/disable_ipv6"},
		{v6, strings.Repeat("x", 16), ""},
		{v6, "", ""},
		{v6, ".", ""},
		{v6, "..", ""},
		{v6, "../../ipv4", ""},
		{v6, "eth0/x", ""},
		{v6, " eth0", ""},
		// Hand-built entries get the same checks as parsed ones.
		{Entry{Family: "ipv6", Table: "conf", Name: "../../../../etc/passwd"}, "eth0", ""},
		{Entry{Family: "..", Table: "conf", Name: "x"}, "eth0", ""},
		{Entry{Family: "ipv6", Table: "", Name: "x"}, "eth0", ""},
		{Entry{}, "eth0", ""},
	}
	for _, tt := range tests {
		got, err := tt.e.Path(tt.ifname)
		if tt.want == "" {
			if err == nil {
				t.Errorf("%+v.Path(%q) = %q, want an error", tt.e, tt.ifname, got)
			} else if !errors.Is(err, ErrInvalid) {
				t.Errorf("%+v.Path(%q) error %v is not ErrInvalid", tt.e, tt.ifname, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%+v.Path(%q) = %q, %v; want %q", tt.e, tt.ifname, got, err, tt.want)
		}
	}
}
