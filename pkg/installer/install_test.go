package installer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ndp-announce/ndp-announce/internal/filetest"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testEnv stands for what the main package injects: a validation that refuses what ADD would
// (here: any advertiseCount but the default's range, enough to see it called).
var testEnv = Env{Version: "test", ValidatePluginConfig: func(raw []byte) error {
	var c struct {
		AdvertiseCount *int `json:"advertiseCount"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return err
	}
	if c.AdvertiseCount != nil && (*c.AdvertiseCount < 0 || *c.AdvertiseCount > 3) {
		return fmt.Errorf("advertiseCount: %d is out of range 0-3", *c.AdvertiseCount)
	}
	return nil
}}

// fakeNode is a fake node: a CNI bin dir, a conf dir with a bridge conflist, and a "binary" to install.
func fakeNode(t *testing.T) (opts Options, conf string) {
	t.Helper()
	root := t.TempDir()
	opts = Options{
		BinDir:       filepath.Join(root, "bin"),
		ConfDir:      filepath.Join(root, "net.d"),
		PluginConfig: `{"type":"ndp-announce","logFile":"/var/log/ndp-announce.log"}`,
		Source:       filepath.Join(root, "ndp-announce.new"),
	}
	for _, d := range []string{opts.BinDir, opts.ConfDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(opts.Source, []byte("binary v2"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf = filepath.Join(opts.ConfDir, "10-bridge.conflist")
	if err := os.WriteFile(conf, []byte(`{"cniVersion":"1.0.0","name":"podnet","plugins":[{"type":"bridge"},{"type":"portmap"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return opts, conf
}

func TestInstallUninstall(t *testing.T) {
	opts, conf := fakeNode(t)
	orig, _ := os.ReadFile(conf)
	bin := filepath.Join(opts.BinDir, "ndp-announce")
	if err := os.WriteFile(bin, []byte("binary v1"), 0o755); err != nil {
		t.Fatal(err)
	}

	for i := 0; i < 2; i++ { // the second run must find everything in place and change nothing
		if err := install(opts, testEnv, quietLog()); err != nil {
			t.Fatalf("install #%d: %v", i+1, err)
		}
		if got, _ := os.ReadFile(bin); string(got) != "binary v2" {
			t.Fatalf("install #%d: binary holds %q, want the new one", i+1, got)
		}
		if fi, _ := os.Stat(bin); fi.Mode().Perm() != 0o755 {
			t.Errorf("binary mode %v, want 0755", fi.Mode().Perm())
		}
		got, _ := os.ReadFile(conf)
		want := `{"cniVersion":"1.0.0","name":"podnet","plugins":[{"type":"bridge"},{"type":"ndp-announce","logFile":"/var/log/ndp-announce.log"},{"type":"portmap"}]}`
		if string(got) != want {
			t.Fatalf("install #%d: conflist\n%s\nwant\n%s", i+1, got, want)
		}
	}
	if names := listDir(t, opts.BinDir); strings.Join(names, " ") != "ndp-announce" {
		t.Errorf("bin dir holds %v: a temporary file was left", names)
	}

	if err := uninstall(opts, quietLog()); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(conf); !bytes.Equal(got, orig) {
		t.Errorf("after uninstall the conflist is\n%s\nwant the original\n%s", got, orig)
	}
	if _, err := os.Stat(bin); !os.IsNotExist(err) {
		t.Errorf("binary still there after uninstall: %v", err)
	}
	if err := uninstall(opts, quietLog()); err != nil {
		t.Errorf("second uninstall: %v", err)
	}
}

func TestUninstallKeepBinary(t *testing.T) {
	opts, _ := fakeNode(t)
	if err := install(opts, testEnv, quietLog()); err != nil {
		t.Fatal(err)
	}
	opts.KeepBinary = true
	if err := uninstall(opts, quietLog()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(opts.BinDir, "ndp-announce")); err != nil {
		t.Errorf("--keep-binary removed the binary: %v", err)
	}
}

func TestInstallLoopStopsOnContext(t *testing.T) {
	opts, _ := fakeNode(t)
	opts.Interval = 1e6 // 1 ms
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := installLoop(ctx, opts, testEnv, quietLog()); err != nil {
		t.Fatalf("installLoop: %v", err)
	}
}

func TestParseInstallFlags(t *testing.T) {
	tests := []struct {
		cmd     string
		args    []string
		wantErr string
	}{
		{"install", nil, ""},
		{"install", []string{"--interval=30s", "--conf-file=10-bridge.conflist"}, ""},
		{"install", []string{`--plugin-config={"type":"ndp-announce","advertiseCount":9}`}, "advertiseCount"},
		{"install", []string{`--plugin-config={"type":"bridge"}`}, `"type" must be "ndp-announce"`},
		{"install", []string{`--plugin-config=[1]`}, "not a JSON object"},
		{"install", []string{"--conf-file=../x.conflist"}, "not a path"},
		{"install", []string{"--interval=-1s"}, "negative"},
		{"install", []string{"--keep-binary"}, "not defined"},
		{"uninstall", []string{"--keep-binary", "--hold"}, ""},
		{"uninstall", []string{"extra"}, "unexpected arguments"},
	}
	for _, tt := range tests {
		_, err := parseFlags(tt.cmd, tt.args, io.Discard, testEnv.ValidatePluginConfig)
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s %q: err %v, want %q", tt.cmd, tt.args, err, tt.wantErr)
		}
	}
}

func TestIsCommand(t *testing.T) {
	// Runtimes run a plugin with no arguments; the announcer has its own argument.
	for arg, want := range map[string]bool{"install": true, "uninstall": true, "": false, "__announce": false, "--help": false, "Install": false} {
		if got := IsCommand(arg); got != want {
			t.Errorf("IsCommand(%q) = %v, want %v", arg, got, want)
		}
	}
}

var listDir = filetest.Names
