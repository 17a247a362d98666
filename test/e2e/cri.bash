#!/usr/bin/env bash
# End to end with a real runtime: containerd's CRI, runc, crictl, the reference bridge + host-local,
# and ndp-announce installed by the Kubernetes DaemonSet's own command, run as a privileged
# host-network container.
#
#   control   bridge alone: pod P talks to pod A0; A0 goes; B0 gets A0's IPv4 and IPv6; P's first
#             probe to B0 is lost in each family (P still has A0's MAC): the black-hole.
#   install   the DaemonSet's init container command chains ndp-announce into the live conflist
#             (twice: idempotent); CRI reloads it.
#   scenario  P talks to A (REACHABLE with A's MAC); A is stopped and removed (the runtime's two
#             DELs); B gets A's addresses; P's first probe to B is answered in each family.
#   uninstall the uninstall DaemonSet's command gives the conflist back byte for byte.
#
# containerd runs inside a netns of its own, with its root, state, socket, runc root and CNI dirs
# under a temp dir, and its pods in a cgroup parent of their own; the root netns is only looked at.
# Everything is removed on exit, failure included, and the script checks that nothing is left.
# Addresses: 203.0.113.0/24 and 2001:db8:2::/64 only (the bats lab uses 198.51.100.0/24).
#
# Needs root, containerd, runc, ctr, busybox (static), jq, iproute2; env: NDPA_BIN (the plugin),
# CRICTL, STATICPOD (test/e2e/staticpod), CNI_PLUGINS_DIR (bridge, host-local, loopback). Prints
# PASS/FAIL lines and a closing "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NDPA_BIN=${NDPA_BIN:-$REPO/bin/ndp-announce}
CRICTL=${CRICTL:-$REPO/.tools/bin/crictl}
STATICPOD=${STATICPOD:-$REPO/.tools/bin/staticpod}
CNI_PLUGINS_DIR=${CNI_PLUGINS_DIR:-$REPO/.tools/bin}

ID=$(printf '%04x' $(($$ & 0xffff)))$(od -An -N2 -tx2 /dev/urandom | tr -d ' \n')
NS=ndpa-e2e-$ID
BRIDGE=ndpae${ID}br # 15 characters at most
CGROUP_PARENT=/ndpa-e2e-$ID
IMG_BUSYBOX=ndpa.invalid/e2e/busybox:1
IMG_NDPA=ndpa.invalid/e2e/ndp-announce:1
V4_GW=203.0.113.1 V6_GW=2001:db8:2::1

for tool in containerd containerd-shim-runc-v2 runc ctr busybox jq ip nsenter "$CRICTL" "$STATICPOD" "$NDPA_BIN"; do
	command -v "$tool" >/dev/null || { echo "test/e2e: $tool not found" >&2; exit 1; }
done
for p in bridge host-local loopback; do
	[ -x "$CNI_PLUGINS_DIR/$p" ] || { echo "test/e2e: no $p in CNI_PLUGINS_DIR=$CNI_PLUGINS_DIR" >&2; exit 1; }
done

E2E_DIR=$REPO/test/e2e
# shellcheck source=containerd.bash
source "$E2E_DIR/containerd.bash"
containerd_init ndpa-e2e
CONF_DIR=$DIR/cni/net.d
BIN_DIR=$DIR/cni/bin
CONFLIST=$CONF_DIR/10-e2e.conflist
NDPA_LOG=$DIR/ndp-announce.log
NDPA_DATA=$DIR/ndp-announce

# ---------------------------------------------------------------------------------------------
# Pods

# pod_config NAME [HOSTNET]: a sandbox config; HOSTNET=1 for a privileged host-network pod.
pod_config() {
	jq -n --arg n "$1" --arg logs "$DIR/logs/$1" --arg cg "$CGROUP_PARENT" --argjson hostnet "${2:-0}" '{
		metadata: {name: $n, namespace: "e2e", uid: ("uid-" + $n), attempt: 0},
		log_directory: $logs,
		linux: ({cgroup_parent: $cg} + if $hostnet == 1 then
			{security_context: {privileged: true, namespace_options: {network: 2}}} else {} end)
	}' >"$DIR/pod-$1.json"
	echo "$DIR/pod-$1.json"
}

