package sysctl

import (
	"fmt"
	"path/filepath"
	"strings"
)

const (
	// DefaultRoot is where the kernel exposes net sysctls. It resolves
	// against the network namespace of the calling thread.
	DefaultRoot = "/proc/sys/net"

	// MaxValueLen bounds a value. The kernel reads at most a page per
	// sysctl write, so anything longer cannot be meant.
	MaxValueLen = 4096

	// maxNameLen is NAME_MAX: a longer name cannot be a file.
	maxNameLen = 255

	// maxIfNameLen is IFNAMSIZ-1: the kernel's limit on interface names.
	maxIfNameLen = 15

	placeholder = "IFNAME"
)

var (
	families = map[string]bool{"ipv4": true, "ipv6": true, "mpls": true}
	tables   = map[string]bool{"conf": true, "neigh": true}
)

// Entry is one parsed per-interface sysctl.
type Entry struct {
	Raw    string // as the user wrote it
	Key    string // IFNAME form, e.g. "net.ipv6.conf.IFNAME.disable_ipv6"
	Family string // ipv4, ipv6 or mpls
	Table  string // conf or neigh
	Name   string // the knob, e.g. "disable_ipv6"
	Value  string // trimmed, one line, never empty

	// Optional entries are skipped, not refused, when the interface has no
	// such knob: disable_ipv6=1 on an interface the kernel runs no IPv6 on
	// (an MTU below 1280) is already true.
	Optional bool
}

// String returns the entry in its normalised form (Key=Value).
func (e Entry) String() string { return e.Key + "=" + e.Value }

// Parse parses one "net.<family>.<table>.IFNAME.<name>=<value>" entry.
// IFNAME may also be written "ifname"; Key always says IFNAME. Spaces
// around the key and the value are ignored, as in sysctl.conf.
func Parse(s string) (Entry, error) {
	rawKey, rawValue, ok := strings.Cut(s, "=")
	if !ok {
		return Entry{}, invalid(nil, "sysctl %s: missing \"=\" between key and value; expected %s", quote(s), expectedShape)
	}
	key := strings.Trim(rawKey, " \t")
	if strings.ContainsRune(key, '/') {
		// sysctl(8) accepts slashes; in our keys they would be ambiguous
		// with interface names, so only the dotted form is accepted.
		return Entry{}, invalid(nil, "sysctl %s: write the key with dots, not slashes; expected %s", quote(s), expectedShape)
	}
	parts := strings.Split(key, ".")
	if len(parts) < 5 || parts[0] != "net" {
		return Entry{}, invalid(nil, "sysctl %s: expected %s", quote(s), expectedShape)
	}
	family, table, name := parts[1], parts[2], parts[len(parts)-1]
	if !families[family] {
		return Entry{}, invalid(nil, "sysctl %s: family %s is not ipv4, ipv6 or mpls; expected %s", quote(s), quote(family), expectedShape)
	}
	if !tables[table] {
		return Entry{}, invalid(nil, "sysctl %s: table %s is not conf or neigh; expected %s", quote(s), quote(table), expectedShape)
	}
	// The interface part may itself contain dots (eth0.100) when a user
	// wrote a literal name; join it back so the message quotes it whole.
	iface := strings.Join(parts[3:len(parts)-1], ".")
	switch {
	case iface == placeholder || iface == "ifname":
	case parts[3] == placeholder || parts[3] == "ifname":
		return Entry{}, invalid(nil, "sysctl %s: expected a single <name> after %s, got %s; expected %s", quote(s), parts[3], quote(strings.Join(parts[4:], ".")), expectedShape)
	case iface == "":
		return Entry{}, invalid(nil, "sysctl %s: the interface part is empty, write IFNAME there; expected %s", quote(s), expectedShape)
	case iface == "all" || iface == "default":
		return Entry{}, invalid(nil, "sysctl %s: only per-interface sysctls are supported, not %s; write IFNAME; expected %s", quote(s), quote(iface), expectedShape)
	default:
		return Entry{}, invalid(nil, "sysctl %s: write IFNAME in place of the interface name %s (it is filled in with the container's interface); expected %s", quote(s), quote(iface), expectedShape)
	}
	if err := checkName(name); err != nil {
		return Entry{}, invalid(nil, "sysctl %s: %s; expected %s", quote(s), err, expectedShape)
	}
	value, err := checkValue(rawValue)
	if err != nil {
		return Entry{}, invalid(nil, "sysctl %s: %s", quote(s), err)
	}
	return Entry{
		Raw:    s,
		Key:    "net." + family + "." + table + "." + placeholder + "." + name,
		Family: family,
		Table:  table,
		Name:   name,
		Value:  value,
	}, nil
}

