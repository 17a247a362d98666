#!/usr/bin/env bash
# End to end on a real Kubernetes node: a standalone kubelet (no API server) runs the DaemonSets of
# deploy/kubernetes as static pods (their pod templates, decoded strictly: test/e2e/staticpod), and
# test pods through containerd's CRI, the reference bridge + host-local and the installed plugin.
#
#   image     deploy/kubernetes/Dockerfile built by buildah (vfs, chroot) with the fresh binary,
#             pushed to an OCI archive, imported into containerd under the manifests' image name.
#   install   the ndp-announce DaemonSet's pod: the init container installs into the node's CNI
#             dirs and chains the plugin; the long-running container stays up.
#   reuse     P talks to A; A's manifest goes (the kubelet stops it: DEL); B gets A's addresses and a
#             new MAC; P's first probe to B is answered (IPv4 and IPv6); the kubelet's GC removes A
#             (the second DEL); both DELs succeed.
#   uninstall the uninstall DaemonSet's pod gives the conflist back byte for byte.
#
# kubelet and containerd run on a node of their own (node.bash: netns + mount namespace), so the
# manifests' hostPaths are the node's. Everything is removed on exit, failure included, and the
# script checks that nothing is left. Addresses: 203.0.113.0/24 and 2001:db8:3::/64 only (cri.bash
# uses 2001:db8:2::/64, the bats lab 198.51.100.0/24), all inside the node's netns.
#
# Needs root, containerd, runc, ctr, buildah, busybox (static), jq, iproute2, util-linux; env:
# KUBELET (the binary), STATICPOD (test/e2e/staticpod), NDPA_BIN (the plugin), CRICTL,
# CNI_PLUGINS_DIR (bridge, host-local, loopback). Prints PASS/FAIL lines and a closing
# "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_DIR=$REPO/test/e2e
KUBELET=${KUBELET:?KUBELET must name the kubelet binary}
STATICPOD=${STATICPOD:-$REPO/.tools/bin/staticpod}
NDPA_BIN=${NDPA_BIN:-$REPO/bin/ndp-announce}
# The node service the image holds beside the plugin (deploy/kubernetes/Dockerfile).
NDPA_DAEMON_BIN=${NDPA_DAEMON_BIN:-$(dirname "$NDPA_BIN")/ndp-announce-daemon}
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
NDPA_LOG=/dev/null  # the plugin's logFile once installed, as seen from here
NDPA_DATA=/dev/null # its dataDir, as seen from here
DS=$REPO/deploy/kubernetes
# Paths a kubelet or the manifests would use on a real node: they must stay as they were here.
HOST_PATHS=(/var/lib/kubelet /etc/kubernetes /usr/libexec/kubernetes /var/log/pods /var/log/containers
	/etc/cni /opt/cni /run/cni /var/log/ndp-announce.log)

for tool in containerd containerd-shim-runc-v2 runc ctr buildah busybox jq ip nsenter unshare "$KUBELET" "$STATICPOD" "$CRICTL" "$NDPA_BIN" "$NDPA_DAEMON_BIN"; do
	command -v "$tool" >/dev/null || { echo "test/e2e: $tool not found" >&2; exit 1; }
done
for p in bridge host-local loopback; do
	[ -x "$CNI_PLUGINS_DIR/$p" ] || { echo "test/e2e: no $p in CNI_PLUGINS_DIR=$CNI_PLUGINS_DIR" >&2; exit 1; }
done

# shellcheck source=containerd.bash
source "$E2E_DIR/containerd.bash"
# The node has a /run of its own: pods' netns go where a real containerd puts them, /var/run/netns,
# which the DaemonSet's node service mounts.
CONTAINERD_NETNS_UNDER_STATE=false
# shellcheck source=node.bash
source "$E2E_DIR/node.bash"
HOST_PATHS_BEFORE=$(ls -d "${HOST_PATHS[@]}" 2>/dev/null)
tunables() { cat /proc/sys/vm/overcommit_memory /proc/sys/kernel/panic /proc/sys/kernel/panic_on_oops; }
TUNABLES_BEFORE=$(tunables)
containerd_init ndpa-k8s
MANIFESTS=$DIR/manifests

