#!/usr/bin/env bash
# End to end on a real Kubernetes node: a standalone kubelet (no API server) runs static pods
# through containerd's CRI, the reference bridge + host-local and, once installed, ndp-announce.
#
#   kubelet   kubelet and containerd on a node of their own (netns + mount namespace, node.bash);
#             a static pod on the CNI network comes up; deleting its manifest tears it down
#             (StopPodSandbox, then the kubelet's garbage collection removes the sandbox).
#
# Addresses: 203.0.113.0/24 and 2001:db8:3::/64 only (cri.bash uses 2001:db8:2::/64, the bats lab
# 198.51.100.0/24), all inside the node's netns.
#
# Needs root, containerd, runc, ctr, busybox (static), jq, iproute2, util-linux; env: KUBELET (the
# binary), NDPA_BIN (the plugin), CRICTL, CNI_PLUGINS_DIR (bridge, host-local, loopback). Prints
# PASS/FAIL lines and a closing "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_DIR=$REPO/test/e2e
KUBELET=${KUBELET:?KUBELET must name the kubelet binary}
NDPA_BIN=${NDPA_BIN:-$REPO/bin/ndp-announce}
CRICTL=${CRICTL:-$REPO/.tools/bin/crictl}
CNI_PLUGINS_DIR=${CNI_PLUGINS_DIR:-$REPO/.tools/bin}

ID=$(printf '%04x' $(($$ & 0xffff)))$(od -An -N2 -tx2 /dev/urandom | tr -d ' \n')
NS=ndpa-k8s-$ID
NODE_NAME=ndpa-k8s-$ID
BRIDGE=ndpak${ID}br # 15 characters at most
CGROUP_PARENT=/ndpa-k8s-$ID # the kubelet's cgroupRoot
IMG_BUSYBOX=ndpa.invalid/e2e/busybox:1
NODE_CONFLIST=/etc/cni/net.d/10-e2e.conflist
KUBELET_PID=''
NDPA_LOG=/dev/null # the plugin's logFile once installed (as seen from here)
# Paths a kubelet or the manifests would use on a real node: they must stay as they were here.
HOST_PATHS=(/var/lib/kubelet /etc/kubernetes /usr/libexec/kubernetes /var/log/pods /var/log/containers
	/etc/cni /opt/cni /run/cni /var/log/ndp-announce.log)

for tool in containerd containerd-shim-runc-v2 runc ctr busybox jq ip nsenter unshare "$KUBELET" "$CRICTL" "$NDPA_BIN"; do
	command -v "$tool" >/dev/null || { echo "test/e2e: $tool not found" >&2; exit 1; }
done
for p in bridge host-local loopback; do
	[ -x "$CNI_PLUGINS_DIR/$p" ] || { echo "test/e2e: no $p in CNI_PLUGINS_DIR=$CNI_PLUGINS_DIR" >&2; exit 1; }
done

# shellcheck source=containerd.bash
source "$E2E_DIR/containerd.bash"
# shellcheck source=node.bash
source "$E2E_DIR/node.bash"
HOST_PATHS_BEFORE=$(ls -d "${HOST_PATHS[@]}" 2>/dev/null)
tunables() { cat /proc/sys/vm/overcommit_memory /proc/sys/kernel/panic /proc/sys/kernel/panic_on_oops; }
TUNABLES_BEFORE=$(tunables)
containerd_init ndpa-k8s
MANIFESTS=$DIR/manifests

cleanup_first() {
	if [ -n "$KUBELET_PID" ]; then
		stop_pid "$KUBELET_PID"
		if [ $FAILED -gt 0 ]; then
			echo "# kubelet log, errors:"
			grep -E '^E[0-9]{4}' "$DIR/kubelet.log" | tail -n 20 | sed 's/^/#   /'
		fi
	fi
}
cleanup_node() {
	local m
	for m in $(node_mounts_under "$DIR"); do
		echo "  unmounting $m in the node's mount namespace"
		in_ns umount -l "$m"
	done
	node_stop
}
leftovers_extra() {
	comm -13 <(echo "$HOST_PATHS_BEFORE") <(ls -d "${HOST_PATHS[@]}" 2>/dev/null) | sed '/^$/d; s/^/on this machine: /'
}

