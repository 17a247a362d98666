package main

// The install and uninstall subcommands put the plugin on a node: the binary into the CNI bin dir and
// an {"type": "ndp-announce"} entry right after "bridge" in the network configuration the runtime
// uses. The Kubernetes DaemonSet in deploy/kubernetes runs them; an operator can run them by hand.
// Runtimes call a CNI plugin without arguments, so these never collide with a CNI command.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ndp-announce/ndp-announce/pkg/conflist"
)

const (
	pluginType          = "ndp-announce"
	installSubcommand   = "install"
	uninstallSubcommand = "uninstall"
)

// installOptions are the flags of install and uninstall.
type installOptions struct {
	BinDir       string        // CNI bin dir the runtime runs plugins from
	ConfDir      string        // CNI config dir
	ConfFile     string        // file in ConfDir to patch; "" = the one the runtime uses
	PluginConfig string        // the JSON object chained after bridge (install)
	Interval     time.Duration // install: check again this often until stopped; 0 = once
	KeepBinary   bool          // uninstall: leave the binary (networks outside ConfDir may use it)
	Hold         bool          // uninstall: then wait for SIGTERM (a DaemonSet's main container)
	Source       string        // binary to install; "" = this executable
}

// installSubcommandMain runs install or uninstall when argv asks for one; ok is false otherwise.
func installSubcommandMain(argv []string) (code int, ok bool) {
	if len(argv) < 2 || (argv[1] != installSubcommand && argv[1] != uninstallSubcommand) {
		return 0, false
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("cmd", argv[1])
	opts, err := parseInstallFlags(argv[1], argv[2:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0, true
	}
	if err != nil {
		log.Error("bad arguments", "err", err)
		return 2, true
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if argv[1] == installSubcommand {
		err = installLoop(ctx, opts, log)
	} else {
		err = uninstall(opts, log)
		if err == nil && opts.Hold {
			log.Info("uninstalled; waiting for SIGTERM")
			<-ctx.Done()
		}
	}
	if err != nil {
		log.Error(argv[1]+" failed", "err", err)
		return 1, true
	}
	return 0, true
}

func parseInstallFlags(cmd string, args []string, out io.Writer) (installOptions, error) {
	opts := installOptions{}
	fs := flag.NewFlagSet("ndp-announce "+cmd, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&opts.BinDir, "cni-bin-dir", "/opt/cni/bin", "CNI plugin directory")
	fs.StringVar(&opts.ConfDir, "cni-conf-dir", "/etc/cni/net.d", "CNI network configuration directory")
	fs.StringVar(&opts.ConfFile, "conf-file", "", "file name in --cni-conf-dir to patch (default: the first .conf/.conflist/.json by name, the one containerd and CRI-O use)")
	if cmd == installSubcommand {
		fs.StringVar(&opts.PluginConfig, "plugin-config", `{"type":"ndp-announce"}`, "JSON object chained right after bridge")
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
	if cmd == installSubcommand {
		if err := checkPluginConfig([]byte(opts.PluginConfig)); err != nil {
			return opts, fmt.Errorf("--plugin-config: %w", err)
		}
	}
	return opts, nil
}

// checkPluginConfig refuses a config that every ADD would refuse, before it reaches a node's file.
func checkPluginConfig(raw []byte) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	var typ string
	if err := json.Unmarshal(obj["type"], &typ); err != nil || typ != pluginType {
		return fmt.Errorf(`"type" must be %q`, pluginType)
	}
	conf, err := decodeConf(raw)
	if err != nil {
		return err
	}
	_, err = planFromConf(conf)
	return err
}

// installLoop installs once, failing on error, then, with an interval, again at every tick until ctx
// ends: a node's network plugin may rewrite its config and drop the entry. Later errors are logged.
func installLoop(ctx context.Context, opts installOptions, log *slog.Logger) error {
	if err := install(opts, log); err != nil {
		return err
	}
	if opts.Interval == 0 {
		return nil
	}
	t := time.NewTicker(opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			log.Info("stopping; the plugin stays installed")
			return nil
		case <-t.C:
			if err := install(opts, log); err != nil {
				log.Error("install check failed", "err", err)
			}
		}
	}
}

// install puts the binary in place first: the runtime may run it as soon as the config names it.
func install(opts installOptions, log *slog.Logger) error {
	src := opts.Source
	if src == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find this executable: %w", err)
		}
		src = exe
	}
	dst := filepath.Join(opts.BinDir, pluginType)
	copied, err := installBinary(src, dst)
	if err != nil {
		return err
	}
	if copied {
		log.Info("installed binary", "path", dst, "version", Version)
	}
	path, err := confPath(opts)
	if err != nil {
		return err
	}
	res, err := conflist.ChainFile(path, conflist.Options{Plugin: []byte(opts.PluginConfig), After: "bridge"})
	if err != nil {
		return err
	}
	logPatch(log, res)
	return nil
}

// uninstall takes the plugin out of the config first, then removes the binary: a pod created meanwhile
// must not find a config naming a missing plugin.
func uninstall(opts installOptions, log *slog.Logger) error {
	path, err := confPath(opts)
	if err != nil {
		return err
	}
	res, err := conflist.UnchainFile(path, pluginType)
	if err != nil {
		return err
	}
	logPatch(log, res)
	if opts.KeepBinary {
		return nil
	}
	dst := filepath.Join(opts.BinDir, pluginType)
	if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove binary: %w", err)
	} else if err == nil {
		log.Info("removed binary", "path", dst)
	}
	return nil
}

func confPath(opts installOptions) (string, error) {
	if opts.ConfFile != "" {
		return filepath.Join(opts.ConfDir, opts.ConfFile), nil
	}
	return conflist.DefaultFile(opts.ConfDir)
}

func logPatch(log *slog.Logger, res conflist.FileResult) {
	attrs := []any{"file", res.Path, "changed", res.Changed}
	if res.Backup != "" {
		attrs = append(attrs, "backup", res.Backup)
	}
	log.Info(res.Note, attrs...)
	if res.Comments {
		log.Warn("the file has comments: runtimes that use libcni (containerd, CRI-O) refuse to load it", "file", res.Path)
	}
}

// installBinary copies src to dst through a temporary file and a rename, so a runtime starting the
// plugin meanwhile runs the old binary or the new one, never a half-written one. An identical dst is
// left alone. It reports whether it wrote.
func installBinary(src, dst string) (bool, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return false, fmt.Errorf("read binary to install: %w", err)
	}
	if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return false, fmt.Errorf("install binary to %s: %w", dst, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return false, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o755); err != nil {
		return false, fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return false, fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return false, fmt.Errorf("rename %s to %s: %w", tmp.Name(), dst, err)
	}
	ok = true
	return true, nil
}
