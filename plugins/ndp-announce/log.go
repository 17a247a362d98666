package main

import (
	"io"
	"log/slog"
	"os"
)

// newLogger logs JSON to logFile (nothing when unset: stdout belongs to CNI) and, whatever logFile
// says, errors as text on stderr, where runtimes put them in their own logs. The returned closer must
// be called before exit.
func newLogger(logFile string, level slog.Level, attrs ...any) (*slog.Logger, io.Closer) {
	handlers := []slog.Handler{
		slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}),
	}
	var closer io.Closer = nopCloser{}
	if logFile != "" {
		f, err := os.OpenFile(logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err == nil {
			handlers = append(handlers, slog.NewJSONHandler(f, &slog.HandlerOptions{Level: level}))
			closer = f
		} else {
			slog.New(handlers[0]).Error("cannot open logFile, logging errors to stderr only", "logFile", logFile, "err", err)
		}
	}
	return slog.New(slog.NewMultiHandler(handlers...)).With(attrs...), closer
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// levelOrInfo is for commands that must work even with a log level ADD would refuse.
func levelOrInfo(s string) slog.Level {
	l, err := parseLevel(s)
	if err != nil {
		return slog.LevelInfo
	}
	return l
}
