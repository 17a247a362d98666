package installer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/ndp-announce/ndp-announce/pkg/conflist"
)

// installLoop installs once, failing on error, then, with an interval, again at every tick until ctx
// ends: a node's network plugin may rewrite its config and drop the entry. Later errors are logged.
func installLoop(ctx context.Context, opts Options, env Env, log *slog.Logger) error {
	if err := install(opts, env, log); err != nil {
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
			if err := install(opts, env, log); err != nil {
				log.Error("install check failed", "err", err)
			}
		}
	}
}

// install checks and prepares the config's edit first, so a file it refuses leaves the node as it
// was; then it puts the binary in place, since the runtime may run it as soon as the config names
// it; then it writes the config.
func install(opts Options, env Env, log *slog.Logger) error {
	src := opts.Source
	if src == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find this executable: %w", err)
		}
		src = exe
	}
	path, err := confPath(opts)
	if err != nil {
		return err
	}
	change, err := conflist.PrepareChain(path, conflist.Options{
		Plugin: []byte(opts.PluginConfig), After: Served, Accept: accept})
	if err != nil {
		if hint := multusHint(path); hint != "" {
			return fmt.Errorf("%w; %s", err, hint)
		}
		return err
	}
	dst := filepath.Join(opts.BinDir, pluginType)
	copied, err := installBinary(src, dst)
	if err != nil {
		return err
	}
	if copied {
		log.Info("installed binary", "path", dst, "version", env.Version)
	}
	res, err := change.Apply()
	if err != nil {
		return err
	}
	logPatch(log, res)
	return nil
}

// uninstall takes the plugin out of the config first, then removes the binary: a pod created meanwhile
// must not find a config naming a missing plugin.
func uninstall(opts Options, log *slog.Logger) error {
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

func confPath(opts Options) (string, error) {
	if opts.ConfFile != "" {
		return filepath.Join(opts.ConfDir, opts.ConfFile), nil
	}
	return conflist.DefaultFile(opts.ConfDir)
}

func logPatch(log *slog.Logger, res conflist.FileResult) {
	attrs := []any{"file", res.Path, "changed", res.Changed}
	if res.Link != "" {
		attrs = append(attrs, "link", res.Link)
	}
	if res.Backup != "" {
		attrs = append(attrs, "backup", res.Backup)
	}
	log.Info(res.Note, attrs...)
	if res.Comments {
		log.Warn("the file has comments: runtimes that use libcni (containerd, CRI-O) refuse to load it", "file", res.Path)
	}
}
