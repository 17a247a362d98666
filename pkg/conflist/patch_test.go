package conflist

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
)

var ndpa = Options{Plugin: []byte(`{"type": "ndp-announce"}`), After: []string{"bridge"}}

// anyOf follows several types, and turns down an ipvlan that is not in l2 mode.
var anyOf = Options{Plugin: []byte(`{"type": "ndp-announce"}`), After: []string{"bridge", "macvlan", "ipvlan"},
	Accept: func(typ string, obj []byte) error {
		var p struct{ Mode string }
		if err := json.Unmarshal(obj, &p); err != nil {
			return err
		}
		if typ == "ipvlan" && p.Mode != "" && p.Mode != "l2" {
			return fmt.Errorf("mode %q", p.Mode)
		}
		return nil
	}}

func TestChainAfterAnyOf(t *testing.T) {
	tests := []struct{ name, in, want string }{{
		name: "after the first plugin of any listed type, before the meta plugins",
		in:   `{"name":"n","plugins":[{"type":"macvlan","master":"eth0"},{"type":"tuning"},{"type":"bridge"}]}`,
		want: `{"name":"n","plugins":[{"type":"macvlan","master":"eth0"},{"type":"ndp-announce"},{"type":"tuning"},{"type":"bridge"}]}`,
	}, {
		name: "a candidate Accept turns down is skipped for the next one",
		in:   `{"name":"n","plugins":[{"type":"ipvlan","mode":"l3"},{"type":"ipvlan","mode":"l2"}]}`,
		want: `{"name":"n","plugins":[{"type":"ipvlan","mode":"l3"},{"type":"ipvlan","mode":"l2"},{"type":"ndp-announce"}]}`,
	}, {
		name: "a single plugin of a listed type becomes a list",
		in:   `{"cniVersion":"0.4.0","name":"n","type":"ipvlan","master":"eth0"}`,
		want: "{\n  \"cniVersion\": \"0.4.0\",\n  \"name\": \"n\",\n  \"plugins\": [\n    {\"cniVersion\":\"0.4.0\",\"name\":\"n\",\"type\":\"ipvlan\",\"master\":\"eth0\"},\n    {\n      \"type\": \"ndp-announce\"\n    }\n  ]\n}\n",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Chain([]byte(tt.in), anyOf)
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Data) != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", res.Data, tt.want)
			}
			if _, err := libcni.ConfListFromBytes(res.Data); err != nil {
				t.Errorf("libcni cannot load the output: %v", err)
			}
		})
	}
}

