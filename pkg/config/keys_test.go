package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
)

// ADD ignores what it does not know but says so; runtime-added keys are not reported.
func TestIgnoredKeys(t *testing.T) {
	stdin := `{"cniVersion":"1.1.0","name":"n","type":"ndp-announce","advertiseCnt":2,"advertiseCount":null,
		"runtimeConfig":{"ips":[]},"prevResult":{},"capabilities":{"ips":true},"cni.dev/valid-attachments":[],
		"args":{"cni":{"advertiseCount":1,"sysctl":[]},"k8s":{"x":1}}}`
	if _, err := Decode([]byte(stdin)); err != nil {
		t.Fatalf("Decode refused unknown keys: %v", err)
	}
	ig := IgnoredKeys([]byte(stdin))
	if got := strings.Join(ig.Unknown, ","); got != "advertiseCnt,args.cni.sysctl" {
		t.Errorf("unknown %q", got)
	}
	if got := strings.Join(ig.Null, ","); got != "advertiseCount" {
		t.Errorf("null %q", got)
	}
	if s := ig.String(); !strings.Contains(s, "advertiseCnt") || !strings.Contains(s, "advertiseCount") {
		t.Errorf("String() = %q", s)
	}
	if !IgnoredKeys([]byte(`{"type":"ndp-announce","dataDir":"/x","args":{"cni":{"sysctls":[]}}}`)).Empty() {
		t.Error("known keys reported as ignored")
	}
}

// An operator's configuration is decoded strictly: unknown, null and runtime-only keys are refused.
func TestDecodeStrict(t *testing.T) {
	if _, err := DecodeStrict([]byte(`{"cniVersion":"1.0.0","name":"n","type":"ndp-announce","capabilities":{"ips":true},"advertiseCount":2}`)); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
	for raw, field := range map[string]string{
		`{"type":"ndp-announce","advertiseCnt":2}`:                   "advertiseCnt",
		`{"type":"ndp-announce","advertiseCount":null}`:              "advertiseCount",
		`{"type":"ndp-announce","args":{"cni":{"advertiseCont":1}}}`: "args.cni.advertiseCont",
		`{"type":"ndp-announce","prevResult":{}}`:                    "prevResult",
		`{"type":"ndp-announce","advertiseCount":"2"}`:               "advertiseCount",
	} {
		_, err := DecodeStrict([]byte(raw))
		var cniErr *types.Error
		if !errors.As(err, &cniErr) || cniErr.Code != types.ErrInvalidNetworkConfig || !strings.HasPrefix(cniErr.Msg, field+":") {
			t.Errorf("DecodeStrict(%s) = %v, want code 7 naming %s", raw, err, field)
		}
	}
}