# run_pod NAME: start a pod on the CNI network; sets POD_ID, POD_NETNS, POD_IP4, POD_IP6, POD_MAC.
run_pod() {
	local cfg info
	cfg=$(pod_config "$1")
	POD_ID=$(crictl runp "$cfg") || return 1
	info=$(crictl inspectp "$POD_ID") || return 1
	POD_NETNS=$(jq -r '.info.runtimeSpec.linux.namespaces[] | select(.type == "network") | .path' <<<"$info")
	POD_IP4=$(jq -r '.status.network.ip' <<<"$info")
	POD_IP6=$(jq -r '.status.network.additionalIps[0].ip // empty' <<<"$info")
	POD_MAC=$(nsenter --net="$POD_NETNS" ip -j link show dev eth0 | jq -r '.[0].address')
	note "pod $1: ${POD_ID:0:12} $POD_IP4 $POD_IP6 $POD_MAC"
}

# remove_pod ID: what the kubelet does: StopPodSandbox, then RemovePodSandbox (CNI DEL each time).
remove_pod() {
	crictl stopp "$1" >/dev/null && crictl rmp "$1" >/dev/null
}


# run_installer NAME CMD_JSON: run CMD in a privileged host-network pod with the node's CNI dirs
# mounted where the DaemonSet mounts them; waits for it to exit (or for WAIT_LOG to show in its log
# when set, then stops it). Prints its log; fails when it exits non-zero.
run_installer() {
	local name=$1 cmd=$2 pod ctr state code i
	pod=$(crictl runp "$(pod_config "$name" 1)") || return 1
	jq -n --arg img "$IMG_NDPA" --argjson cmd "$cmd" --arg bin "$BIN_DIR" --arg conf "$CONF_DIR" '{
		metadata: {name: "install"}, image: {image: $img}, command: $cmd, log_path: "install.log",
		mounts: [{container_path: "/host/opt/cni/bin", host_path: $bin},
		         {container_path: "/host/etc/cni/net.d", host_path: $conf}],
		linux: {security_context: {privileged: true}}}' >"$DIR/ctr-$name.json"
	ctr=$(crictl create "$pod" "$DIR/ctr-$name.json" "$DIR/pod-$name.json") && crictl start "$ctr" >/dev/null || return 1
	for ((i = 0; i < 200; i++)); do
		state=$(crictl inspect "$ctr" | jq -r .status.state)
		[ "$state" = CONTAINER_EXITED ] && break
		if [ -n "${WAIT_LOG:-}" ] && crictl logs "$ctr" 2>&1 | grep -q "$WAIT_LOG"; then
			crictl stop -t 10 "$ctr" >/dev/null
			state=$(crictl inspect "$ctr" | jq -r .status.state)
			break
		fi
		sleep 0.05
	done
	code=$(crictl inspect "$ctr" | jq -r .status.exitCode)
	crictl logs "$ctr" 2>&1 | sed 's/^/    | /'
	remove_pod "$pod" || return 1
	[ "$state" = CONTAINER_EXITED ] && [ "$code" = 0 ]
}

# manifest_command FILE CONTAINER: the command and args of a container of a DaemonSet manifest,
# decoded strictly as the API server would (test/e2e/staticpod), as one JSON list.
manifest_command() {
	"$STATICPOD" "$1" | jq -c --arg c "$2" \
		'[.spec.initContainers[]?, .spec.containers[]] | map(select(.name == $c))[0] // empty | (.command // []) + (.args // [])'
}

# ---------------------------------------------------------------------------------------------
echo "# e2e $ID in $DIR"
note "$(cgroups_line)"

mkdir -p "$BIN_DIR" "$CONF_DIR" "$DIR/logs" "$NDPA_DATA" || die "temp dirs"
cp "$CNI_PLUGINS_DIR"/{bridge,host-local,loopback} "$BIN_DIR/" || die "copy reference plugins"

write_conflist "$CONFLIST" "$BRIDGE" "$DIR/ipam" 2001:db8:2 || die "conflist"
cp "$CONFLIST" "$DIR/conflist.orig"

containerd_config "$BIN_DIR" "$CONF_DIR" "$IMG_BUSYBOX"
containerd_start
import_busybox "$IMG_BUSYBOX" || die "import the busybox image"
bash "$E2E_DIR/mkimage.bash" "$DIR/ndpa.tar" "$IMG_NDPA" '["/ndp-announce"]' "$NDPA_BIN:ndp-announce" &&
	import_image "$DIR/ndpa.tar" || die "import the ndp-announce image"
