package l2disco

import (
	"os"

	"golang.org/x/sys/unix"
)

func statNetNS(path string) (NetNSID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return NetNSID{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return NetNSID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}, nil
}