# wait_for SECONDS CMD...: polls CMD every 0.2 s until it succeeds; fails after SECONDS.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.2
	done
}

# ---------------------------------------------------------------------------------------------
# Static pods

# static_pod NAME: a busybox pod on the CNI network, as a static pod manifest.
static_pod() {
	jq -n --arg n "$1" --arg img "$IMG_BUSYBOX" '{apiVersion: "v1", kind: "Pod",
		metadata: {name: $n, namespace: "e2e"},
		spec: {terminationGracePeriodSeconds: 1, containers: [{name: "c", image: $img,
			imagePullPolicy: "Never", command: ["/bin/sleep", "2147483647"]}]}}' >"$MANIFESTS/$1.json"
}

# sandboxes NAME [STATE]: the sandbox IDs of static pod NAME (newest first), in STATE (ready,
# notready) if given.
sandboxes() {
	crictl pods -q --label "io.kubernetes.pod.name=$1-$NODE_NAME" ${2:+--state "$2"} 2>/dev/null
}

# pod_up NAME: its sandbox is ready and every container running; sets POD_ID, POD_NETNS (via the
# sandbox's process: the netns bind mount is in the node's mount namespace), POD_IP4, POD_IP6, POD_MAC.
pod_up() {
	local info running
	POD_ID=$(sandboxes "$1" ready | head -n 1)
	[ -n "$POD_ID" ] || return 1
	running=$(crictl ps -q --pod "$POD_ID" --state running | wc -l)
	[ "$running" -ge "$(jq '.spec.containers | length' "$MANIFESTS/$1.json")" ] || return 1
	info=$(crictl inspectp "$POD_ID") || return 1
	POD_NETNS=/proc/$(jq -r .info.pid <<<"$info")/ns/net
	POD_IP4=$(jq -r '.status.network.ip' <<<"$info")
	POD_IP6=$(jq -r '.status.network.additionalIps[0].ip // empty' <<<"$info")
	POD_MAC=$(nsenter --net="$POD_NETNS" ip -j link show dev eth0 2>/dev/null | jq -r '.[0].address // empty')
}

# start_pod NAME: writes its manifest, waits (90 s) until the kubelet has it up.
start_pod() {
	static_pod "$1"
	wait_for 90 pod_up "$1" || return 1
	NS_INODES[$(readlink "$POD_NETNS")]="pod $1"
	note "pod $1: ${POD_ID:0:12} $POD_IP4 $POD_IP6 $POD_MAC"
}

# ---------------------------------------------------------------------------------------------
echo "# kubelet e2e $ID in $DIR"
note "$(cgroups_line); $("$KUBELET" --version)"

node_start || die "node mount namespace"
mkdir -p "$MANIFESTS" "$DIR/kubelet" "$DIR/pod-logs" || die "temp dirs"
cp "$CNI_PLUGINS_DIR"/{bridge,host-local,loopback} "$NODE_ROOT/opt/cni/bin/" || die "copy reference plugins"
write_conflist "$NODE_ROOT$NODE_CONFLIST" "$BRIDGE" "$DIR/ipam" 2001:db8:3 || die "conflist"
cp "$NODE_ROOT$NODE_CONFLIST" "$DIR/conflist.orig"

# The node's own CNI dirs, as on a real node.
containerd_config /opt/cni/bin /etc/cni/net.d "$IMG_BUSYBOX"
containerd_start
import_busybox "$IMG_BUSYBOX" || die "import the busybox image"

