// Package config decodes and validates ndp-announce's CNI network
// configuration before anything is touched: every default and every range
// lives here, a bad value is a CNI error (code 7) naming the field as the
// user wrote it, and the previous plugin's result is checked entry by entry
// and reduced to the container interface the plugin works on. CNI_IFNAME
// names that are not one container interface are refused (code 4). Unknown
// and null keys are reported (IgnoredKeys), or refused in an operator's
// configuration (DecodeStrict).
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"

	"github.com/ndp-announce/ndp-announce/pkg/iface"
	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
	"github.com/ndp-announce/ndp-announce/pkg/logging"
	"github.com/ndp-announce/ndp-announce/pkg/sysctl"
)

// Defaults and ranges. The advertisement ones are l2disco's (moby's, from RFC 5227 and RFC 4861),
// the wait deadlines iface's: this package only spells them in the config's units.
const (
	DefaultDataDir = "/run/cni/ndp-announce"

	minAdvertiseCount, maxAdvertiseCount           = l2disco.MinCount, l2disco.MaxCount
	minAdvertiseIntervalMs, maxAdvertiseIntervalMs = int(l2disco.MinInterval / time.Millisecond), int(l2disco.MaxInterval / time.Millisecond)
	maxTimeoutMs                                   = 30000
	maxStaleListenMs                               = int(l2disco.MaxStaleWindow / time.Millisecond)
)

func toMs(d time.Duration) int { return int(d / time.Millisecond) }

// BaseConf is the part of the configuration every command uses. DEL, GC and STATUS decode only this,
// so that a config ADD refuses (a mistyped count, say) can still be cleaned up.
type BaseConf struct {
	types.PluginConf

	DataDir  string `json:"dataDir"`
	LogFile  string `json:"logFile,omitempty"`
	LogLevel string `json:"logLevel,omitempty"`
}

// NetConf is what users write in the network configuration.
type NetConf struct {
	BaseConf

	Sysctls             []string `json:"sysctls,omitempty"`
	AdvertiseCount      int      `json:"advertiseCount"`
	AdvertiseIntervalMs int      `json:"advertiseIntervalMs"`
	AnnounceToGateways  bool     `json:"announceToGateways"`
	DisableUnusedIPv6   bool     `json:"disableUnusedIPv6"`
	LinkUpTimeoutMs     int      `json:"linkUpTimeoutMs"`
	BridgePortTimeoutMs int      `json:"bridgePortTimeoutMs"`
	McastRouteTimeoutMs int      `json:"mcastRouteTimeoutMs"`
	DADTimeoutMs        int      `json:"dadTimeoutMs"`
	StaleListenMs       int      `json:"staleListenMs"`
	AllowedSysctls      []string `json:"allowedSysctls,omitempty"`

	// Args carries per-attachment overrides, the CNI convention that Multus fills from pod annotations.
	Args *struct {
		CNI *Overrides `json:"cni,omitempty"`
	} `json:"args,omitempty"`
}

// Overrides are the per-attachment settings accepted in args.cni. Pointers tell "absent" from zero.
type Overrides struct {
	Sysctls             []string `json:"sysctls,omitempty"`
	AdvertiseCount      *int     `json:"advertiseCount,omitempty"`
	AdvertiseIntervalMs *int     `json:"advertiseIntervalMs,omitempty"`
}

// Plan is a validated configuration with overrides merged: everything ADD needs, decided before
// anything is touched.
type Plan struct {
	Conf               *NetConf
	Sysctls            []sysctl.Entry
	SysctlFields       []string // where each of Sysctls was written: "sysctls[0]", "args.cni.sysctls[1]"
	AdvertiseCount     int
	AdvertiseInterval  time.Duration
	AnnounceToGateways bool
	DisableUnusedIPv6  bool
	Waits              iface.WaitTimeouts // 0 = do not wait
	// StaleListen is how long after ADD the black-hole listener listens for
	// peers still sending to the old MAC; 0 = no listener.
	StaleListen time.Duration
	LogLevel    slog.Level
}

// Error is a bad configuration: CNI code 7, and the message names the field.
func Error(field, format string, a ...any) *types.Error {
	return types.NewError(types.ErrInvalidNetworkConfig, field+": "+fmt.Sprintf(format, a...), "")
}

