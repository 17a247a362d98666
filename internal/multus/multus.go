// Package multus reads the NetworkAttachmentDefinition examples of deploy/multus and builds the
// configuration Multus hands to libcni for a pod's network selection, so that the Go tests and
// the bats lab (through test/multusconf) check the very config a node would run.
package multus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"

	"sigs.k8s.io/yaml"
)

// NetworksAnnotation is the pod annotation Multus reads the network selections from.
const NetworksAnnotation = "k8s.v1.cni.cncf.io/networks"

// Example is one YAML file of deploy/multus: its NetworkAttachmentDefinitions and the network
// selections of its pods.
type Example struct {
	Path       string
	NADs       map[string][]byte // spec.config by metadata.name
	Selections []Selection
}

// Selection is one element of a pod's networks annotation.
type Selection struct {
	Pod       string         `json:"-"`
	Name      string         `json:"name"`
	Interface string         `json:"interface,omitempty"`
	CNIArgs   map[string]any `json:"cni-args,omitempty"`
}

type object struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name        string            `json:"name"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Config string `json:"config"`
	} `json:"spec"`
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// Read parses the YAML file at path.
func Read(path string) (Example, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Example{}, err
	}
	ex := Example{Path: path, NADs: map[string][]byte{}}
	for i, doc := range docSeparator.Split(string(data), -1) {
		var obj object
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			return Example{}, fmt.Errorf("%s: document %d: %w", path, i, err)
		}
		switch obj.Kind {
		case "NetworkAttachmentDefinition":
			ex.NADs[obj.Metadata.Name] = []byte(obj.Spec.Config)
		case "Pod":
			var sel []Selection
			if err := json.Unmarshal([]byte(obj.Metadata.Annotations[NetworksAnnotation]), &sel); err != nil {
				return Example{}, fmt.Errorf("%s: pod %s: annotation %s: %w", path, obj.Metadata.Name, NetworksAnnotation, err)
			}
			for j := range sel {
				sel[j].Pod = obj.Metadata.Name
			}
			ex.Selections = append(ex.Selections, sel...)
		}
	}
	return ex, nil
}

// Delegate is the configuration Multus runs for sel: its network's spec.config with sel's
// cni-args merged into every plugin's args.cni, the selection's keys winning (Multus's
// addCNIArgsInConfList / injectCNIArgs, pkg/types/conf.go).
func (ex Example) Delegate(sel Selection) ([]byte, error) {
	conf, ok := ex.NADs[sel.Name]
	if !ok {
		return nil, fmt.Errorf("%s: pod %s selects %q, which is not defined there", ex.Path, sel.Pod, sel.Name)
	}
	if len(sel.CNIArgs) == 0 {
		return conf, nil
	}
	var list map[string]any
	if err := json.Unmarshal(conf, &list); err != nil {
		return nil, fmt.Errorf("%s: %s: spec.config: %w", ex.Path, sel.Name, err)
	}
	plugins, ok := list["plugins"].([]any)
	if !ok {
		return nil, fmt.Errorf("%s: %s: spec.config has no plugin list", ex.Path, sel.Name)
	}
	for _, p := range plugins {
		plugin, ok := p.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: %s: a plugin is not an object", ex.Path, sel.Name)
		}
		injectCNIArgs(plugin, sel.CNIArgs)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(list); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func injectCNIArgs(plugin, cniArgs map[string]any) {
	args, _ := plugin["args"].(map[string]any)
	if args == nil {
		args = map[string]any{}
		plugin["args"] = args
	}
	cni, _ := args["cni"].(map[string]any)
	if cni == nil {
		cni = map[string]any{}
		args["cni"] = cni
	}
	for k, v := range cniArgs {
		cni[k] = v
	}
}
