package iface

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestDADStep(t *testing.T) {
	a1 := netip.MustParseAddr("2001:db8::1")
	a2 := netip.MustParseAddr("2001:db8::2")
	ll := netip.MustParseAddr("fe80::1")
	v4 := netip.MustParseAddr("198.51.100.7")
	tests := []struct {
		name       string
		want       []netip.Addr
		have       []addrFlags
		wantDone   bool
		wantState  string
		wantFailed []netip.Addr
	}{
		{"all done", []netip.Addr{a1, a2}, []addrFlags{{a1, 0}, {a2, 0x80}}, true, "none tentative", nil},
		{"one tentative", []netip.Addr{a1, a2}, []addrFlags{{a1, 0}, {a2, ifaFTentative}}, false, "tentative 2001:db8::2", nil},
		{"optimistic is usable", []netip.Addr{a1}, []addrFlags{{a1, ifaFTentative | ifaFOptimistic}}, true, "none tentative", nil},
		{"dad failed stops", []netip.Addr{a1, a2}, []addrFlags{{a1, ifaFTentative | ifaFDADFailed}, {a2, ifaFTentative}}, false, "dadfailed 2001:db8::1; tentative 2001:db8::2", []netip.Addr{a1}},
		{"missing does not hold the wait", []netip.Addr{a1, a2}, []addrFlags{{a1, 0}}, true, "missing 2001:db8::2", nil},
		{"zones and ipv4 ignored", []netip.Addr{ll.WithZone("eth0"), v4}, []addrFlags{{ll, ifaFTentative}}, false, "tentative fe80::1", nil},
		{"nothing to wait for", nil, nil, true, "none tentative", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done, state, failed := dadStep(tt.want, tt.have)
			if done != tt.wantDone || state != tt.wantState || !reflect.DeepEqual(failed, tt.wantFailed) {
				t.Errorf("dadStep = %v, %q, %v; want %v, %q, %v", done, state, failed, tt.wantDone, tt.wantState, tt.wantFailed)
			}
		})
	}
}

func TestMissingPrefixes(t *testing.T) {
	want := []netip.Prefix{
		netip.MustParsePrefix("198.51.100.7/24"),
		netip.MustParsePrefix("2001:db8::7/64"),
		netip.MustParsePrefix("2001:db8::8/64"),
	}
	have := []netip.Addr{
		netip.MustParseAddr("::ffff:198.51.100.7"), // v4-mapped from a 16-byte net.IP
		netip.MustParseAddr("2001:db8::8"),         // prefix length is not compared
		netip.MustParseAddr("fe80::1"),
	}
	got := missingPrefixes(want, have)
	if w := []netip.Prefix{want[1]}; !reflect.DeepEqual(got, w) {
		t.Errorf("missingPrefixes = %v, want %v", got, w)
	}
	if got := missingPrefixes(want[:1], nil); !reflect.DeepEqual(got, want[:1]) {
		t.Errorf("missingPrefixes with no addresses = %v, want %v", got, want[:1])
	}
}
