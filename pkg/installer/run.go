package installer

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// The subcommands. Runtimes call a CNI plugin without arguments, so these never collide with a CNI
// command.
const (
	InstallCommand   = "install"
	UninstallCommand = "uninstall"
)

// pluginType is the type the chained entry must have: the binary is installed under this name.
const pluginType = "ndp-announce"

// Env is what the installer needs from the program it is part of.
type Env struct {
	// Version is the binary's version, for the log.
	Version string
	// ValidatePluginConfig refuses a plugin configuration that every ADD would refuse (decoding and
	// planning, defaults and ranges): --plugin-config is checked with it before it reaches a node's
	// file. Nil checks only the JSON and the type.
	ValidatePluginConfig func(raw []byte) error
	// Stderr takes the log and flag errors; nil is os.Stderr.
	Stderr io.Writer
}

// IsCommand says whether the first argument names a subcommand of this package.
func IsCommand(arg string) bool { return arg == InstallCommand || arg == UninstallCommand }

// Main runs cmd (install or uninstall) with its flags until done or, with --interval or --hold,
// until SIGTERM or SIGINT. It returns the process's exit status: 0, 1 when it failed, 2 for bad
// arguments.
func Main(cmd string, args []string, env Env) int {
	stderr := env.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("cmd", cmd)
	opts, err := parseFlags(cmd, args, stderr, env.ValidatePluginConfig)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		log.Error("bad arguments", "err", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if cmd == InstallCommand {
		err = installLoop(ctx, opts, env, log)
	} else {
		err = uninstall(opts, log)
		if err == nil && opts.Hold {
			log.Info("uninstalled; waiting for SIGTERM")
			<-ctx.Done()
		}
	}
	if err != nil {
		log.Error(cmd+" failed", "err", err)
		return 1
	}
	return 0
}
