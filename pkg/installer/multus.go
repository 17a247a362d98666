package installer

import (
	"encoding/json"
	"fmt"
	"os"
)

// multusHint says what to do when the file the runtime uses is Multus's own: Multus writes it
// (00-multus.conf sorts first) from the cluster network's file and rewrites it when that one
// changes, so the entry belongs in that file. "" when the file is not Multus's.
func multusHint(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var conf struct {
		Type           string `json:"type"`
		ClusterNetwork string `json:"clusterNetwork"`
	}
	if json.Unmarshal(data, &conf) != nil || (conf.Type != "multus" && conf.Type != "multus-shim") {
		return ""
	}
	from := "the cluster network's file"
	if conf.ClusterNetwork != "" {
		from = fmt.Sprintf("the cluster network's file (clusterNetwork %q)", conf.ClusterNetwork)
	}
	return fmt.Sprintf("this is Multus's configuration, which Multus makes from %s: install into that file with --conf-file, and chain ndp-announce in NetworkAttachmentDefinitions for extra networks (deploy/multus)", from)
}
