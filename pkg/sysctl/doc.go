// Package sysctl parses, applies and checks the per-interface sysctls a user
// writes as net.<ipv4|ipv6|mpls>.<conf|neigh>.IFNAME.<name>=<value>, inside
// a container's network namespace, reading before writing so that a value
// already in place is never rewritten.
//
// Errors: everything the user can fix by changing the configuration — a
// malformed entry, a bad interface name, an allowlist pattern that does not
// compile, a knob that does not exist for the interface, a value the kernel
// refuses (EINVAL/ERANGE) — satisfies errors.Is(err, ErrInvalid); a plugin
// maps it to CNI code 7 (invalid network config). A missing knob also
// satisfies errors.Is(err, fs.ErrNotExist). A value that differs from the
// configured one in Verify satisfies errors.Is(err, ErrMismatch). Anything
// else (netns not found, read-only /proc, I/O) is an operational failure.
package sysctl