pass "containerd CRI up in its own netns, images imported"

# ---------------------------------------------------------------------------------------------
echo "# pod P"
run_pod p || die "run pod P"
P_NETNS=$POD_NETNS P_IP4=$POD_IP4
jq -n --arg img "$IMG_BUSYBOX" '{metadata: {name: "pinger"}, image: {image: $img},
	command: ["/bin/sleep", "2147483647"], log_path: "pinger.log", linux: {}}' >"$DIR/ctr-pinger.json"
PINGER=$(crictl create "$POD_ID" "$DIR/ctr-pinger.json" "$DIR/pod-p.json") && crictl start "$PINGER" >/dev/null ||
	die "start the pinger container in P"

# recycle NAME_A NAME_B: A up, P talks to A, A stopped and removed, B up with A's addresses. Sets
# A_*, B_* and B_UP (SECONDS when B's RunPodSandbox returned).
recycle() {
	run_pod "$1" || return 1
	A_ID=$POD_ID A_IP4=$POD_IP4 A_IP6=$POD_IP6 A_MAC=$POD_MAC
	check "$1: P reaches it over IPv4 and IPv6" eval 'probe "$A_IP4" && probe "$A_IP6"'
	check "$1: P's neighbour entries hold its MAC ($A_MAC), $(p_neigh_state "$A_IP4")/$(p_neigh_state "$A_IP6")" \
		eval '[ "$(p_neigh_mac "$A_IP4")" = "$A_MAC" ] && [ "$(p_neigh_mac "$A_IP6")" = "$A_MAC" ]'
	remove_pod "$A_ID" || { fail "$1: stop and remove"; return 1; }
	# The stale state the test is about: P's entries still name the MAC of a pod that is gone.
	check "$1 gone, P's entries still hold its MAC: $(p_neigh_mac "$A_IP4") $(p_neigh_state "$A_IP4") / $(p_neigh_mac "$A_IP6") $(p_neigh_state "$A_IP6")" \
		eval '[ "$(p_neigh_mac "$A_IP4")" = "$A_MAC" ] && [ "$(p_neigh_mac "$A_IP6")" = "$A_MAC" ]'
	run_pod "$2" || return 1
	B_ID=$POD_ID B_IP4=$POD_IP4 B_IP6=$POD_IP6 B_MAC=$POD_MAC
	check "$2 got $1's addresses ($B_IP4, $B_IP6) and a new MAC ($B_MAC)" \
		eval '[ "$B_IP4" = "$A_IP4" ] && [ "$B_IP6" = "$A_IP6" ] && [ "$B_MAC" != "$A_MAC" ]'
}

echo "# control: bridge alone"
recycle a0 b0 || die "control recycle"
if probe "$B_IP4"; then c4=answered; else c4=lost; fi
if probe "$B_IP6"; then c6=answered; else c6=lost; fi
note "P's entries for b0 now: $(p_neigh_mac "$B_IP4") $(p_neigh_state "$B_IP4") / $(p_neigh_mac "$B_IP6") $(p_neigh_state "$B_IP6")"
check "control: P's first probe to b0 is lost (IPv4 $c4, IPv6 $c6): the black-hole ndp-announce fixes" \
	eval '[ $c4 = lost ] && [ $c6 = lost ]'
remove_pod "$B_ID" || die "remove b0"

# ---------------------------------------------------------------------------------------------
echo "# install with the DaemonSet's command"
install_cmd=$(manifest_command "$REPO/deploy/kubernetes/ndp-announce.yaml" install)
[ -n "$install_cmd" ] || die "no install command in deploy/kubernetes/ndp-announce.yaml"
# The manifest's own flags, with this test's plugin config: log and state in the temp dir.
plugin_config=$(jq -cn --arg log "$NDPA_LOG" --arg data "$NDPA_DATA" \
	'{type: "ndp-announce", logFile: $log, logLevel: "debug", dataDir: $data}')
