package installer

import (
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	manifests "github.com/ndp-announce/ndp-announce/deploy/kubernetes"
)

// defaultDataDir is the plugin's default dataDir (plugins/ndp-announce's config): a node path a
// DaemonSet may mount, e.g. for the node service's socket.
const defaultDataDir = "/run/cni/ndp-announce"

// The manifests in deploy/kubernetes (decoded strictly, as the API server would) run the binary with
// these flags: they must parse, and each directory they name must be mounted from the node path the
// plugin and the runtimes use by default (the flag's default); a dataDir mounted from the node must be
// the one the plugin config names.
func TestManifestCommandsParse(t *testing.T) {
	defaults, err := parseFlags(InstallCommand, nil, io.Discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, name := range manifests.Manifests {
		f := filepath.Join("../../deploy/kubernetes", name)
		ds, err := manifests.LoadDaemonSet(f)
		if err != nil {
			t.Fatal(err)
		}
		spec := ds.Spec.Template.Spec
		hostPaths := map[string]string{} // volume name -> node path
		for _, v := range spec.Volumes {
			if v.HostPath != nil {
				hostPaths[v.Name] = v.HostPath.Path
			}
		}
		for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
			argv := append(append([]string{}, c.Command...), c.Args...)
			if len(argv) < 2 || argv[0] != "/ndp-announce" {
				t.Errorf("%s: container %s runs %q, not /ndp-announce SUBCOMMAND", f, c.Name, argv)
				continue
			}
			if !IsCommand(argv[1]) {
				continue // another subcommand (the node service): its own tests
			}
			opts, err := parseFlags(argv[1], argv[2:], io.Discard, testEnv.ValidatePluginConfig)
			if err != nil {
				t.Errorf("%s: container %s: %q: %v", f, c.Name, argv, err)
				continue
			}
			mounted := map[string]string{} // mountPath -> node path
			for _, m := range c.VolumeMounts {
				mounted[m.MountPath] = hostPaths[m.Name]
			}
			for _, d := range []struct{ flag, dir, nodeDefault string }{
				{"--cni-bin-dir", opts.BinDir, defaults.BinDir},
				{"--cni-conf-dir", opts.ConfDir, defaults.ConfDir},
			} {
				if got := mounted[d.dir]; got != d.nodeDefault {
					t.Errorf("%s: container %s: %s=%s is mounted from node path %q, want %q", f, c.Name, d.flag, d.dir, got, d.nodeDefault)
				}
			}
			checkDataDirMount(t, f+": container "+c.Name, opts.PluginConfig, mounted)
			seen[argv[1]] = true
		}
	}
	if !seen[InstallCommand] || !seen[UninstallCommand] {
		t.Errorf("manifests run %v, want both install and uninstall", seen)
	}
}

// checkDataDirMount: a container that mounts a node path under /run/cni mounts the plugin's dataDir.
func checkDataDirMount(t *testing.T, where, pluginConfig string, mounted map[string]string) {
	t.Helper()
	var pc struct {
		DataDir string `json:"dataDir"`
	}
	if pluginConfig != "" {
		if err := json.Unmarshal([]byte(pluginConfig), &pc); err != nil {
			t.Errorf("%s: --plugin-config: %v", where, err)
		}
	}
	if pc.DataDir == "" {
		pc.DataDir = defaultDataDir
	}
	for mp, node := range mounted {
		if strings.HasPrefix(node, "/run/cni/") && node != pc.DataDir {
			t.Errorf("%s: %s is mounted from node path %q, but the plugin's dataDir is %q", where, mp, node, pc.DataDir)
		}
	}
}
