package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkHandOff is what the service path adds to ADD after round 1: duplicating the sockets,
// connect, one message with two descriptors, the service adopting them and starting a job, the
// reply. (go test -run '^$' -bench HandOff ./pkg/daemon, as root.)
func BenchmarkHandOff(b *testing.B) {
	l := newLab(b)
	_, c := startDaemon(b, Options{MaxAttachments: b.N + 16, MetricsAddress: "127.0.0.1:0",
		Logger: slog.New(slog.DiscardHandler)})
	files := l.sockets(b)
	b.ResetTimer()
	for i := range b.N {
		dups := make([]*os.File, len(files))
		for k, f := range files {
			fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			dups[k] = os.NewFile(uintptr(fd), f.Name())
		}
		if _, err := c.Do(l.announce(fmt.Sprintf("b%d", i), 2, 2*time.Second), dups); err != nil {
			b.Fatal(err)
		}
		closeFiles(dups)
	}
}
