package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/signal"
	"path/filepath"
	"syscall"
)

// Usage is the daemon subcommand's synopsis.
const Usage = "ndp-announce daemon [--data-dir DIR] [--metrics-address HOST:PORT] [--max-attachments N] [--max-connections N] [--log-level LEVEL]"

// DefaultMetricsAddress is loopback: with hostNetwork, binding the node's address is the
// operator's choice (--metrics-address NODE_IP:9731), not ours.
const DefaultMetricsAddress = "127.0.0.1:9731"

// Main runs `ndp-announce daemon ARGS` in the foreground until SIGTERM or SIGINT, logging JSON on
// stderr, and returns the exit code.
func Main(args []string, stderr io.Writer) int {
	opts, err := ParseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "ndp-announce daemon: %v\nusage: %s\n", err, Usage)
		return 2
	}
	d, err := New(opts)
	if err != nil {
		opts.Logger.Error("service cannot start", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := d.Serve(ctx); err != nil {
		opts.Logger.Error("service failed", "err", err)
		return 1
	}
	return 0
}

// ParseFlags reads the daemon's flags into Options, with a JSON logger on stderr at --log-level.
func ParseFlags(args []string, stderr io.Writer) (Options, error) {
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage:", Usage)
		fs.PrintDefaults()
	}
	opts := Options{}
	fs.StringVar(&opts.DataDir, "data-dir", DefaultDataDir, "the plugin's dataDir; the socket is DIR/announcer.sock")
	fs.StringVar(&opts.MetricsAddress, "metrics-address", DefaultMetricsAddress, "host:port of /metrics and /healthz; empty for none")
	fs.IntVar(&opts.MaxAttachments, "max-attachments", DefaultMaxAttachments, "attachments with rounds in flight at most; beyond, ADD falls back")
	fs.IntVar(&opts.MaxConnections, "max-connections", DefaultMaxConnections, "connections served at once at most; beyond, they are closed")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return opts, err
	}
	if fs.NArg() > 0 {
		return opts, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if !filepath.IsAbs(opts.DataDir) {
		return opts, fmt.Errorf("--data-dir %q: must be an absolute path", opts.DataDir)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return opts, fmt.Errorf("--log-level: %w", err)
	}
	opts.Logger = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: lvl})).With("cmd", "daemon")
	return opts, nil
}
