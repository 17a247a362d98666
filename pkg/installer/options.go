package installer

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
)

// Options are the flags of install and uninstall.
type Options struct {
	BinDir       string        // CNI bin dir the runtime runs plugins from
	ConfDir      string        // CNI config dir
	ConfFile     string        // file in ConfDir to patch (a symlink: its target); "" = the one the runtime uses
	PluginConfig string        // the JSON object chained after the interface plugin (install)
	Interval     time.Duration // install: check again this often until stopped; 0 = once
	KeepBinary   bool          // uninstall: leave the binary (networks outside ConfDir may use it)
	Hold         bool          // uninstall: then wait for SIGTERM (a DaemonSet's main container)
	Source       string        // binary to install; "" = this executable
}

func parseFlags(cmd string, args []string, out io.Writer, validate func([]byte) error) (Options, error) {
	opts := Options{}
	fs := flag.NewFlagSet("ndp-announce "+cmd, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&opts.BinDir, "cni-bin-dir", "/opt/cni/bin", "CNI plugin directory")
	fs.StringVar(&opts.ConfDir, "cni-conf-dir", "/etc/cni/net.d", "CNI network configuration directory")
	fs.StringVar(&opts.ConfFile, "conf-file", "", "file name in --cni-conf-dir to patch; a symlink's target is edited (default: the first .conf/.conflist/.json by name, symlinks included: the one containerd and CRI-O use)")
	if cmd == InstallCommand {
		fs.StringVar(&opts.PluginConfig, "plugin-config", `{"type":"ndp-announce"}`,
			"JSON object chained right after the interface plugin ("+strings.Join(Served, ", ")+")")
		fs.DurationVar(&opts.Interval, "interval", 0, "check again this often and re-chain if the file was rewritten; 0 = once, then exit")
		fs.StringVar(&opts.Source, "source", "", "binary to install (default: this executable)")
	} else {
		fs.BoolVar(&opts.KeepBinary, "keep-binary", false, "leave the binary in --cni-bin-dir (Multus networks may still use it)")
		fs.BoolVar(&opts.Hold, "hold", false, "after uninstalling, wait for SIGTERM instead of exiting")
	}
	if err := fs.Parse(args); err != nil {
		return opts, err
	}
	if fs.NArg() > 0 {
		return opts, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if opts.Interval < 0 {
		return opts, fmt.Errorf("--interval %v: must not be negative", opts.Interval)
	}
	if opts.ConfFile != "" && filepath.Base(opts.ConfFile) != opts.ConfFile {
		return opts, fmt.Errorf("--conf-file %q: a file name in --cni-conf-dir, not a path", opts.ConfFile)
	}
	if cmd == InstallCommand {
		if err := checkPluginConfig([]byte(opts.PluginConfig), validate); err != nil {
			return opts, fmt.Errorf("--plugin-config: %w", err)
		}
	}
	return opts, nil
}

// checkPluginConfig refuses a config that every ADD would refuse, before it reaches a node's file.
func checkPluginConfig(raw []byte, validate func([]byte) error) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	var typ string
	if err := json.Unmarshal(obj["type"], &typ); err != nil || typ != pluginType {
		return fmt.Errorf(`"type" must be %q`, pluginType)
	}
	if validate == nil {
		return nil
	}
	return validate(raw)
}
