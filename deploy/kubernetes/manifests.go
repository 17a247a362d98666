// Package kubernetes reads the DaemonSets in this directory as the API server would: strictly, into
// the k8s.io/api types, so that a misspelt or misplaced field fails a test here instead of being
// dropped without a word by a cluster. The e2e turns their pod templates into static pods with
// StaticPod, so a kubelet runs exactly what an operator applies.
package kubernetes

import (
	"fmt"
	"os"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	serializerjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
)

// Manifests are the files of this directory that operators apply.
var Manifests = []string{"ndp-announce.yaml", "ndp-announce-uninstall.yaml"}

// LoadDaemonSet reads and decodes one manifest file with DecodeDaemonSet.
func LoadDaemonSet(path string) (*appsv1.DaemonSet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	ds, err := DecodeDaemonSet(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ds, nil
}

// DecodeDaemonSet decodes one apps/v1 DaemonSet with the API machinery's strict YAML decoder (the
// one behind kubectl's and the API server's field validation): an unknown or duplicate field is an
// error naming its path, e.g. unknown field "spec.template.spec.hostNetwrok".
func DecodeDaemonSet(data []byte) (*appsv1.DaemonSet, error) {
	scheme := runtime.NewScheme()
	if err := appsv1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("scheme: %w", err)
	}
	dec := serializerjson.NewSerializerWithOptions(serializerjson.DefaultMetaFactory, scheme, scheme,
		serializerjson.SerializerOptions{Yaml: true, Strict: true})
	var ds appsv1.DaemonSet
	// A strict decoding error comes with a decoded object: it is an error all the same.
	obj, gvk, err := dec.Decode(data, nil, &ds)
	if err != nil {
		return nil, fmt.Errorf("decode DaemonSet: %w", err)
	}
	if gvk.Group != "apps" || gvk.Version != "v1" || gvk.Kind != "DaemonSet" || obj != &ds {
		return nil, fmt.Errorf("want apiVersion apps/v1, kind DaemonSet; got %s", gvk)
	}
	return &ds, nil
}

// StaticPodOptions are what a test node changes in a DaemonSet's pod template.
type StaticPodOptions struct {
	// PullPolicy, when set, replaces every container's imagePullPolicy: a node with no registry
	// runs images imported beforehand ("Never"), whatever the tag.
	PullPolicy corev1.PullPolicy
}

// StaticPod is the pod a DaemonSet's controller would create on a node, as a static pod manifest
// for a kubelet without an API server: the template's metadata and spec, named after the DaemonSet.
func StaticPod(ds *appsv1.DaemonSet, opts StaticPodOptions) *corev1.Pod {
	tmpl := ds.Spec.Template.DeepCopy()
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        ds.Name,
			Namespace:   ds.Namespace,
			Labels:      tmpl.Labels,
			Annotations: tmpl.Annotations,
		},
		Spec: tmpl.Spec,
	}
	if opts.PullPolicy != "" {
		for i := range pod.Spec.InitContainers {
			pod.Spec.InitContainers[i].ImagePullPolicy = opts.PullPolicy
		}
		for i := range pod.Spec.Containers {
			pod.Spec.Containers[i].ImagePullPolicy = opts.PullPolicy
		}
	}
	return pod
}
