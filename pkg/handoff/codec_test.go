package handoff

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ndp-announce/ndp-announce/pkg/announcer"
	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
)

func validAnnounce() *Request {
	return &Request{
		V:    Version,
		Kind: KindAnnounce,
		Announce: &announcer.Job{
			Key:     announcer.Key{Network: "net", ContainerID: "c1", IfName: "eth0"},
			NetNS:   "/var/run/netns/x",
			IfIndex: 2,
			MAC:     net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x00, 0x0a},
			Targets: l2disco.Targets{
				IPv4:       []netip.Addr{netip.MustParseAddr("198.51.100.10")},
				IPv6:       []netip.Addr{netip.MustParseAddr("2001:db8::a")},
				GatewaysV4: []netip.Addr{netip.MustParseAddr("198.51.100.1")},
			},
			Rounds:   2,
			Interval: time.Second,
		},
		Report: &Report{
			AddSeconds: 0.012,
			FirstRound: Frames{Sent: FrameCounts{ARP: 1, NA: 1, GatewayARP: 1}},
			Waits:      []Wait{{Condition: WaitLinkUp, Outcome: WaitMet, Seconds: 0.001}},
		},
		Files: []FileRole{FileARP, FileICMP6},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, req := range []*Request{
		validAnnounce(),
		{V: Version, Kind: KindReport, Report: &Report{AddSeconds: 1}},
		{V: Version, Kind: KindReport, Report: &Report{}, Files: []FileRole{FileARP}},
		{V: Version, Kind: KindStop, Stop: &announcer.Key{Network: "n", ContainerID: "c", IfName: "eth0"}},
		{V: Version, Kind: KindGC, GC: &GC{Network: "n", Valid: []ValidAtt{{ContainerID: "c", IfName: "eth0"}}}},
		{V: Version, Kind: KindGC, GC: &GC{Network: "n"}},
	} {
		b, err := EncodeRequest(req)
		if err != nil {
			t.Fatalf("encode %s: %v", req.Kind, err)
		}
		got, err := DecodeRequest(b)
		if err != nil {
			t.Fatalf("decode %s: %v\n%s", req.Kind, err, b)
		}
		if got.Kind != req.Kind {
			t.Errorf("kind %s, want %s", got.Kind, req.Kind)
		}
	}
	got, _ := DecodeRequest(mustEncode(t, validAnnounce()))
	if got.Announce.Targets.IPv6[0] != netip.MustParseAddr("2001:db8::a") || got.Report.FirstRound.Sent.GatewayARP != 1 {
		t.Errorf("fields lost in the round trip: %+v", got.Announce)
	}
}

