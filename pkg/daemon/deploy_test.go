package daemon

import (
	"bufio"
	"io"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	manifests "github.com/ndp-announce/ndp-announce/deploy/kubernetes"
)

// The service as operators deploy it: its command line parses, and its data dir is the plugin's
// default (the plugin finds the socket with no config) and, in the DaemonSet, a hostPath mounted
// at that same path, so the plugin on the node and the service in its container share it.
func TestDeployedCommandsParse(t *testing.T) {
	ds, err := manifests.LoadDaemonSet("../../deploy/kubernetes/ndp-announce.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec := ds.Spec.Template.Spec
	var service *corev1.Container
	for i, c := range spec.Containers {
		if len(c.Command) > 1 && c.Command[0] == "/ndp-announce" && c.Command[1] == "daemon" {
			service = &spec.Containers[i]
		}
	}
	if service == nil {
		t.Fatal("ndp-announce.yaml: no container runs /ndp-announce daemon")
	}
	opts := parseDeployed(t, "DaemonSet", append(service.Command[2:], service.Args...))
	hostPaths := map[string]string{}
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
	}
	mounted := false
	for _, m := range service.VolumeMounts {
		if m.MountPath == opts.DataDir && hostPaths[m.Name] == opts.DataDir && !m.ReadOnly {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("DaemonSet: --data-dir %s is not the node's %s mounted read-write at the same path", opts.DataDir, opts.DataDir)
	}

	unit := execStart(t, "../../deploy/systemd/ndp-announce.service")
	if len(unit) < 2 || !strings.HasSuffix(unit[0], "/ndp-announce") || unit[1] != "daemon" {
		t.Fatalf("systemd unit runs %q, want .../ndp-announce daemon ...", unit)
	}
	parseDeployed(t, "systemd unit", unit[2:])
}

func parseDeployed(t *testing.T, where string, args []string) Options {
	t.Helper()
	opts, err := ParseFlags(args, io.Discard)
	if err != nil {
		t.Fatalf("%s: %q: %v", where, args, err)
	}
	if opts.DataDir != DefaultDataDir {
		t.Errorf("%s: --data-dir %s, want the plugin's default %s", where, opts.DataDir, DefaultDataDir)
	}
	if !strings.HasPrefix(opts.MetricsAddress, "127.0.0.1:") {
		t.Errorf("%s: metrics on %s; the default exposure is the node's loopback", where, opts.MetricsAddress)
	}
	return opts
}

// execStart is the unit's ExecStart split into words (it has no quoting).
func execStart(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "ExecStart="); ok {
			return strings.Fields(v)
		}
	}
	t.Fatalf("%s: no ExecStart", path)
	return nil
}