// ParseList parses entries in order and stops at the first bad one; the
// error gives its position and quotes it.
func ParseList(list []string) ([]Entry, error) {
	entries := make([]Entry, 0, len(list))
	for i, s := range list {
		e, err := Parse(s)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("the sysctl name is empty")
	}
	if len(name) > maxNameLen {
		return fmt.Errorf("the sysctl name is %d bytes, at most %d", len(name), maxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("the sysctl name %s must match [a-z0-9_]+", quote(name))
		}
	}
	return nil
}

// checkValue returns the value trimmed, or why it cannot be written. Tabs
// inside are kept: multi-value sysctls are tab or space separated.
func checkValue(raw string) (string, error) {
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '\n' || c == '\r':
			return "", fmt.Errorf("the value must be a single line")
		case c == 0:
			return "", fmt.Errorf("the value contains a NUL byte")
		case c != '\t' && (c < 0x20 || c == 0x7f):
			return "", fmt.Errorf("the value contains control character %q", c)
		}
	}
	v := strings.Trim(raw, " \t")
	if v == "" {
		return "", fmt.Errorf("the value is empty")
	}
	if len(v) > MaxValueLen {
		return "", fmt.Errorf("the value is %d bytes, at most %d", len(v), MaxValueLen)
	}
	return v, nil
}

// CheckIfName refuses interface names that the kernel would refuse or that
// would not name exactly one directory under /proc/sys/net/<family>/<table>.
// Dots are fine ("eth0.100" is a directory of that name); ":" is refused as
// the kernel does.
func CheckIfName(name string) error {
	switch {
	case name == "":
		return invalid(nil, "interface name is empty")
	case len(name) > maxIfNameLen:
		return invalid(nil, "interface name %s is %d bytes, at most %d", quote(name), len(name), maxIfNameLen)
	case name == "." || name == "..":
		return invalid(nil, "interface name %s is not allowed", quote(name))
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '/' || c == ':':
			return invalid(nil, "interface name %s contains %q", quote(name), c)
		case c <= ' ' || c == 0x7f:
			return invalid(nil, "interface name %s contains whitespace or a control character", quote(name))
		}
	}
	return nil
}

// Path returns the absolute path of the knob for interface ifname under
// DefaultRoot, e.g. /proc/sys/net/ipv4/conf/eth0.100/arp_notify.
func (e Entry) Path(ifname string) (string, error) {
	return e.pathIn(DefaultRoot, ifname)
}

// pathIn re-checks the fields because Entry is a plain struct a caller can
// fill by hand: the guarantee that a path stays inside
// root/<family>/<table>/<ifname>/ must not depend on having used Parse.
func (e Entry) pathIn(root, ifname string) (string, error) {
	if !families[e.Family] || !tables[e.Table] {
		return "", invalid(nil, "sysctl %s: family %s / table %s not valid; expected %s", quote(e.Raw), quote(e.Family), quote(e.Table), expectedShape)
	}
	if err := checkName(e.Name); err != nil {
		return "", invalid(nil, "sysctl %s: %s; expected %s", quote(e.Raw), err, expectedShape)
	}
	if err := CheckIfName(ifname); err != nil {
		return "", err
	}
	return filepath.Join(root, e.Family, e.Table, ifname, e.Name), nil
}
