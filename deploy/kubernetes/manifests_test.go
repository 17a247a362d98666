package kubernetes

import (
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

func loadAll(t *testing.T) map[string]*corev1.PodSpec {
	t.Helper()
	specs := map[string]*corev1.PodSpec{}
	for _, name := range Manifests {
		ds, err := LoadDaemonSet(name)
		if err != nil {
			t.Fatal(err)
		}
		// A selector that misses the template's labels is refused by the API server.
		sel := labels.SelectorFromSet(ds.Spec.Selector.MatchLabels)
		if len(ds.Spec.Selector.MatchLabels) == 0 || !sel.Matches(labels.Set(ds.Spec.Template.Labels)) {
			t.Errorf("%s: selector %v does not select the template's labels %v", name, ds.Spec.Selector.MatchLabels, ds.Spec.Template.Labels)
		}
		specs[name] = &ds.Spec.Template.Spec
	}
	return specs
}

// The checks are only worth something if a typo fails them: a misspelt field, a field one level
// off, a duplicate key and an API version the cluster no longer serves are all refused.
func TestDecodeRefusesWhatTheAPIServerWouldDrop(t *testing.T) {
	data, err := os.ReadFile("ndp-announce.yaml")
	if err != nil {
		t.Fatal(err)
	}
	orig := string(data)
	for _, tt := range []struct{ name, old, new, wantErr string }{
		{"misspelt field", "      hostNetwork: true", "      hostNetwrok: true", `unknown field "spec.template.spec.hostNetwrok"`},
		{"field one level off", "      hostNetwork: true", "      hostNetwork: true\n      mountPath: /x", `unknown field "spec.template.spec.mountPath"`},
		{"duplicate key", "      hostNetwork: true", "      hostNetwork: true\n      hostNetwork: false", `key "hostNetwork" already set`},
		{"old API version", "apiVersion: apps/v1\n", "apiVersion: apps/v1beta2\n", `"apps/v1beta2"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(orig, tt.old) {
				t.Fatalf("ndp-announce.yaml has no %q to change", tt.old)
			}
			_, err := DecodeDaemonSet([]byte(strings.Replace(orig, tt.old, tt.new, 1)))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// What the plugin needs of a node, whatever the taints: the host's network namespace (the
// conflist and binary it writes are the host's), every node, privileged where it writes.
func TestDaemonSetsRunOnEveryNodeInTheHostNetwork(t *testing.T) {
	for name, spec := range loadAll(t) {
		if !spec.HostNetwork {
			t.Errorf("%s: hostNetwork is not true", name)
		}
		if !toleratesEverything(spec.Tolerations) {
			t.Errorf("%s: tolerations %v do not tolerate every taint (want operator: Exists, no key)", name, spec.Tolerations)
		}
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			t.Errorf("%s: automountServiceAccountToken is not false: the pods need no API access", name)
		}
	}
}

func toleratesEverything(ts []corev1.Toleration) bool {
	for _, t := range ts {
		if t.Operator == corev1.TolerationOpExists && t.Key == "" && t.Effect == "" {
			return true
		}
	}
	return false
}

// The containers that write the node's CNI dirs: the install init container and the uninstall
// container run privileged; every mount names a hostPath volume of the pod.
func TestContainersMountHostPathsAndWritersArePrivileged(t *testing.T) {
	specs := loadAll(t)
	install := specs["ndp-announce.yaml"].InitContainers
	if len(install) != 1 || !privileged(install[0]) {
		t.Errorf("ndp-announce.yaml: want one privileged init container, got %d (%v)", len(install), install)
	}
	uninstall := specs["ndp-announce-uninstall.yaml"].Containers
	if len(uninstall) != 1 || !privileged(uninstall[0]) {
		t.Errorf("ndp-announce-uninstall.yaml: want one privileged container, got %d", len(uninstall))
	}
	for name, spec := range specs {
		vols := map[string]corev1.Volume{}
		for _, v := range spec.Volumes {
			vols[v.Name] = v
		}
		for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
			if len(c.VolumeMounts) == 0 {
				t.Errorf("%s: container %s mounts nothing of the node", name, c.Name)
			}
			for _, m := range c.VolumeMounts {
				v, ok := vols[m.Name]
				if !ok || v.HostPath == nil {
					t.Errorf("%s: container %s mounts %q, which is no hostPath volume of the pod", name, c.Name, m.Name)
				}
			}
		}
	}
}

func privileged(c corev1.Container) bool {
	return c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged
}

// The static pod is the template, only named: what the kubelet runs in the e2e is what operators apply.
func TestStaticPodIsTheTemplate(t *testing.T) {
	ds, err := LoadDaemonSet("ndp-announce.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pod := StaticPod(ds, StaticPodOptions{PullPolicy: corev1.PullNever})
	if pod.Name != ds.Name || pod.Namespace != ds.Namespace || pod.Labels["app.kubernetes.io/name"] != "ndp-announce" {
		t.Errorf("pod metadata %+v, want the DaemonSet's name and namespace and the template's labels", pod.ObjectMeta)
	}
	if len(pod.Spec.InitContainers) != len(ds.Spec.Template.Spec.InitContainers) || len(pod.Spec.Containers) != len(ds.Spec.Template.Spec.Containers) {
		t.Fatalf("containers differ from the template's")
	}
	for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
		if c.ImagePullPolicy != corev1.PullNever {
			t.Errorf("container %s: imagePullPolicy %q, want Never", c.Name, c.ImagePullPolicy)
		}
	}
	if ds.Spec.Template.Spec.Containers[0].ImagePullPolicy == corev1.PullNever {
		t.Errorf("StaticPod changed the DaemonSet it was given")
	}
}
