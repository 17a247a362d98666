//go:build !linux

package l2disco

import (
	"errors"
	"os"
)

func statNetNS(path string) (NetNSID, error) {
	return NetNSID{}, &os.PathError{Op: "stat", Path: path, Err: errors.ErrUnsupported}
}
