package main

import (
	"strings"
	"testing"
)

// The installer refuses --plugin-config with the plugin's own decoding and planning.
func TestValidatePluginConfig(t *testing.T) {
	if err := validatePluginConfig([]byte(`{"type":"ndp-announce","logFile":"/var/log/ndp-announce.log","advertiseCount":2}`)); err != nil {
		t.Errorf("a valid config was refused: %v", err)
	}
	for raw, want := range map[string]string{
		`{"type":"ndp-announce","advertiseCount":9}`:           "advertiseCount",
		`{"type":"ndp-announce","sysctls":["net.bogus=1"]}`:    "sysctls[0]",
		`{"type":"ndp-announce","advertiseIntervalMs":"fast"}`: "advertiseIntervalMs",
		// Strict: what ADD only warns about is an operator's mistake here.
		`{"type":"ndp-announce","advertiseCnt":2}`:      "advertiseCnt",
		`{"type":"ndp-announce","advertiseCount":null}`: "advertiseCount",
	} {
		if err := validatePluginConfig([]byte(raw)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validatePluginConfig(%s) = %v, want an error naming %s", raw, err, want)
		}
	}
}
