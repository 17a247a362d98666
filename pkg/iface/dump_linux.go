package iface

import (
	"errors"
	"log/slog"

	"github.com/vishvananda/netlink"
)

// dumpAttempts bounds how often an interrupted dump is redone. A dump is
// interrupted when the table changes while it is read (DAD completing flips
// address flags, for one), so the retries usually get a clean read; if the
// table keeps changing the last data is still the best there is.
const dumpAttempts = 3

// listAll runs a netlink dump through list and copes with
// netlink.ErrDumpInterrupted, which comes together with (possibly
// inconsistent) data: redo the dump a few times, then accept the data.
// Every list call in this package goes through here.
func listAll[T any](what string, list func() ([]T, error)) ([]T, error) {
	var (
		res []T
		err error
	)
	for range dumpAttempts {
		res, err = list()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return res, err
		}
	}
	slog.Debug("netlink dump still interrupted after retries, using its data", "dump", what, "attempts", dumpAttempts)
	return res, nil
}