// Decode unmarshals stdin with defaults in place, so an absent field keeps its default and a
// present one is range-checked by planFromConf.
func Decode(stdin []byte) (*NetConf, error) {
	conf := &NetConf{
		BaseConf:            defaultBase(),
		AdvertiseCount:      l2disco.DefaultCount,
		AdvertiseIntervalMs: toMs(l2disco.DefaultInterval),
		AnnounceToGateways:  true,
		DisableUnusedIPv6:   true,
		LinkUpTimeoutMs:     toMs(iface.DefaultWaits.LinkUp),
		BridgePortTimeoutMs: toMs(iface.DefaultWaits.BridgePort),
		McastRouteTimeoutMs: toMs(iface.DefaultWaits.McastRoute),
		DADTimeoutMs:        toMs(iface.DefaultWaits.DAD),
		StaleListenMs:       toMs(l2disco.DefaultStaleWindow),
	}
	if err := json.Unmarshal(stdin, conf); err != nil {
		return nil, jsonError(err)
	}
	return conf, conf.BaseConf.validate()
}

// DecodeBase decodes only what DEL, GC and STATUS need.
func DecodeBase(stdin []byte) (*BaseConf, error) {
	conf := defaultBase()
	if err := json.Unmarshal(stdin, &conf); err != nil {
		return nil, jsonError(err)
	}
	return &conf, conf.validate()
}

func defaultBase() BaseConf {
	return BaseConf{DataDir: DefaultDataDir, LogLevel: "info"}
}

func (c *BaseConf) validate() error {
	if !strings.HasPrefix(c.DataDir, "/") {
		return Error("dataDir", "must be an absolute path, got %q", c.DataDir)
	}
	if c.LogFile != "" && !strings.HasPrefix(c.LogFile, "/") {
		return Error("logFile", "must be an absolute path, got %q", c.LogFile)
	}
	return nil
}

// jsonError turns a decoding error into a config error that names the field when it can.
func jsonError(err error) *types.Error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return Error(jsonField(typeErr.Field), "expected %s, got %s", jsonKind(typeErr.Type), typeErr.Value)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return types.NewError(types.ErrDecodingFailure,
			fmt.Sprintf("network configuration is not valid JSON at byte %d: %v", syntaxErr.Offset, err), "")
	}
	return types.NewError(types.ErrDecodingFailure, "network configuration: "+err.Error(), "")
}

// jsonField is a decoding error's field path as the user wrote it: without
// the Go names of the embedded structs ("BaseConf.PluginConf.prevResult").
func jsonField(path string) string {
	parts := strings.Split(path, ".")
	kept := parts[:0]
	for _, p := range parts {
		if p != "BaseConf" && p != "PluginConf" && p != "NetConf" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, ".")
}

// jsonKind names a Go type the way a JSON writer thinks of it.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
		return "a whole number"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

// span is an inclusive range of a config number.
type span struct{ lo, hi int }

var (
	countSpan    = span{minAdvertiseCount, maxAdvertiseCount}
	intervalSpan = span{minAdvertiseIntervalMs, maxAdvertiseIntervalMs}
	timeoutSpan  = span{0, maxTimeoutMs}
	listenSpan   = span{0, maxStaleListenMs}
)

func checkRange(field string, v int, r span) error {
	lo, hi := r.lo, r.hi
	if v < lo || v > hi {
		return Error(field, "must be between %d and %d, got %d", lo, hi, v)
	}
	return nil
}

