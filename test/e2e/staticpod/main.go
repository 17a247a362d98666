// Command staticpod prints the pod a DaemonSet manifest's controller would create on a node, as a
// static pod manifest (JSON) for a kubelet without an API server. The e2e runs the DaemonSets of
// deploy/kubernetes this way, so the kubelet runs exactly what an operator applies.
//
//	staticpod [-pull-policy Never] deploy/kubernetes/ndp-announce.yaml > manifests/ndp-announce.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"

	manifests "github.com/ndp-announce/ndp-announce/deploy/kubernetes"
)

func main() {
	pull := flag.String("pull-policy", "", "imagePullPolicy for every container (Never: the node has the images, no registry)")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: staticpod [-pull-policy POLICY] DAEMONSET.yaml")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), corev1.PullPolicy(*pull)); err != nil {
		fmt.Fprintln(os.Stderr, "staticpod:", err)
		os.Exit(1)
	}
}

func run(path string, pull corev1.PullPolicy) error {
	switch pull {
	case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
	default:
		return fmt.Errorf("-pull-policy %q: want Always, IfNotPresent or Never", pull)
	}
	ds, err := manifests.LoadDaemonSet(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(manifests.StaticPod(ds, manifests.StaticPodOptions{PullPolicy: pull}))
}