func TestChain(t *testing.T) {
	tests := []struct {
		name, in, want string
		converted      bool
		comments       bool
	}{{
		name: "pretty list: goes right after bridge, before portmap, in the file's layout",
		in: `{
  "cniVersion": "1.0.0",
  "name": "podnet",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "198.51.100.0/24"}]]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`,
		want: `{
  "cniVersion": "1.0.0",
  "name": "podnet",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "ipam": {"type": "host-local", "ranges": [[{"subnet": "198.51.100.0/24"}]]}
    },
    {
      "type": "ndp-announce"
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`,
	}, {
		name: "bridge last: appended",
		in:   "{\"name\": \"n\",\n\t\"plugins\": [\n\t\t{\"type\": \"bridge\"}\n\t]\n}",
		want: "{\"name\": \"n\",\n\t\"plugins\": [\n\t\t{\"type\": \"bridge\"},\n\t\t{\n\t\t\t\"type\": \"ndp-announce\"\n\t\t}\n\t]\n}",
	}, {
		name:     "bridge last with a comment after it: the comment stays on its line",
		in:       "{\"name\": \"n\", \"plugins\": [\n  {\"type\": \"bridge\"} // the only one\n]}",
		want:     "{\"name\": \"n\", \"plugins\": [\n  {\"type\": \"bridge\"}, // the only one\n  {\n    \"type\": \"ndp-announce\"\n  }\n]}",
		comments: true,
	}, {
		name: "compact list stays compact",
		in:   `{"cniVersion":"0.4.0","name":"n","plugins":[{"type":"bridge"},{"type":"firewall"}]}`,
		want: `{"cniVersion":"0.4.0","name":"n","plugins":[{"type":"bridge"},{"type":"ndp-announce"},{"type":"firewall"}]}`,
	}, {
		name: "inline with spaces",
		in:   `{"name": "n", "plugins": [{"type": "bridge"}, {"type": "tuning"}]}`,
		want: `{"name": "n", "plugins": [{"type": "bridge"}, {"type":"ndp-announce"}, {"type": "tuning"}]}`,
	}, {
		name: "several plugins, several bridges: after the first bridge",
		in:   `{"name":"n","plugins":[{"type":"tuning"},{"type":"bridge","bridge":"a"},{"type":"bandwidth"},{"type":"bridge","bridge":"b"}]}`,
		want: `{"name":"n","plugins":[{"type":"tuning"},{"type":"bridge","bridge":"a"},{"type":"ndp-announce"},{"type":"bandwidth"},{"type":"bridge","bridge":"b"}]}`,
	}, {
		name: "unknown fields, key order, number and string spellings are kept byte for byte",
		in:   `{"zeta": {"b": 1, "a": 2.50}, "name": "n", "plugins": [{"type": "bridge", "mtu": 1.5e3, "x-vendor": "\u00e9\/"}], "cniVersion": "1.1.0", "alpha": [null, true]}`,
		want: `{"zeta": {"b": 1, "a": 2.50}, "name": "n", "plugins": [{"type": "bridge", "mtu": 1.5e3, "x-vendor": "\u00e9\/"},{"type":"ndp-announce"}], "cniVersion": "1.1.0", "alpha": [null, true]}`,
	}, {
		name: "comments are kept where they were; // inside a string is not a comment",
		in: `// node network, managed by hand
{
  "name": "n", /* see the wiki */
  "plugins": [
    {"type": "bridge", "url": "http://example.invalid/*x*/"}, // the bridge
    /* then */ {"type": "portmap"}
  ]
}
`,
		want: `// node network, managed by hand
{
  "name": "n", /* see the wiki */
  "plugins": [
    {"type": "bridge", "url": "http://example.invalid/*x*/"}, // the bridge
    {
      "type": "ndp-announce"
    },
    /* then */ {"type": "portmap"}
  ]
}
`,
		comments: true,
	}, {
		name: "a single-plugin .conf becomes a list; the plugin is kept verbatim, indented",
		in: `{
  "cniVersion": "0.3.1",
  "name": "mynet",
  "type": "bridge",
  "bridge": "cni0",
  "ipam": {"type": "host-local", "subnet": "198.51.100.0/24"}
}
`,
		want: `{
  "cniVersion": "0.3.1",
  "name": "mynet",
  "plugins": [
    {
      "cniVersion": "0.3.1",
      "name": "mynet",
      "type": "bridge",
      "bridge": "cni0",
      "ipam": {"type": "host-local", "subnet": "198.51.100.0/24"}
    },
    {
      "type": "ndp-announce"
    }
  ]
}
`,
		converted: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Chain([]byte(tt.in), ndpa)
			if err != nil {
				t.Fatalf("Chain: %v", err)
			}
			if got := string(res.Data); got != tt.want {
				t.Fatalf("Chain output:\n%s\nwant:\n%s", got, tt.want)
			}
			if !res.Changed || res.Converted != tt.converted || res.Comments != tt.comments {
				t.Errorf("Changed=%v Converted=%v Comments=%v, want true %v %v", res.Changed, res.Converted, res.Comments, tt.converted, tt.comments)
			}
			assertLoads(t, res.Data, "ndp-announce")

			again, err := Chain(res.Data, ndpa)
			if err != nil || again.Changed || string(again.Data) != tt.want {
				t.Errorf("second Chain: changed=%v err=%v, want the same bytes back unchanged", again.Changed, err)
			}
			if !strings.Contains(again.Note, "already chained") {
				t.Errorf("second Chain note %q does not say it is already chained", again.Note)
			}

			// Uninstall gives the operator's file back byte for byte (a converted .conf stays a list).
			if tt.converted {
				return
			}
			undone, err := Unchain(res.Data, "ndp-announce")
			if err != nil || string(undone.Data) != tt.in {
				t.Errorf("Unchain(Chain(x)) = %v:\n%s\nwant x", err, undone.Data)
			}
		})
	}
}