// NewPlan validates everything ADD and CHECK use and merges the args.cni overrides.
func NewPlan(conf *NetConf) (*Plan, error) {
	if err := checkRanges(conf); err != nil {
		return nil, err
	}
	p := &Plan{
		Conf:               conf,
		AdvertiseCount:     conf.AdvertiseCount,
		AdvertiseInterval:  ms(conf.AdvertiseIntervalMs),
		AnnounceToGateways: conf.AnnounceToGateways,
		DisableUnusedIPv6:  conf.DisableUnusedIPv6,
		Waits: iface.WaitTimeouts{
			LinkUp:     ms(conf.LinkUpTimeoutMs),
			BridgePort: ms(conf.BridgePortTimeoutMs),
			McastRoute: ms(conf.McastRouteTimeoutMs),
			DAD:        ms(conf.DADTimeoutMs),
		},
		StaleListen: ms(conf.StaleListenMs),
	}
	var err error
	if p.LogLevel, err = logging.ParseLevel(conf.LogLevel); err != nil {
		return nil, Error("logLevel", "%v", err)
	}
	allow, err := sysctl.NewAllowlist(conf.AllowedSysctls)
	if err != nil {
		return nil, Error("allowedSysctls", "%v", err)
	}
	if err := p.addSysctls("sysctls", conf.Sysctls, nil); err != nil {
		return nil, err
	}
	if conf.Args != nil && conf.Args.CNI != nil {
		if err := p.override(conf.Args.CNI, allow); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// checkRanges checks every number of the config against its range.
func checkRanges(conf *NetConf) error {
	checks := []struct {
		field string
		v     int
		r     span
	}{
		{"advertiseCount", conf.AdvertiseCount, countSpan},
		{"advertiseIntervalMs", conf.AdvertiseIntervalMs, intervalSpan},
		{"linkUpTimeoutMs", conf.LinkUpTimeoutMs, timeoutSpan},
		{"bridgePortTimeoutMs", conf.BridgePortTimeoutMs, timeoutSpan},
		{"mcastRouteTimeoutMs", conf.McastRouteTimeoutMs, timeoutSpan},
		{"dadTimeoutMs", conf.DADTimeoutMs, timeoutSpan},
		{"staleListenMs", conf.StaleListenMs, listenSpan},
	}
	for _, c := range checks {
		if err := checkRange(c.field, c.v, c.r); err != nil {
			return err
		}
	}
	return nil
}

// override merges the per-attachment settings of args.cni, each in its range, its sysctls only
// when allow allows them.
func (p *Plan) override(o *Overrides, allow *sysctl.Allowlist) error {
	if o.AdvertiseCount != nil {
		if err := checkRange("args.cni.advertiseCount", *o.AdvertiseCount, countSpan); err != nil {
			return err
		}
		p.AdvertiseCount = *o.AdvertiseCount
	}
	if o.AdvertiseIntervalMs != nil {
		if err := checkRange("args.cni.advertiseIntervalMs", *o.AdvertiseIntervalMs, intervalSpan); err != nil {
			return err
		}
		p.AdvertiseInterval = ms(*o.AdvertiseIntervalMs)
	}
	return p.addSysctls("args.cni.sysctls", o.Sysctls, func(e sysctl.Entry) error {
		if !allow.Allows(e.Key) {
			return fmt.Errorf("%q is not allowed by allowedSysctls", e.Key)
		}
		return nil
	})
}

// addSysctls parses list (written at field) onto p.Sysctls. admit, unless nil (the node's own
// config is trusted), may refuse an entry.
func (p *Plan) addSysctls(field string, list []string, admit func(sysctl.Entry) error) error {
	for i, s := range list {
		at := fmt.Sprintf("%s[%d]", field, i)
		e, err := sysctl.Parse(s)
		if err != nil {
			return Error(at, "%v", err)
		}
		if admit != nil {
			if err := admit(e); err != nil {
				return Error(at, "%v", err)
			}
		}
		p.Sysctls = append(p.Sysctls, e)
		p.SysctlFields = append(p.SysctlFields, at)
	}
	return nil
}

func ms(v int) time.Duration { return time.Duration(v) * time.Millisecond }

// Load is what ADD and CHECK start with: the validated plan, the previous plugin's result in
// the current version, and our interface in it. Any failure is a CNI error naming the field
// (code 7), or CNI_IFNAME (code 4).
func Load(args *skel.CmdArgs) (*Plan, *current.Result, *Attachment, error) {
	conf, err := Decode(args.StdinData)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := CheckIfName(args.IfName); err != nil {
		return nil, nil, nil, err
	}
	plan, err := NewPlan(conf)
	if err != nil {
		return nil, nil, nil, err
	}
	res, err := ParsePrevResult(conf)
	if err != nil {
		return nil, nil, nil, err
	}
	att, err := FindAttachment(res, args.IfName, args.Netns)
	if err != nil {
		return nil, nil, nil, err
	}
	return plan, res, att, nil
}
