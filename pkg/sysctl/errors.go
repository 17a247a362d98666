package sysctl

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalid marks errors the user fixes in the configuration: bad
	// syntax, a bad interface name, a knob that does not exist for the
	// interface or a value the kernel refuses. Test with errors.Is.
	ErrInvalid = errors.New("invalid sysctl")

	// ErrMismatch marks a Verify failure: the knob exists but holds another
	// value than the configured one.
	ErrMismatch = errors.New("sysctl value differs")
)

// expectedShape is quoted in every syntax error so the user sees what to write.
const expectedShape = "net.<ipv4|ipv6|mpls>.<conf|neigh>.IFNAME.<name>=<value>"

// taggedError carries a message and matches a sentinel through errors.Is
// without putting the sentinel's own text into the message.
type taggedError struct {
	msg   string
	tag   error
	cause error
}

func (e *taggedError) Error() string        { return e.msg }
func (e *taggedError) Is(target error) bool { return target == e.tag }
func (e *taggedError) Unwrap() error        { return e.cause }

func invalid(cause error, format string, args ...any) error {
	return &taggedError{msg: fmt.Sprintf(format, args...), tag: ErrInvalid, cause: cause}
}

func mismatch(format string, args ...any) error {
	return &taggedError{msg: fmt.Sprintf(format, args...), tag: ErrMismatch}
}

// quote quotes user input for an error message, cut short so that a
// megabyte of garbage in a config does not become a megabyte of log.
func quote(s string) string {
	const max = 160
	if len(s) > max {
		return fmt.Sprintf("%q... (%d bytes)", s[:max], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// EntryError says which entry of the list given to Apply an error is about,
// so a caller can name it the way its user wrote it (e.g. "sysctls[2]").
// Its message is the wrapped error's.
type EntryError struct {
	Index int
	Err   error
}

func (e *EntryError) Error() string { return e.Err.Error() }
func (e *EntryError) Unwrap() error { return e.Err }

func atEntry(i int, err error) error { return &EntryError{Index: i, Err: err} }