// assertLoads checks the output the way a runtime reads it: libcni's loader, after the bridge, the
// chained plugin.
func assertLoads(t *testing.T, data []byte, typ string) {
	t.Helper()
	blanked, _, err := blankComments(data)
	if err != nil {
		t.Fatal(err)
	}
	list, err := libcni.ConfListFromBytes(blanked)
	if err != nil {
		t.Fatalf("libcni cannot load the output: %v\n%s", err, data)
	}
	for i, p := range list.Plugins {
		if p.Network.Type == "bridge" {
			if i+1 >= len(list.Plugins) || list.Plugins[i+1].Network.Type != typ {
				t.Fatalf("plugin after bridge (plugins[%d]) is not %s", i, typ)
			}
			return
		}
	}
	t.Fatalf("no bridge in the output")
}

func TestChainRefuses(t *testing.T) {
	tests := []struct {
		name, in string
		opts     Options
		wantErr  []string
	}{{
		name:    "no bridge: says which types it found and why it stops",
		in:      `{"name":"n","plugins":[{"type":"ptp"},{"type":"portmap"}]}`,
		opts:    ndpa,
		wantErr: []string{"no plugin that ndp-announce can follow", "plugin types: ptp, portmap", "ndp-announce chains after bridge;"},
	}, {
		name:    "single plugin of another type",
		in:      `{"cniVersion":"1.0.0","name":"n","type":"macvlan","master":"eth0"}`,
		opts:    ndpa,
		wantErr: []string{"no plugin that ndp-announce can follow", "plugin types: macvlan"},
	}, {
		name:    "every candidate turned down by Accept: each reason quoted",
		in:      `{"name":"n","plugins":[{"type":"ipvlan","mode":"l3"},{"type":"portmap"}]}`,
		opts:    anyOf,
		wantErr: []string{"plugin types: ipvlan, portmap", `plugins[0] ipvlan: mode "l3"`, "chains after bridge, macvlan, ipvlan"},
	}, {
		name:    "a single plugin turned down by Accept",
		in:      `{"name":"n","type":"ipvlan","mode":"l3s"}`,
		opts:    anyOf,
		wantErr: []string{"plugin types: ipvlan", `mode "l3s"`},
	}, {
		name:    "a Multus configuration",
		in:      `{"cniVersion":"0.3.1","name":"multus-cni-network","type":"multus","delegates":[{"type":"bridge"}]}`,
		opts:    ndpa,
		wantErr: []string{"plugin types: multus"},
	}, {
		name:    "already chained, but before bridge",
		in:      `{"name":"n","plugins":[{"type":"ndp-announce"},{"type":"bridge"}]}`,
		opts:    ndpa,
		wantErr: []string{"plugins[0], before bridge at plugins[1]"},
	}, {
		name:    "not JSON",
		in:      `{"name": "n", "plugins": [`,
		opts:    ndpa,
		wantErr: []string{"not valid JSON"},
	}, {
		name:    "unterminated comment",
		in:      `{"name": "n" /* , "plugins": []}`,
		opts:    ndpa,
		wantErr: []string{"never closed"},
	}, {
		name:    "a JSON array, not an object",
		in:      `[{"type":"bridge"}]`,
		opts:    ndpa,
		wantErr: []string{"not a JSON object"},
	}, {
		name:    "plugins is not a list",
		in:      `{"name":"n","plugins":{"type":"bridge"}}`,
		opts:    ndpa,
		wantErr: []string{`"plugins" is not a list`},
	}, {
		name:    "neither a list nor a plugin",
		in:      `{"name":"n"}`,
		opts:    ndpa,
		wantErr: []string{"neither a plugin list"},
	}, {
		name:    "plugin to insert has no type",
		in:      `{"name":"n","plugins":[{"type":"bridge"}]}`,
		opts:    Options{Plugin: []byte(`{"logFile":"/x"}`), After: []string{"bridge"}},
		wantErr: []string{`not a JSON object with a "type"`},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Chain([]byte(tt.in), tt.opts)
			if err == nil {
				t.Fatalf("Chain succeeded (%q), want an error", res.Data)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestChainPluginConfigIsInserted(t *testing.T) {
	opts := Options{Plugin: []byte(`{"type":"ndp-announce","logFile":"/var/log/ndp-announce.log","advertiseCount":2}`), After: []string{"bridge"}}
	res, err := Chain([]byte(`{"name":"n","plugins":[{"type":"bridge"}]}`), opts)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"n","plugins":[{"type":"bridge"},{"type":"ndp-announce","logFile":"/var/log/ndp-announce.log","advertiseCount":2}]}`
	if string(res.Data) != want {
		t.Fatalf("got %s\nwant %s", res.Data, want)
	}
}

func TestUnchain(t *testing.T) {
	// Unchain undoes Chain byte for byte, whatever the layout and wherever bridge is.
	for _, in := range []string{
		`{"name":"n","plugins":[{"type":"bridge"}]}`,
		`{"name":"n","plugins":[{"type":"bridge"},{"type":"portmap"}]}`,
		`{"name":"n","plugins":[{"type":"tuning"}, {"type":"bridge"}, {"type":"portmap"}]}`,
		"{\n  \"name\": \"n\",\n  \"plugins\": [\n    {\"type\": \"bridge\"}, // b\n    {\"type\": \"portmap\"}\n  ]\n}\n",
		"{\n  \"name\": \"n\",\n  \"plugins\": [\n    {\"type\": \"bridge\"}\n  ]\n}\n",
	} {
		chained, err := Chain([]byte(in), ndpa)
		if err != nil {
			t.Fatalf("Chain(%s): %v", in, err)
		}
		res, err := Unchain(chained.Data, "ndp-announce")
		if err != nil {
			t.Fatalf("Unchain(%s): %v", chained.Data, err)
		}
		if !res.Changed || string(res.Data) != in {
			t.Errorf("Unchain(Chain(x)) changed=%v:\n%s\nwant x:\n%s", res.Changed, res.Data, in)
		}
	}

	tests := []struct{ name, in, want string }{
		{"first element", `{"plugins":[{"type":"ndp-announce"}, {"type":"bridge"}]}`, `{"plugins":[{"type":"bridge"}]}`},
		{"every copy", `{"plugins":[{"type":"bridge"},{"type":"ndp-announce"},{"type":"x"},{"type":"ndp-announce"}]}`, `{"plugins":[{"type":"bridge"},{"type":"x"}]}`},
		{"not chained: unchanged", `{"plugins":[{"type":"bridge"}]}`, `{"plugins":[{"type":"bridge"}]}`},
		{"single plugin of another type: unchanged", `{"type":"bridge"}`, `{"type":"bridge"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Unchain([]byte(tt.in), "ndp-announce")
			if err != nil {
				t.Fatal(err)
			}
			if string(res.Data) != tt.want || res.Changed != (tt.in != tt.want) {
				t.Fatalf("got %s (changed=%v), want %s", res.Data, res.Changed, tt.want)
			}
		})
	}

	for _, in := range []string{`{"plugins":[{"type":"ndp-announce"}]}`, `{"type":"ndp-announce"}`} {
		if res, err := Unchain([]byte(in), "ndp-announce"); err == nil {
			t.Errorf("Unchain(%s) = %s, want an error: nothing would be left", in, res.Data)
		}
	}
}

func TestBlankComments(t *testing.T) {
	in := "{\"a\": \"x//y\\\"/*\", // c\n\"b\": /* m\nn */ 1}"
	want := "{\"a\": \"x//y\\\"/*\",     \n\"b\":     \n     1}"
	got, found, err := blankComments([]byte(in))
	if err != nil || !found || string(got) != want {
		t.Fatalf("blankComments = %q, %v, %v; want %q, true, nil", got, found, err, want)
	}
	if _, found, _ := blankComments([]byte(`{"a":"/*"}`)); found {
		t.Errorf("a comment opener inside a string was taken for a comment")
	}
}