cleanup_first() {
	# E2E_LOGS=DIR keeps the kubelet's and containerd's logs there.
	[ -n "${E2E_LOGS:-}" ] && mkdir -p "$E2E_LOGS" && cp "$DIR"/{kubelet,containerd}.log "$E2E_LOGS/" 2>/dev/null
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
	# None for a host-network pod.
	POD_MAC=$(nsenter --net="$POD_NETNS" ip -j link show dev eth0 2>/dev/null | jq -r '.[0].address // empty') || POD_MAC=''
	return 0
}

# start_pod NAME: waits (90 s) until the kubelet has static pod NAME up.
start_pod() {
	wait_for 90 pod_up "$1" || return 1
	note "pod $1: ${POD_ID:0:12} $POD_IP4 $POD_IP6 $POD_MAC"
}

# daemonset_pod FILE NAME: the DaemonSet's pod template as static pod NAME's manifest. Images are
# never pulled (no registry here: the node has them); nothing else changes.
daemonset_pod() {
	"$STATICPOD" -pull-policy Never "$1" >"$MANIFESTS/$2.json"
}

# normalized_image REF: the name containerd stores REF under (ndp-announce:latest ->
# docker.io/library/ndp-announce:latest), as the kubelet asks for it through the CRI.
normalized_image() {
	local ref=$1 first=${1%%/*}
	if [[ $ref != */* ]]; then
		ref=docker.io/library/$ref
	elif [[ $first != *.* && $first != *:* && $first != localhost ]]; then
		ref=docker.io/$ref
	fi
	[[ ${ref##*/} == *[:@]* ]] || ref=$ref:latest
	echo "$ref"
}

# build_image: deploy/kubernetes/Dockerfile with the fresh binary in bin/, by buildah on the node
# (its storage under $DIR, vfs, chroot isolation), pushed to an OCI archive and imported; tagged
# with every image name the two manifests use.
build_image() {
	local refs ref first b=(buildah --storage-driver vfs --root "$DIR/buildah/root" --runroot "$DIR/buildah/run")
	mkdir -p "$DIR/buildah/tmp" "$DIR/context/bin" || return 1
	# The Dockerfile's context is the repository root (COPY bin/...): only those files.
	cp "$DS/Dockerfile" "$DIR/context/" && cp "$NDPA_BIN" "$DIR/context/bin/ndp-announce" &&
		cp "$NDPA_DAEMON_BIN" "$DIR/context/bin/ndp-announce-daemon" || return 1
	refs=$(for f in "$DS"/ndp-announce.yaml "$DS"/ndp-announce-uninstall.yaml; do
		"$STATICPOD" "$f" | jq -r '.spec.initContainers[]?.image, .spec.containers[].image'
	done | sort -u | while read -r ref; do normalized_image "$ref"; done)
	first=$(head -n 1 <<<"$refs")
	in_ns env TMPDIR="$DIR/buildah/tmp" "${b[@]}" bud --isolation chroot -q -f "$DIR/context/Dockerfile" \
		-t "$first" "$DIR/context" >"$DIR/buildah.log" 2>&1 || { cat "$DIR/buildah.log"; return 1; }
	for ref in $refs; do
		rm -f "$DIR/image.tar"
		in_ns env TMPDIR="$DIR/buildah/tmp" "${b[@]}" push -q "$first" "oci-archive:$DIR/image.tar:$ref" >>"$DIR/buildah.log" 2>&1 &&
			in_ns ctr -a "$SOCK" -n k8s.io images import --index-name "$ref" "$DIR/image.tar" >/dev/null || return 1
		note "image $ref: $(in_ns ctr -a "$SOCK" -n k8s.io images ls -q name=="$ref" | head -n 1) built by buildah from deploy/kubernetes/Dockerfile"
	done
}

# containers_of ID [STATE]: container IDs of sandbox ID.
containers_of() { crictl ps -a -q --pod "$1" ${2:+--state "$2"}; }

# init_done ID NAME: init container NAME of sandbox ID exited 0.
init_done() {
	local c
	c=$(crictl ps -a -q --pod "$1" --name "^$2\$" | head -n 1)
	[ -n "$c" ] && [ "$(crictl inspect "$c" | jq -r '"\(.status.state) \(.status.exitCode)"')" = "CONTAINER_EXITED 0" ]
}

# plugin_entry KEY: a key of the ndp-announce entry of the node's conflist.
plugin_entry() { jq -r --arg k "$1" '.plugins[] | select(.type == "ndp-announce") | .[$k] // empty' "$NODE_ROOT$NODE_CONFLIST"; }
plugin_types() { jq -c '[.plugins[].type]' "$NODE_ROOT$NODE_CONFLIST" 2>/dev/null; }

# teardowns ID: network teardowns containerd reports as successful for sandbox ID.
teardowns() { grep -F "$1" "$DIR/containerd.log" | grep -c 'msg="TearDown network for sandbox .* successfully"'; }
sandbox_state() { crictl inspectp "$1" 2>/dev/null | jq -r .status.state; }

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
build_image || die "build deploy/kubernetes/Dockerfile with buildah and import it"
pass "image built from deploy/kubernetes/Dockerfile by buildah, imported into containerd"

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
echo "# the ndp-announce DaemonSet's pod (deploy/kubernetes/ndp-announce.yaml)"
daemonset_pod "$DS/ndp-announce.yaml" ndp-announce || die "static pod from deploy/kubernetes/ndp-announce.yaml"
wait_for 120 pod_up ndp-announce || die "the DaemonSet's pod did not come up (kubelet: $(grep -E '^E[0-9]{4}' "$DIR/kubelet.log" | tail -n 2))"
DS_ID=$POD_ID
DS_RUNNING=''
wait_for 10 eval 'DS_RUNNING=$(containers_of "$DS_ID" running | sort) && [ -n "$DS_RUNNING" ]' ||
	die "no running container in the DaemonSet's pod"
note "pod ndp-announce: ${DS_ID:0:12}, containers running: $(echo $DS_RUNNING | cut -c1-40)"
for c in $(jq -r '.spec.initContainers[]?.name' "$MANIFESTS/ndp-announce.json"); do
	check "init container $c exited 0" init_done "$DS_ID" "$c"
	crictl logs "$(crictl ps -a -q --pod "$DS_ID" --name "^$c\$" | head -n 1)" 2>&1 | sed 's/^/    | /'
done
check "every long-running container of the pod is running ($(jq -c '[.spec.containers[].name]' "$MANIFESTS/ndp-announce.json"))" \
	[ "$(wc -l <<<"$DS_RUNNING")" = "$(jq '.spec.containers | length' "$MANIFESTS/ndp-announce.json")" ]
check "binary installed into the node's /opt/cni/bin, identical to the build (the image held it)" \
	cmp -s "$NDPA_BIN" "$NODE_ROOT/opt/cni/bin/ndp-announce"
check "the node's conflist chains ndp-announce right after bridge: $(plugin_types)" \
	[ "$(plugin_types)" = '["bridge","ndp-announce"]' ]
check "backup holds the original" cmp -s "$DIR/conflist.orig" "$NODE_ROOT$NODE_CONFLIST.ndp-announce.bak"
types=''
check "CRI reloaded the conflist" wait_for 20 eval \
	'types=$(crictl info | jq -c "[.cniconfig.Networks[] | select(.Config.Name == \"e2e\") | .Config.Plugins[].Network.type]"); [ "$types" = "[\"bridge\",\"ndp-announce\"]" ]'
# The plugin logs and keeps state where the manifest's --plugin-config says, on the node.
log_file=$(plugin_entry logFile)
data_dir=$(plugin_entry dataDir)
NDPA_LOG=$NODE_ROOT${log_file:-/dev/null}
NDPA_DATA=$NODE_ROOT${data_dir:-/run/cni/ndp-announce}
note "plugin config: logFile ${log_file:-none}, dataDir ${data_dir:-default}"

# ---------------------------------------------------------------------------------------------
echo "# IP reuse through kubelet, containerd and the chained plugin"
static_pod p && start_pod p || die "pod P did not come up"
P_ID=$POD_ID P_NETNS=$POD_NETNS
PINGER=$(containers_of "$P_ID" running | head -n 1)
static_pod a && start_pod a || die "pod A did not come up"
A_ID=$POD_ID A_IP4=$POD_IP4 A_IP6=$POD_IP6 A_MAC=$POD_MAC
check "P reaches A over IPv4 and IPv6" eval 'probe "$A_IP4" && probe "$A_IP6"'
check "P's neighbour entries hold A's MAC ($A_MAC), $(p_neigh_state "$A_IP4")/$(p_neigh_state "$A_IP6")" \
	eval '[ "$(p_neigh_mac "$A_IP4")" = "$A_MAC" ] && [ "$(p_neigh_mac "$A_IP6")" = "$A_MAC" ]'
rm "$MANIFESTS/a.json"
t=$SECONDS
check "A's manifest deleted: the kubelet stops its sandbox" wait_for 60 eval '[ "$(sandbox_state "$A_ID")" = SANDBOX_NOTREADY ]'
note "A stopped in $((SECONDS - t))s"
# The stale state the test is about: P's entries still name the MAC of a pod that is gone.
check "A gone, P's entries still hold its MAC: $(p_neigh_mac "$A_IP4") $(p_neigh_state "$A_IP4") / $(p_neigh_mac "$A_IP6") $(p_neigh_state "$A_IP6")" \
	eval '[ "$(p_neigh_mac "$A_IP4")" = "$A_MAC" ] && [ "$(p_neigh_mac "$A_IP6")" = "$A_MAC" ]'
static_pod b && start_pod b || die "pod B did not come up"
B_ID=$POD_ID B_IP4=$POD_IP4 B_IP6=$POD_IP6 B_MAC=$POD_MAC
check "B got A's addresses ($B_IP4, $B_IP6) and a new MAC ($B_MAC)" \
	eval '[ "$B_IP4" = "$A_IP4" ] && [ "$B_IP6" = "$A_IP6" ] && [ "$B_MAC" != "$A_MAC" ]'
if probe "$B_IP4"; then r4=answered; else r4=lost; fi
if probe "$B_IP6"; then r6=answered; else r6=lost; fi
check "P's first probe to B is answered (IPv4 $r4, IPv6 $r6)" eval '[ $r4 = answered ] && [ $r6 = answered ]'
check "P's neighbour entries now hold B's MAC ($B_MAC)" \
	eval '[ "$(p_neigh_mac "$B_IP4")" = "$B_MAC" ] && [ "$(p_neigh_mac "$B_IP6")" = "$B_MAC" ]'
check "plugin log ($log_file): one \"ADD done\" each for A and B" \
	eval '[ "$(log_count "ADD done" "$A_ID")" = 1 ] && [ "$(log_count "ADD done" "$B_ID")" = 1 ]'
check "the DaemonSet's node service took B's remaining rounds: ADD forked nothing" eval \
	'grep "\"ADD done\"" "$NDPA_LOG" | grep -F "$B_ID" | grep -q "\"background\":\"service: "'
# Through its /run/netns mount (HostToContainer) the service matches each job's netns path.
service_log() { crictl logs "$(crictl ps -a -q --pod "$DS_ID" --name "^service\$" | head -n 1)" 2>&1; }
check "the node service sees the runtime's netns paths" eval '! service_log | grep -q "netns paths are not visible"'
# The second DEL comes with RemovePodSandbox, from the kubelet's garbage collection (once a minute).
# The manifest's plugin config logs at info, where a DEL that succeeds says nothing: containerd
# logs each network teardown that succeeded (the whole chain's DEL, ndp-announce's included).
check "A's sandbox removed by the kubelet's GC" wait_for 90 eval '! crictl inspectp "$A_ID" >/dev/null 2>&1'
# The kubelet stops a deleted pod's sandbox, and its GC stops it again before removing it: each of
# those DELs must succeed (at least StopPodSandbox's with the netns, RemovePodSandbox's without).
check "every DEL the runtime ran for A (StopPodSandbox, then the GC's StopPodSandbox and RemovePodSandbox) succeeded: $(teardowns "$A_ID") teardowns" \
	[ "$(teardowns "$A_ID")" -ge 2 ]
check "no DEL failed (plugin log, containerd log)" \
	eval '! grep -q "DEL failed" "$NDPA_LOG" && ! grep -q "failed to destroy network" "$DIR/containerd.log"'
check "A's announcer state is gone" eval '! grep -rqs "$A_ID" "$NDPA_DATA"'
now_running=''
check "the DaemonSet's long-running containers stayed up all along (same containers, running)" \
	wait_for 10 eval 'now_running=$(containers_of "$DS_ID" running | sort) && [ "$now_running" = "$DS_RUNNING" ]'

# ---------------------------------------------------------------------------------------------
echo "# the uninstall DaemonSet's pod (deploy/kubernetes/ndp-announce-uninstall.yaml)"
# As the manifest says: delete the ndp-announce DaemonSet first (its container would re-chain).
rm "$MANIFESTS"/{p,b,ndp-announce}.json
check "pods P, B and the DaemonSet's stopped by the kubelet" wait_for 60 eval \
	'[ -z "$(crictl pods -q --state ready)" ]'
daemonset_pod "$DS/ndp-announce-uninstall.yaml" ndp-announce-uninstall ||
	die "static pod from deploy/kubernetes/ndp-announce-uninstall.yaml"
check "uninstall pod running" wait_for 60 pod_up ndp-announce-uninstall
check "the node's conflist is the original again, byte for byte" wait_for 30 cmp -s "$DIR/conflist.orig" "$NODE_ROOT$NODE_CONFLIST"
check "binary removed from the node's /opt/cni/bin" wait_for 30 eval '[ ! -e "$NODE_ROOT/opt/cni/bin/ndp-announce" ]'
rm "$MANIFESTS/ndp-announce-uninstall.json"
check "every pod stopped and removed by the kubelet (GC)" wait_for 90 eval '[ -z "$(crictl pods -q)" ]'

# ---------------------------------------------------------------------------------------------
echo "# nothing left on the node"
check "kubelet still running" alive "$KUBELET_PID"
stop_pid "$KUBELET_PID"
KUBELET_PID=''
# The node service's own files (its socket's lock, the fallback counter) are no attachment's state.
check "no announcer state left in dataDir" eval \
	'[ -z "$(ls -A "$NDPA_DATA" 2>/dev/null | grep -v -e "^announcer\.sock" -e "^handoff-fallbacks\$")" ]'
check "no pod netns left under the state dir" eval '[ -z "$(ls -A "$DIR/state/io.containerd.grpc.v1.cri/netns" 2>/dev/null)" ]'
check "no veth left in the node's netns" eval '[ "$(in_ns ip -j link show type veth | jq length)" = 0 ]'
# kubelet bind-mounts its root dir onto itself (shared, for mount propagation) and leaves it: the
# node's mount namespace takes it away. Anything else (pods' rootfs, shm, netns) is a leak.
check "no mount left under $DIR in the node's mount namespace (but the kubelet's root dir)" \
	eval '[ -z "$(node_mounts_under "$DIR" | grep -vx "$DIR/kubelet")" ]'
check "no pod cgroup left under the kubelet's cgroup root" \
	eval '[ -z "$(find /sys/fs/cgroup/*/"${CGROUP_PARENT#/}" -mindepth 1 -type d -name "pod*" 2>/dev/null)" ]'
check "no announcer or shim process left" eval '[ -z "$(our_processes | grep -vx -e "$CONTAINERD_PID" -e "$NODE_PID")" ]'
check "the kernel's tunables untouched (the node showed kubelet its own values)" \
	eval '[ "$(tunables)" = "$TUNABLES_BEFORE" ]'
stop_pid "$CONTAINERD_PID"
check "containerd stopped" eval '! alive "$CONTAINERD_PID"'
