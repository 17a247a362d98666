package sysctl

import (
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseResolve holds the property the plugin's safety rests on: an
// entry and interface name that are accepted always name one file directly
// inside /proc/sys/net/<family>/<table>/<ifname>/, whatever the user wrote.
func FuzzParseResolve(f *testing.F) {
	seeds := []struct{ entry, ifname string }{
		{"net.ipv6.conf.IFNAME.disable_ipv6=1", "eth0"},
		{"net.ipv4.conf.ifname.arp_notify=1", "eth0.100"},
		{"net.ipv4.neigh.IFNAME.gc_stale_time = 60 ", "vt0.100"},
		{"net.mpls.conf.IFNAME.input=1", "xxxxxxxxxxxxxxx"},
		{"net.ipv6.conf.IFNAME.stable_secret=2001:db8::1", "..."},
		{"net.ipv6.conf.IFNAME.x=1\t2  3", "a"},
		{"net.ipv6.conf.IFNAME.disable_ipv6=1", ".."},
		{"net.ipv6.conf.IFNAME.disable_ipv6=1", "../../../etc"},
		{"net.ipv6.conf.IFNAME.disable_ipv6=1", "eth0/.."},
		{"net.ipv6.conf.IFNAME.disable_ipv6=1", ""},
		{"net.ipv6.conf.IFNAME.disable_ipv6=1", "."},
		{"net.ipv6.conf.IFNAME.disable_ipv6=1", "xxxxxxxxxxxxxxxx"},
		{"net.ipv6.conf.IFNAME.../x=1", "eth0"},
		{"net.ipv6.conf.../../..=1", "eth0"},
		{"net.ipv6.conf.eth0.disable_ipv6=1", "eth0"},
		{"net.ipv6.conf.IFNAME.disable_ipv6=1\nnet.ipv4.ip_forward=1", "eth0"},
		{"net.ipv6.conf.IFNAME.disable_ipv6=\x00", "eth0"},
		{"net.ipv4.ip_forward=1", "eth0"},
		{"=", "eth0"},
	}
	for _, s := range seeds {
		f.Add(s.entry, s.ifname)
	}
	f.Fuzz(func(t *testing.T, s, ifname string) {
		e, err := Parse(s)
		if err != nil {
			return
		}
		if !families[e.Family] || !tables[e.Table] {
			t.Fatalf("Parse(%q) accepted family %q table %q", s, e.Family, e.Table)
		}
		if e.Key != "net."+e.Family+"."+e.Table+".IFNAME."+e.Name {
			t.Fatalf("Parse(%q) key %q is not in IFNAME form", s, e.Key)
		}
		if e.Value == "" || len(e.Value) > MaxValueLen || strings.ContainsAny(e.Value, "\n\r\x00") || strings.Trim(e.Value, " \t") != e.Value {
			t.Fatalf("Parse(%q) accepted value %q", s, e.Value)
		}
		// The normalised form parses back to the same entry.
		again, err := Parse(e.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %+v, but its String %q does not parse: %v", s, e, e.String(), err)
		}
		again.Raw = e.Raw
		if again != e {
			t.Fatalf("Parse(%q) = %+v, round trip gives %+v", s, e, again)
		}

		p, err := e.Path(ifname)
		if err != nil {
			if CheckIfName(ifname) == nil {
				t.Fatalf("Path(%q) of %q failed for an accepted interface name: %v", ifname, s, err)
			}
			return
		}
		dir := filepath.Join(DefaultRoot, e.Family, e.Table) + "/"
		if filepath.Clean(p) != p || !strings.HasPrefix(p, dir) {
			t.Fatalf("Parse(%q).Path(%q) = %q escapes %s", s, ifname, p, dir)
		}
		// Exactly two components below the table: the interface, then the knob.
		if rest := strings.TrimPrefix(p, dir); rest != ifname+"/"+e.Name || filepath.Dir(p) != filepath.Join(dir, ifname) || filepath.Base(p) != e.Name {
			t.Fatalf("Parse(%q).Path(%q) = %q is not %s<ifname>/<name>", s, ifname, p, dir)
		}
	})
}
