package config

import (
	"github.com/containernetworking/cni/pkg/types"

	"github.com/ndp-announce/ndp-announce/pkg/sysctl"
)

// reservedIfNames are names that are not one container interface to the
// kernel: /proc/sys/net/*/conf/{all,default} change every interface of the
// namespace (default: every one created later), and lo is the loopback,
// which a chained plugin after bridge never owns. A sysctl written for
// IFNAME with one of these would reach far beyond the attachment.
var reservedIfNames = map[string]string{
	"all":     "its sysctls are every interface's in the namespace",
	"default": "its sysctls are the defaults of every interface created later",
	"lo":      "it is the namespace's loopback, not an interface a plugin creates",
}

// CheckIfName refuses CNI_IFNAME values ndp-announce must never act on,
// with CNI code 4 (invalid environment variables): the reserved names above
// and any name the kernel refuses or that would not name exactly one
// directory under /proc/sys/net.
func CheckIfName(ifName string) error {
	if why, ok := reservedIfNames[ifName]; ok {
		return types.NewError(types.ErrInvalidEnvironmentVariables,
			"CNI_IFNAME: "+ifName+" is reserved: "+why, "")
	}
	if err := sysctl.CheckIfName(ifName); err != nil {
		return types.NewError(types.ErrInvalidEnvironmentVariables, "CNI_IFNAME: "+err.Error(), "")
	}
	return nil
}
