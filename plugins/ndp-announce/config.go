package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/ndp-announce/ndp-announce/pkg/l2disco"
	"github.com/ndp-announce/ndp-announce/pkg/sysctl"
)

// Defaults and ranges. The advertisement ranges are l2disco's (moby's, from RFC 5227 and RFC 4861).
const (
	defaultAdvertiseCount      = 3
	defaultAdvertiseIntervalMs = 1000
	defaultLinkUpTimeoutMs     = 5000
	defaultBridgePortTimeoutMs = 200
	defaultMcastRouteTimeoutMs = 200
	defaultDADTimeoutMs        = 3000
	defaultDataDir             = "/run/cni/ndp-announce"

	minAdvertiseCount, maxAdvertiseCount           = l2disco.MinCount, l2disco.MaxCount
	minAdvertiseIntervalMs, maxAdvertiseIntervalMs = int(l2disco.MinInterval / time.Millisecond), int(l2disco.MaxInterval / time.Millisecond)
	maxTimeoutMs                                   = 30000
)

// baseConf is the part of the configuration every command uses. DEL, GC and STATUS decode only this,
// so that a config ADD refuses (a mistyped count, say) can still be cleaned up.
type baseConf struct {
	types.PluginConf

	DataDir  string `json:"dataDir"`
	LogFile  string `json:"logFile,omitempty"`
	LogLevel string `json:"logLevel,omitempty"`
}

// NetConf is what users write in the network configuration.
type NetConf struct {
	baseConf

	Sysctls             []string `json:"sysctls,omitempty"`
	AdvertiseCount      int      `json:"advertiseCount"`
	AdvertiseIntervalMs int      `json:"advertiseIntervalMs"`
	AnnounceToGateways  bool     `json:"announceToGateways"`
	DisableUnusedIPv6   bool     `json:"disableUnusedIPv6"`
	LinkUpTimeoutMs     int      `json:"linkUpTimeoutMs"`
	BridgePortTimeoutMs int      `json:"bridgePortTimeoutMs"`
	McastRouteTimeoutMs int      `json:"mcastRouteTimeoutMs"`
	DADTimeoutMs        int      `json:"dadTimeoutMs"`
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
	LinkUpTimeout      time.Duration
	BridgePortTimeout  time.Duration
	McastRouteTimeout  time.Duration
	DADTimeout         time.Duration
	LogLevel           slog.Level
}

// configError is a bad configuration: CNI code 7, and the message names the field.
func configError(field, format string, a ...any) *types.Error {
	return types.NewError(types.ErrInvalidNetworkConfig, field+": "+fmt.Sprintf(format, a...), "")
}

// decodeConf unmarshals stdin with defaults in place, so an absent field keeps its default and a
// present one is range-checked by planFromConf.
func decodeConf(stdin []byte) (*NetConf, error) {
	conf := &NetConf{
		baseConf:            defaultBase(),
		AdvertiseCount:      defaultAdvertiseCount,
		AdvertiseIntervalMs: defaultAdvertiseIntervalMs,
		AnnounceToGateways:  true,
		DisableUnusedIPv6:   true,
		LinkUpTimeoutMs:     defaultLinkUpTimeoutMs,
		BridgePortTimeoutMs: defaultBridgePortTimeoutMs,
		McastRouteTimeoutMs: defaultMcastRouteTimeoutMs,
		DADTimeoutMs:        defaultDADTimeoutMs,
	}
	if err := json.Unmarshal(stdin, conf); err != nil {
		return nil, jsonError(err)
	}
	return conf, conf.baseConf.validate()
}

// decodeBase decodes only what DEL, GC and STATUS need.
func decodeBase(stdin []byte) (*baseConf, error) {
	conf := defaultBase()
	if err := json.Unmarshal(stdin, &conf); err != nil {
		return nil, jsonError(err)
	}
	return &conf, conf.validate()
}

func defaultBase() baseConf {
	return baseConf{DataDir: defaultDataDir, LogLevel: "info"}
}

func (c *baseConf) validate() error {
	if !strings.HasPrefix(c.DataDir, "/") {
		return configError("dataDir", "must be an absolute path, got %q", c.DataDir)
	}
	if c.LogFile != "" && !strings.HasPrefix(c.LogFile, "/") {
		return configError("logFile", "must be an absolute path, got %q", c.LogFile)
	}
	return nil
}

// jsonError turns a decoding error into a config error that names the field when it can.
func jsonError(err error) *types.Error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return configError(typeErr.Field, "expected %s, got %s", typeErr.Type, typeErr.Value)
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return types.NewError(types.ErrDecodingFailure,
			fmt.Sprintf("network configuration is not valid JSON at byte %d: %v", syntaxErr.Offset, err), "")
	}
	return types.NewError(types.ErrDecodingFailure, "network configuration: "+err.Error(), "")
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, configError("logLevel", "must be one of debug, info, warn, error, got %q", s)
}

func checkRange(field string, v, lo, hi int) error {
	if v < lo || v > hi {
		return configError(field, "must be between %d and %d, got %d", lo, hi, v)
	}
	return nil
}