# Its cgroup root must exist in every hierarchy (kubelet checks); cpuset needs cpus and mems.
for d in /sys/fs/cgroup/*/; do
	mkdir -p "$d${CGROUP_PARENT#/}" || die "cgroup $d${CGROUP_PARENT#/}"
	[ -e "$d/cpuset.cpus" ] && cp "$d/cpuset.cpus" "$d/cpuset.mems" "$d${CGROUP_PARENT#/}/"
done

# Standalone: no API server, no server port, nothing read or written outside the node and $DIR.
# fileCheckFrequency 1s: manifests are picked up at once. Eviction thresholds near zero: the
# shared disk's fill is no business of this test.
cat >"$DIR/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
staticPodPath: $MANIFESTS
fileCheckFrequency: 1s
syncFrequency: 10s
containerRuntimeEndpoint: unix://$SOCK
imageServiceEndpoint: unix://$SOCK
cgroupDriver: cgroupfs
cgroupRoot: $CGROUP_PARENT
failSwapOn: false
enableServer: false
readOnlyPort: 0
healthzPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
authorization:
  mode: AlwaysAllow
makeIPTablesUtilChains: false
oomScoreAdj: 0
podLogsDir: $DIR/pod-logs
volumePluginDir: $DIR/kubelet/volume-plugins
evictionHard: {memory.available: 1Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
YAML
nsenter "${NODE_NSENTER[@]}" -- "$KUBELET" --config="$DIR/kubelet.yaml" --root-dir="$DIR/kubelet" \
	--cert-dir="$DIR/kubelet/pki" --hostname-override="$NODE_NAME" --v=1 >"$DIR/kubelet.log" 2>&1 </dev/null &
KUBELET_PID=$!
note "kubelet $KUBELET_PID started"

# ---------------------------------------------------------------------------------------------
echo "# a static pod on the CNI network"
start_pod hello || die "static pod hello did not come up (kubelet: $(grep -E '^E[0-9]{4}' "$DIR/kubelet.log" | tail -n 2))"
check "kubelet runs static pod hello through the CRI: sandbox ready, container running, $POD_IP4 $POD_IP6" \
	eval '[[ $POD_IP4 == 203.0.113.1[01] ]] && [[ $POD_IP6 == 2001:db8:3::1[01] ]]'
HELLO_ID=$POD_ID
rm "$MANIFESTS/hello.json"
check "manifest deleted: the kubelet stops the pod (StopPodSandbox)" \
	wait_for 60 eval '[ -z "$(sandboxes hello ready)" ]'
# The kubelet's garbage collection removes the sandbox of a deleted pod, once a minute.
check "and removes its sandbox (RemovePodSandbox, within the kubelet's 1-minute GC period)" \
	wait_for 90 eval '! crictl inspectp "$HELLO_ID" >/dev/null 2>&1'

# ---------------------------------------------------------------------------------------------
echo "# teardown"
check "kubelet still running" alive "$KUBELET_PID"
stop_pid "$KUBELET_PID"
KUBELET_PID=''
check "no pod netns left under the state dir" eval '[ -z "$(ls -A "$DIR/state/io.containerd.grpc.v1.cri/netns" 2>/dev/null)" ]'
check "no veth left in the node's netns" eval '[ "$(in_ns ip -j link show type veth | jq length)" = 0 ]'
# kubelet bind-mounts its root dir onto itself (shared, for mount propagation) and leaves it: the
# node's mount namespace takes it away. Anything else (pods' rootfs, shm, netns) is a leak.
check "no mount left under $DIR in the node's mount namespace (but the kubelet's root dir)" \
	eval '[ -z "$(node_mounts_under "$DIR" | grep -vx "$DIR/kubelet")" ]'
check "no pod cgroup left under the kubelet's cgroup root" \
	eval '[ -z "$(find /sys/fs/cgroup/*/"${CGROUP_PARENT#/}" -mindepth 1 -type d -name "pod*" 2>/dev/null)" ]'
check "no shim process left" eval '[ -z "$(our_processes | grep -vx -e "$CONTAINERD_PID" -e "$NODE_PID")" ]'
check "the kernel's tunables untouched (the node showed kubelet its own values)" \
	eval '[ "$(tunables)" = "$TUNABLES_BEFORE" ]'
stop_pid "$CONTAINERD_PID"
check "containerd stopped" eval '! alive "$CONTAINERD_PID"'
