// Package logging sets up the logs every ndp-announce program writes: JSON
// lines to a file the operator names (stdout belongs to CNI) and, whatever
// the file, errors as text on stderr, where runtimes keep them.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// New logs JSON at level to logFile (nothing when it is "") and errors to
// stderr, with attrs on every line. The returned closer must be called
// before exit. A logFile that cannot be opened is reported on stderr and
// left out: logging never fails a command.
func New(logFile string, level slog.Level, attrs ...any) (*slog.Logger, io.Closer) {
	handlers := []slog.Handler{
		slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}),
	}
	var closer io.Closer = nopCloser{}
	if logFile != "" {
		f, err := openLogFile(logFile)
		if err == nil {
			handlers = append(handlers, slog.NewJSONHandler(f, &slog.HandlerOptions{Level: level}))
			closer = f
		} else {
			slog.New(handlers[0]).Error("cannot open logFile, logging errors to stderr only", "logFile", logFile, "err", err)
		}
	}
	return slog.New(slog.NewMultiHandler(handlers...)).With(attrs...), closer
}

// openLogFile appends to path, creating it 0600, and does not follow a
// symlink at its last component: the plugin runs as root, and a link planted
// there must not make it write elsewhere.
func openLogFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return f, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// ParseLevel reads a level as users write it: debug, info, warn, error.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("must be one of debug, info, warn, error, got %q", s)
}

// LevelOrInfo is for commands that must work even with a level ADD refuses
// (DEL, GC): an unknown level logs at info.
func LevelOrInfo(s string) slog.Level {
	l, err := ParseLevel(s)
	if err != nil {
		return slog.LevelInfo
	}
	return l
}

// Ms is the time since t in milliseconds with microsecond resolution, as the
// logs report durations.
func Ms(t time.Time) float64 {
	return float64(time.Since(t).Microseconds()) / 1000
}
