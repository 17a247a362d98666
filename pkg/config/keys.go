package config

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"
)

// Keys a runtime or libcni adds to a plugin's configuration on its own
// (CNI spec, "Section 3: Execution of network configurations", and libcni's
// injection): never an operator's mistake, so never reported.
var runtimeKeys = map[string]bool{
	"prevResult":                true,
	"runtimeConfig":             true,
	"cni.dev/valid-attachments": true,
	"cni.dev/attachments":       true,
}

// confKeys and overrideKeys are the keys NetConf and args.cni decode, CNI's
// own (cniVersion, name, type, capabilities, ipam, dns) included.
var (
	confKeys     = jsonKeys(reflect.TypeOf(NetConf{}))
	overrideKeys = jsonKeys(reflect.TypeOf(Overrides{}))
)

// jsonKeys lists the JSON keys of a struct, those of embedded structs included.
func jsonKeys(t reflect.Type) map[string]bool {
	keys := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
		case f.Anonymous && name == "":
			for k := range jsonKeys(f.Type) {
				keys[k] = true
			}
		case name != "":
			keys[name] = true
		}
	}
	return keys
}

// Ignored is what decoding left out of a configuration: keys it does not
// know (a misspelt "advertiseCnt") and known keys set to null, which keep
// their default. Both are named as written, args.cni ones with that prefix.
type Ignored struct {
	Unknown, Null []string
}

// Empty says nothing was ignored.
func (ig Ignored) Empty() bool { return len(ig.Unknown) == 0 && len(ig.Null) == 0 }

// String is one line for the log and stderr.
func (ig Ignored) String() string {
	var parts []string
	if len(ig.Unknown) > 0 {
		parts = append(parts, "unknown keys ignored: "+strings.Join(ig.Unknown, ", "))
	}
	if len(ig.Null) > 0 {
		parts = append(parts, "null values ignored, defaults used: "+strings.Join(ig.Null, ", "))
	}
	return strings.Join(parts, "; ")
}

// IgnoredKeys says which keys of a configuration Decode ignores. Runtimes
// add keys of their own, so ADD does not fail on an unknown key; it names
// them. Undecodable input gives nothing: Decode reports it.
func IgnoredKeys(stdin []byte) Ignored {
	var ig Ignored
	top := objectKeys(stdin)
	for _, k := range sortedKeys(top) {
		v := top[k]
		switch {
		case runtimeKeys[k]:
		case !confKeys[k]:
			ig.Unknown = append(ig.Unknown, k)
		case isNull(v):
			ig.Null = append(ig.Null, k)
		}
	}
	args := objectKeys(top["args"])
	cni := objectKeys(args["cni"])
	for _, k := range sortedKeys(cni) {
		switch {
		case !overrideKeys[k]:
			ig.Unknown = append(ig.Unknown, "args.cni."+k)
		case isNull(cni[k]):
			ig.Null = append(ig.Null, "args.cni."+k)
		}
	}
	return ig
}

// DecodeStrict is Decode for a configuration an operator writes (the
// installer's --plugin-config): an unknown key, a key only runtimes set, or
// a null value is refused (code 7) rather than ignored, since nothing but a
// mistake puts them there.
func DecodeStrict(stdin []byte) (*NetConf, error) {
	conf, err := Decode(stdin)
	if err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(objectKeys(stdin)) {
		if runtimeKeys[k] {
			return nil, Error(k, "is set by the runtime, not in a plugin configuration")
		}
	}
	ig := IgnoredKeys(stdin)
	if len(ig.Unknown) > 0 {
		return nil, Error(ig.Unknown[0], "unknown key (known: %s)", strings.Join(sortedKeys(confKeys), ", "))
	}
	if len(ig.Null) > 0 {
		return nil, Error(ig.Null[0], "is null: give a value or leave the key out")
	}
	return conf, nil
}

// objectKeys decodes a JSON object's members, or nothing when raw is not an object.
func objectKeys(raw []byte) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
