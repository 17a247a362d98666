package installer

import (
	"bytes"
	"fmt"
	"os"

	"github.com/ndp-announce/ndp-announce/pkg/conflist"
)

// installBinary copies src to dst atomically (conflist.WriteAtomic), so a runtime starting the
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
	if err := conflist.WriteAtomic(dst, data, 0o755); err != nil {
		return false, fmt.Errorf("install binary: %w", err)
	}
	return true, nil
}