// planFromConf validates everything ADD and CHECK use and merges the args.cni overrides.
func planFromConf(conf *NetConf) (*Plan, error) {
	p := &Plan{
		Conf:               conf,
		AdvertiseCount:     conf.AdvertiseCount,
		AnnounceToGateways: conf.AnnounceToGateways,
		DisableUnusedIPv6:  conf.DisableUnusedIPv6,
	}
	interval := conf.AdvertiseIntervalMs
	checks := []struct {
		field     string
		v, lo, hi int
	}{
		{"advertiseCount", conf.AdvertiseCount, minAdvertiseCount, maxAdvertiseCount},
		{"advertiseIntervalMs", conf.AdvertiseIntervalMs, minAdvertiseIntervalMs, maxAdvertiseIntervalMs},
		{"linkUpTimeoutMs", conf.LinkUpTimeoutMs, 0, maxTimeoutMs},
		{"bridgePortTimeoutMs", conf.BridgePortTimeoutMs, 0, maxTimeoutMs},
		{"mcastRouteTimeoutMs", conf.McastRouteTimeoutMs, 0, maxTimeoutMs},
		{"dadTimeoutMs", conf.DADTimeoutMs, 0, maxTimeoutMs},
	}
	for _, c := range checks {
		if err := checkRange(c.field, c.v, c.lo, c.hi); err != nil {
			return nil, err
		}
	}

	allow, err := sysctl.NewAllowlist(conf.AllowedSysctls)
	if err != nil {
		return nil, configError("allowedSysctls", "%v", err)
	}
	for i, s := range conf.Sysctls {
		field := fmt.Sprintf("sysctls[%d]", i)
		e, err := sysctl.Parse(s)
		if err != nil {
			return nil, configError(field, "%v", err)
		}
		p.Sysctls = append(p.Sysctls, e)
		p.SysctlFields = append(p.SysctlFields, field)
	}

	if conf.Args != nil && conf.Args.CNI != nil {
		o := conf.Args.CNI
		if o.AdvertiseCount != nil {
			if err := checkRange("args.cni.advertiseCount", *o.AdvertiseCount, minAdvertiseCount, maxAdvertiseCount); err != nil {
				return nil, err
			}
			p.AdvertiseCount = *o.AdvertiseCount
		}
		if o.AdvertiseIntervalMs != nil {
			if err := checkRange("args.cni.advertiseIntervalMs", *o.AdvertiseIntervalMs, minAdvertiseIntervalMs, maxAdvertiseIntervalMs); err != nil {
				return nil, err
			}
			interval = *o.AdvertiseIntervalMs
		}
		for i, s := range o.Sysctls {
			field := fmt.Sprintf("args.cni.sysctls[%d]", i)
			e, err := sysctl.Parse(s)
			if err != nil {
				return nil, configError(field, "%v", err)
			}
			if !allow.Allows(e.Key) {
				return nil, configError(field, "%q is not allowed by allowedSysctls", e.Key)
			}
			p.Sysctls = append(p.Sysctls, e)
			p.SysctlFields = append(p.SysctlFields, field)
		}
	}

	p.AdvertiseInterval = ms(interval)
	p.LinkUpTimeout = ms(conf.LinkUpTimeoutMs)
	p.BridgePortTimeout = ms(conf.BridgePortTimeoutMs)
	p.McastRouteTimeout = ms(conf.McastRouteTimeoutMs)
	p.DADTimeout = ms(conf.DADTimeoutMs)
	if p.LogLevel, err = parseLevel(conf.LogLevel); err != nil {
		return nil, err
	}
	return p, nil
}

func ms(v int) time.Duration { return time.Duration(v) * time.Millisecond }

// parsePrevResult requires a prevResult (we only make sense chained after the plugin that created the
// interface) and converts it to the current result type.
func parsePrevResult(conf *NetConf) (*current.Result, error) {
	if conf.RawPrevResult == nil {
		return nil, configError("prevResult", "missing: ndp-announce must be chained after a plugin that creates the interface, such as bridge")
	}
	if err := version.ParsePrevResult(&conf.PluginConf); err != nil {
		return nil, configError("prevResult", "cannot parse: %v", err)
	}
	res, err := current.NewResultFromResult(conf.PrevResult)
	if err != nil {
		return nil, configError("prevResult", "cannot convert to version %s: %v", current.ImplementedSpecVersion, err)
	}
	return res, nil
}

// loadChained is what ADD and CHECK start with: the validated plan, the previous plugin's result in
// the current version, and our interface in it. Any failure is a CNI error naming the field.
func loadChained(args *skel.CmdArgs) (*Plan, *current.Result, *attachment, error) {
	conf, err := decodeConf(args.StdinData)
	if err != nil {
		return nil, nil, nil, err
	}
	plan, err := planFromConf(conf)
	if err != nil {
		return nil, nil, nil, err
	}
	res, err := parsePrevResult(conf)
	if err != nil {
		return nil, nil, nil, err
	}
	att, err := findAttachment(res, args.IfName, args.Netns)
	if err != nil {
		return nil, nil, nil, err
	}
	return plan, res, att, nil
}