install_cmd=$(jq -c --arg pc "--plugin-config=$plugin_config" 'map(select(startswith("--plugin-config=") | not)) + [$pc]' <<<"$install_cmd")
note "command: $install_cmd"
check "install container exits 0" run_installer install1 "$install_cmd"
check "binary installed, identical to the build" cmp -s "$NDPA_BIN" "$BIN_DIR/ndp-announce"
check "conflist chains ndp-announce right after bridge, backup holds the original" eval \
	'[ "$(jq -c "[.plugins[].type]" "$CONFLIST")" = "[\"bridge\",\"ndp-announce\"]" ] && cmp -s "$DIR/conflist.orig" "$CONFLIST.ndp-announce.bak"'
sum=$(sha256sum "$CONFLIST")
check "second install container exits 0 and changes nothing" eval \
	'run_installer install2 "$install_cmd" && [ "$(sha256sum "$CONFLIST")" = "$sum" ]'
for ((i = 0; i < 100; i++)); do
	types=$(crictl info | jq -c '[.cniconfig.Networks[] | select(.Config.Name == "e2e") | .Config.Plugins[].Network.type]')
	[ "$types" = '["bridge","ndp-announce"]' ] && break
	sleep 0.1
done
check "CRI reloaded the conflist: $types" [ "$types" = '["bridge","ndp-announce"]' ]

# ---------------------------------------------------------------------------------------------
echo "# scenario: chained after bridge"
# Start P's neighbour table afresh (b0 left an entry for the recycled address).
nsenter --net="$P_NETNS" ip neigh flush dev eth0
recycle a b || die "recycle"
# The moment RunPodSandbox returns: the first probe, each family.
if probe "$B_IP4"; then r4=answered; else r4=lost; fi
if probe "$B_IP6"; then r6=answered; else r6=lost; fi
check "P's first probe to b is answered at once (IPv4 $r4, IPv6 $r6)" eval '[ $r4 = answered ] && [ $r6 = answered ]'
check "P's neighbour entries now hold b's MAC ($B_MAC)" \
	eval '[ "$(p_neigh_mac "$B_IP4")" = "$B_MAC" ] && [ "$(p_neigh_mac "$B_IP6")" = "$B_MAC" ]'

check "log: one \"ADD done\" line each for a and b" eval '[ "$(log_count "ADD done" "$A_ID")" = 1 ] && [ "$(log_count "ADD done" "$B_ID")" = 1 ]'
check "the runtime's two DELs for a (StopPodSandbox, RemovePodSandbox) succeeded: $(log_count "DEL done" "$A_ID") \"DEL done\", no failure" \
	eval '[ "$(log_count "DEL done" "$A_ID")" = 2 ] && ! grep -q "DEL failed" "$NDPA_LOG" && ! grep -q "failed to destroy network" "$DIR/containerd.log"'
check "a's announcer state is gone" eval '! grep -rqs "$A_ID" "$NDPA_DATA"'

# ---------------------------------------------------------------------------------------------
echo "# teardown through the runtime"
crictl rmp -fa >/dev/null || fail "crictl rmp -fa"
check "every pod gone" eval '[ -z "$(crictl pods -q)" ]'
check "no announcer state left in dataDir" eval '[ -z "$(ls -A "$NDPA_DATA")" ]'
check "no pod netns left under the state dir" eval '[ -z "$(ls -A "$DIR/state/io.containerd.grpc.v1.cri/netns" 2>/dev/null)" ]'
check "no veth left in containerd's netns" eval '[ "$(in_ns ip -j link show type veth | jq length)" = 0 ]'
check "no announcer or shim process left" eval '[ -z "$(our_processes | grep -vx "$CONTAINERD_PID")" ]'

echo "# uninstall with the uninstall DaemonSet's command"
uninstall_cmd=$(manifest_command "$REPO/deploy/kubernetes/ndp-announce-uninstall.yaml" uninstall)
[ -n "$uninstall_cmd" ] || die "no uninstall command in deploy/kubernetes/ndp-announce-uninstall.yaml"
note "command: $uninstall_cmd"
# --hold keeps it running until stopped, as a DaemonSet pod: stop it once it says it is done.
check "uninstall container finishes and stops cleanly on SIGTERM" \
	eval 'WAIT_LOG="uninstalled; waiting" run_installer uninstall1 "$uninstall_cmd"'
check "conflist is the original again, byte for byte" cmp -s "$DIR/conflist.orig" "$CONFLIST"
check "binary removed" eval '[ ! -e "$BIN_DIR/ndp-announce" ]'

stop_pid "$CONTAINERD_PID"
check "containerd stopped" eval '! alive "$CONTAINERD_PID"'