func mustEncode(t *testing.T, r *Request) []byte {
	t.Helper()
	b, err := EncodeRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every malformed request is refused with a reason naming what is wrong.
func TestDecodeRefuses(t *testing.T) {
	good := string(mustEncode(t, validAnnounce()))
	edit := func(f func(*Request)) string {
		r := validAnnounce()
		f(r)
		b, err := EncodeRequest(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tc := range []struct {
		name, in, want string
	}{
		{"not JSON", "garbage", "not a JSON object"},
		{"array", "[1]", "not a JSON object"},
		{"no version", `{"kind":"stop"}`, "unsupported protocol version 0"},
		{"future version", `{"v":2,"kind":"announce","later":true}`, "unsupported protocol version 2"},
		{"unknown field", strings.Replace(good, `"kind"`, `"extra":1,"kind"`, 1), "unknown field"},
		{"trailing data", good + `{}`, "after"},
		{"unknown kind", `{"v":1,"kind":"explode"}`, "unknown request kind"},
		{"announce without part", `{"v":1,"kind":"announce","files":["arp"]}`, "without announce"},
		{"announce without files", edit(func(r *Request) { r.Files = nil }), "without sockets"},
		{"unknown file role", edit(func(r *Request) { r.Files = []FileRole{"listen"} }), "unknown file role"},
		{"file role twice", edit(func(r *Request) { r.Files = []FileRole{FileARP, FileARP} }), "twice"},
		{"no key", edit(func(r *Request) { r.Announce.Key.ContainerID = "" }), "required"},
		{"long ifname", edit(func(r *Request) { r.Announce.Key.IfName = "sixteen-chars-xx" }), "longer than 15"},
		{"relative netns", edit(func(r *Request) { r.Announce.NetNS = "netns/x" }), "absolute"},
		{"bad mac", edit(func(r *Request) { r.Announce.MAC = r.Announce.MAC[:2] }), "mac"},
		{"no ifindex", edit(func(r *Request) { r.Announce.IfIndex = 0 }), "ifIndex"},
		{"too many rounds", edit(func(r *Request) { r.Announce.Rounds = 3 }), "rounds 3"},
		{"no rounds", edit(func(r *Request) { r.Announce.Rounds = 0 }), "rounds 0"},
		{"interval", edit(func(r *Request) { r.Announce.Interval = 5 * time.Millisecond }), "interval"},
		{"v6 in v4 list", edit(func(r *Request) { r.Announce.Targets.IPv4[0] = netip.MustParseAddr("2001:db8::1") }), "targets.ipv4"},
		{"mapped v4", edit(func(r *Request) { r.Announce.Targets.IPv6[0] = netip.MustParseAddr("::ffff:198.51.100.1") }), "targets.ipv6"},
		{"no targets", edit(func(r *Request) { r.Announce.Targets = l2disco.Targets{} }), "no address"},
		{"too many targets", edit(func(r *Request) {
			r.Announce.Targets.IPv4 = make([]netip.Addr, MaxTargets+1)
			for i := range r.Announce.Targets.IPv4 {
				r.Announce.Targets.IPv4[i] = netip.MustParseAddr("198.51.100.10")
			}
		}), "at most"},
		{"listener sockets without a window", edit(func(r *Request) { r.Files = []FileRole{FileARP, FileListen4} }), "without a listen window"},
		{"listen window too long", edit(func(r *Request) {
			r.Announce.Listen = &announcer.Listen{Window: l2disco.MaxStaleWindow + time.Second, Prefixes: []netip.Prefix{netip.MustParsePrefix("198.51.100.10/24")}}
		}), "listen.window"},
		{"listen without prefixes", edit(func(r *Request) { r.Announce.Listen = &announcer.Listen{Window: time.Second} }), "listen.prefixes"},
		{"negative duration", edit(func(r *Request) { r.Report.AddSeconds = -1 }), "addSeconds"},
		{"unknown wait", edit(func(r *Request) { r.Report.Waits[0].Condition = "coffee" }), "unknown condition"},
		{"unknown outcome", edit(func(r *Request) { r.Report.Waits[0].Outcome = "maybe" }), "unknown outcome"},
		{"negative count", edit(func(r *Request) { r.Report.FirstRound.Failed.NA = -3 }), "out of range"},
		{"two parts", edit(func(r *Request) { r.Stop = &announcer.Key{Network: "n", ContainerID: "c", IfName: "e"} }), "parts"},
		{"stop with files", `{"v":1,"kind":"stop","stop":{"network":"n","containerID":"c","ifName":"e"},"files":["arp"]}`, "with sockets"},
		{"gc bad valid", `{"v":1,"kind":"gc","gc":{"network":"n","valid":[{"containerID":"","ifName":"e"}]}}`, "valid attachment"},
		{"report alone without report", `{"v":1,"kind":"report"}`, "must carry a report"},
		{"oversized", `{"v":1,"kind":"stop","pad":"` + strings.Repeat("x", MaxMessageSize) + `"}`, "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRequest([]byte(tc.in))
			if err == nil {
				t.Fatalf("accepted %.200s", tc.in)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestVersionErrorIsTyped(t *testing.T) {
	_, err := DecodeRequest([]byte(`{"v":7}`))
	if !errors.Is(err, ErrVersion) {
		t.Errorf("error %v is not ErrVersion: the service could not say which versions it speaks", err)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, r := range []*Request{validAnnounce(), {V: 1, Kind: KindStop, Stop: &announcer.Key{Network: "n", ContainerID: "c", IfName: "e"}}} {
		b, _ := EncodeRequest(r)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeRequest(b)
		if err == nil && req.Validate() != nil {
			t.Fatalf("decoded a request that does not validate: %s", b)
		}
	})
}
