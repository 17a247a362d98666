package config

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"

	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
)

// ParsePrevResult requires a prevResult (we only make sense chained after the plugin that created the
// interface), checks every entry as written and converts it to the current result type.
func ParsePrevResult(conf *NetConf) (*current.Result, error) {
	if conf.RawPrevResult == nil {
		return nil, Error("prevResult", "missing: ndp-announce must be chained after a plugin that creates the interface, such as bridge")
	}
	if err := checkPrevResult(conf.RawPrevResult); err != nil {
		return nil, err
	}
	if err := version.ParsePrevResult(&conf.PluginConf); err != nil {
		return nil, Error("prevResult", "cannot parse: %v", err)
	}
	res, err := current.NewResultFromResult(conf.PrevResult)
	if err != nil {
		return nil, Error("prevResult", "cannot convert to version %s: %v", current.ImplementedSpecVersion, err)
	}
	return res, nil
}

// checkPrevResult validates the previous plugin's result as written, before anything trusts it:
// an address, gateway or interface index that is wrong would make ADD change the wrong interface
// or announce what nobody owns. Each problem is named by its place, prevResult.ips[1].gateway.
func checkPrevResult(raw map[string]any) error {
	interfaces, err := listAt(raw, "interfaces")
	if err != nil {
		return err
	}
	for i, v := range interfaces {
		field := fmt.Sprintf("prevResult.interfaces[%d]", i)
		if _, ok := v.(map[string]any); !ok {
			return Error(field, "expected an object")
		}
		for _, key := range []string{"name", "sandbox", "mac"} {
			if err := optionalString(v, field, key); err != nil {
				return err
			}
		}
	}
	ips, err := listAt(raw, "ips")
	if err != nil {
		return err
	}
	for i, v := range ips {
		if err := checkIPConfig(v, fmt.Sprintf("prevResult.ips[%d]", i), len(interfaces)); err != nil {
			return err
		}
	}
	routes, err := listAt(raw, "routes")
	if err != nil {
		return err
	}
	for i, v := range routes {
		if err := checkRoute(v, fmt.Sprintf("prevResult.routes[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

func listAt(raw map[string]any, key string) ([]any, error) {
	v, ok := raw[key]
	if !ok || v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, Error("prevResult."+key, "expected a list")
	}
	return list, nil
}

func optionalString(v any, field, key string) error {
	x, ok := v.(map[string]any)[key]
	if _, isString := x.(string); ok && x != nil && !isString {
		return Error(field+"."+key, "expected a string")
	}
	return nil
}

// checkIPConfig: the interface index points into interfaces, the address is an address with a
// prefix length, not IPv4 written as IPv6 (::ffff:a.b.c.d, which CNI would take for IPv4 with a
// /120 mask), and the gateway, if any, an address of the same family.
func checkIPConfig(v any, field string, nInterfaces int) error {
	ipc, ok := v.(map[string]any)
	if !ok {
		return Error(field, "expected an object")
	}
	if idx, ok := ipc["interface"]; ok && idx != nil {
		n, isNum := idx.(float64)
		if !isNum || n != math.Trunc(n) {
			return Error(field+".interface", "expected a whole number, got %s", jsonText(idx))
		}
		if n < 0 || n >= float64(nInterfaces) {
			return Error(field+".interface", "%v is not an index of prevResult.interfaces (it has %d)", idx, nInterfaces)
		}
	}
	s, _ := ipc["address"].(string)
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		return Error(field+".address", "expected an address with a prefix length, got %s", jsonText(ipc["address"]))
	}
	if pfx.Addr().Is4In6() {
		return Error(field+".address", "%s is IPv4 written as IPv6: write it as IPv4", s)
	}
	gw, present, err := addrAt(ipc, field, "gateway")
	if err != nil || !present {
		return err
	}
	if gw.Is4() != pfx.Addr().Is4() {
		return Error(field+".gateway", "%s is not of the address's family (%s)", gw, pfx)
	}
	return nil
}

func checkRoute(v any, field string) error {
	r, ok := v.(map[string]any)
	if !ok {
		return Error(field, "expected an object")
	}
	s, _ := r["dst"].(string)
	if _, err := netip.ParsePrefix(s); err != nil {
		return Error(field+".dst", "expected a prefix, got %s", jsonText(r["dst"]))
	}
	_, _, err := addrAt(r, field, "gw")
	return err
}

// addrAt reads obj's optional address key (absent, null or "" is none); IPv4 written as IPv6 is
// refused.
func addrAt(obj map[string]any, parent, key string) (netip.Addr, bool, error) {
	field := parent + "." + key
	v, ok := obj[key]
	if !ok || v == nil || v == "" {
		return netip.Addr{}, false, nil
	}
	s, _ := v.(string)
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false, Error(field, "expected an IP address, got %s", jsonText(v))
	}
	if a.Is4In6() {
		return netip.Addr{}, false, Error(field, "%s is IPv4 written as IPv6: write it as IPv4", s)
	}
	return a, true, nil
}

// jsonText shows a decoded value as it was written.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
