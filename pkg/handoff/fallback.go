package handoff

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// fallbackFile counts the ADDs that fell back to a detached process although a service is
// installed: one byte each, so the service's ndp_announce_handoffs_total{result="fallback"} is the
// file's size, whether or not the service ran when they happened. It lives in dataDir (a tmpfs
// under /run: it starts at 0 on boot).
const fallbackFile = "handoff-fallbacks"

// maxFallbackCount stops the file growing without end; the counter then stays at this value.
const maxFallbackCount = 1 << 24

// FallbackPath is the fallback counter file in dataDir.
func FallbackPath(dataDir string) string { return filepath.Join(dataDir, fallbackFile) }

// RecordFallback counts one ADD that fell back, when dataDir has the service's socket: one that
// refused, timed out, or crashed and left its socket. A node without the service (no socket, or
// one stopped cleanly, which removes it) counts nothing. Best effort: a failure loses one count.
func RecordFallback(dataDir string) {
	if _, err := os.Lstat(filepath.Join(dataDir, SocketName)); err != nil {
		return
	}
	f, err := os.OpenFile(FallbackPath(dataDir), os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() >= maxFallbackCount {
		return
	}
	f.Write([]byte{'\n'})
}
