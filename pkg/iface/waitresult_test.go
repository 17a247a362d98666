package iface

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestWaitResultString(t *testing.T) {
	tests := []struct {
		r    WaitResult
		want string
	}{
		{
			WaitResult{Condition: CondBridgePort, Interface: "veth1a2b", Waited: 200*time.Millisecond + 300*time.Microsecond, LastState: "learning"},
			"bridge port forwarding veth1a2b state learning after 200ms: gave up",
		},
		{
			WaitResult{Condition: CondLinkUp, Interface: "eth0", Met: true, Waited: 37 * time.Microsecond, LastState: "up"},
			"link up eth0: met after 37µs",
		},
		{
			WaitResult{Condition: CondBridgePort, Interface: "veth1a2b", Skipped: "stp enabled", LastState: "listening"},
			"bridge port forwarding veth1a2b: skipped: stp enabled",
		},
		{
			WaitResult{Condition: CondDAD, Interface: "eth0", Waited: 1250 * time.Microsecond, LastState: "dadfailed 2001:db8::1", Err: errors.New("duplicate")},
			"ipv6 dad eth0 state dadfailed 2001:db8::1 after 1.3ms: gave up: duplicate",
		},
		{
			WaitResult{Condition: CondMcastRoute, Waited: time.Second},
			"ff02::1 route after 1s: gave up",
		},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestWaitResultLogValue(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	log.Info("wait", "result", WaitResult{Condition: CondBridgePort, Interface: "vh0", Waited: time.Millisecond, LastState: "learning"})
	want := `level=INFO msg=wait result.condition="bridge port forwarding" result.met=false result.waited=1ms result.interface=vh0 result.last_state=learning`
	if got := strings.TrimSpace(buf.String()); got != want {
		t.Errorf("log line\n got %s\nwant %s", got, want)
	}
}
