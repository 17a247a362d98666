#!/usr/bin/env bash
# End to end with a second real runtime: Debian's podman 4.3 with its CNI backend, the reference
# plugins its network file names (bridge, host-local, portmap, firewall, tuning), and ndp-announce
# chained into that file by `ndp-announce install`.
#
#   network   `podman network create` writes its conflist (bridge + portmap + firewall + tuning).
#   control   container P talks to container A0; A0 goes (`podman rm`); B0 gets A0's IPv4 and IPv6
#             (--ip, --ip6); P's and the host's first probes to B0 are lost: the black-hole.
#   install   `ndp-announce install --conf-file NET.conflist` chains it right after bridge in
#             podman's own file (twice: idempotent); podman reads the file at every run.
#   scenario  the same recycle with A and B: P's and the host's first probes to B are answered in
#             both families; `podman rm` ran DEL for A (the plugin's log).
#   uninstall gives podman's file back byte for byte.
#
# podman runs on a "node" of its own (node.bash: a mount namespace with fresh /run, /var/log, /opt
# and overlays on /etc and /var/lib, so CNI's /var/lib/cni and podman's /run state stay inside) in
# a netns of its own (in_ns), with its storage root, run root, tmp dir and network config dir under
# the temp dir, and its containers in a cgroup parent of their own. containerd.bash's harness
# reports and cleans up. Addresses: 203.0.113.0/24 and 2001:db8:4::/64 only, inside that netns
# (cri.bash uses 2001:db8:2::/64, kubelet.bash 2001:db8:3::/64, the bats lab 198.51.100.0/24).
#
# What this machine needs: no CAP_SYS_RESOURCE, so every container gets --ulimit nofile and nproc
# at 1024 (podman otherwise asks runc to raise them and fails); cgroupfs (no systemd); vfs storage.
#
# Needs root, podman, runc, conmon, busybox (static), jq, iproute2, iptables, util-linux; env:
# NDPA_BIN (the plugin), CNI_PLUGINS_DIR (bridge, host-local, loopback, portmap, firewall, tuning).
# Prints PASS/FAIL lines and a closing "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_DIR=$REPO/test/e2e
NDPA_BIN=${NDPA_BIN:-$REPO/bin/ndp-announce}
CNI_PLUGINS_DIR=${CNI_PLUGINS_DIR:-$REPO/.tools/bin}
PLUGINS=(bridge host-local loopback portmap firewall tuning)

ID=$(printf '%04x' $(($$ & 0xffff)))$(od -An -N2 -tx2 /dev/urandom | tr -d ' \n')
NS=ndpa-pm-$ID
NET=ndpa-pm-$ID
CGROUP_PARENT=/ndpa-pm-$ID
IMG=ndpa.invalid/e2e/busybox:1
V4_NET=203.0.113 V6_NET=2001:db8:4:
V4_GW=$V4_NET.1 V6_GW=$V6_NET:1

for tool in podman runc conmon busybox jq ip nsenter unshare iptables "$NDPA_BIN"; do
	command -v "$tool" >/dev/null || { echo "test/e2e: $tool not found" >&2; exit 1; }
done
for p in "${PLUGINS[@]}"; do
	[ -x "$CNI_PLUGINS_DIR/$p" ] || { echo "test/e2e: no $p in CNI_PLUGINS_DIR=$CNI_PLUGINS_DIR" >&2; exit 1; }
done

# shellcheck source=containerd.bash
source "$E2E_DIR/containerd.bash"
# shellcheck source=node.bash
source "$E2E_DIR/node.bash"
containerd_init ndpa-pm
CONF_DIR=$DIR/cni/net.d
BIN_DIR=$DIR/cni/bin
CONFLIST=$CONF_DIR/$NET.conflist
NDPA_LOG=$DIR/ndp-announce.log
NDPA_DATA=$DIR/ndp-announce
PODMAN_UP=0

cleanup_first() {
	[ $PODMAN_UP = 1 ] || return 0
	podman rm -f -t 0 -a >/dev/null 2>&1
	podman network rm -f "$NET" >/dev/null 2>&1
}
cleanup_node() {
	local m
	for m in $(node_mounts_under "$DIR"); do in_ns umount -l "$m"; done
	node_stop
}

# podman ARGS...: podman on the node, with the test's configuration, storage and network dirs.
podman() {
	in_ns env CONTAINERS_CONF="$DIR/containers.conf" CONTAINERS_STORAGE_CONF="$DIR/storage.conf" \
		podman --network-backend cni --network-config-dir "$CONF_DIR" --cgroup-manager cgroupfs \
		--events-backend file "$@"
}

# podman_config: containers.conf (the CNI backend and our plugin dir: the flags have no
# cni_plugin_dirs) and storage.conf.
podman_config() {
	mkdir -p "$CONF_DIR" "$BIN_DIR" "$DIR/storage" "$DIR/run" "$DIR/tmp" || return
	cat >"$DIR/containers.conf" <<-TOML
		[network]
		network_backend = "cni"
		cni_plugin_dirs = ["$BIN_DIR"]
		network_config_dir = "$CONF_DIR"
		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		events_logfile_path = "$DIR/events.log"
		runtime = "runc"
		tmp_dir = "$DIR/tmp"
		static_dir = "$DIR/storage/libpod"
		volume_path = "$DIR/storage/volumes"
	TOML
	cat >"$DIR/storage.conf" <<-TOML
		[storage]
		driver = "vfs"
		graphroot = "$DIR/storage"
		runroot = "$DIR/run"
	TOML
}

# run_ctr NAME LAST_OCTET: a container on the network with fixed addresses; sets CTR_ID, CTR_NETNS,
# CTR_MAC.
run_ctr() {
	CTR_ID=$(podman run -d --name "$1" --network "$NET" --ip "$V4_NET.$2" --ip6 "$V6_NET:$2" \
		--cgroup-parent "$CGROUP_PARENT" --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$IMG") || return
	CTR_NETNS=/proc/$(podman inspect -f '{{.State.Pid}}' "$1")/ns/net || return
	CTR_MAC=$(nsenter --net="$CTR_NETNS" ip -j link show dev eth0 | jq -r '.[0].address')
	note "container $1: ${CTR_ID:0:12} $V4_NET.$2 $V6_NET:$2 $CTR_MAC" >&2
}

# rm_ctr NAME: stop and remove at once (sleep ignores SIGTERM); podman runs CNI DEL.
rm_ctr() { podman rm -f -t 0 "$1" >/dev/null; }

# probe FROM ADDR: one echo request from P's netns ("p") or the node's ("host"), 1 s for the reply.
probe() {
	if [ "$1" = host ]; then in_ns ping -n -c 1 -W 1 "$2" >/dev/null 2>&1; else nsenter --net="$P_NETNS" ping -n -c 1 -W 1 "$2" >/dev/null 2>&1; fi
}

# neigh_mac FROM ADDR: the MAC P (or the host) holds for ADDR.
neigh_mac() {
	if [ "$1" = host ]; then in_ns ip -j neigh show "$2"; else nsenter --net="$P_NETNS" ip -j neigh show "$2"; fi |
		jq -r '[.[] | select(.lladdr)][0].lladdr // empty'
}

log_count() { jq -c --arg m "$1" --arg c "$2" 'select(.msg == $m and .containerID == $c)' "$NDPA_LOG" 2>/dev/null | wc -l; }

# recycle A B: P and the host talk to A (both families), A goes, B gets A's addresses; then each
# one's first probe to B. Prints "FROM ADDR answered|lost MAC" lines; sets A_ID, A_MAC, B_ID,
# B_MAC (so call it with a redirection, not in $(...)).
recycle() {
	local from addr
	run_ctr "$1" 20 || return
	A_ID=$CTR_ID A_MAC=$CTR_MAC
	for from in p host; do
		for addr in "$V4_NET.20" "$V6_NET:20"; do
			probe "$from" "$addr" && [ "$(neigh_mac "$from" "$addr")" = "$A_MAC" ] ||
				{ echo "$from does not reach $1 at $addr with its MAC" >&2; return 1; }
		done
	done
	rm_ctr "$1" || return
	run_ctr "$2" 20 || return
	B_ID=$CTR_ID B_MAC=$CTR_MAC
	[ "$A_MAC" != "$B_MAC" ] || { echo "$1 and $2 have the same MAC" >&2; return 1; }
	for from in p host; do
		for addr in "$V4_NET.20" "$V6_NET:20"; do
			if probe "$from" "$addr"; then echo "$from $addr answered $(neigh_mac "$from" "$addr")"; else echo "$from $addr lost $(neigh_mac "$from" "$addr")"; fi
		done
	done
}

# want_probes STATE MAC: the lines recycle prints when every first probe is STATE.
want_probes() {
	local from addr
	for from in p host; do
		for addr in "$V4_NET.20" "$V6_NET:20"; do echo "$from $addr $1 $2"; done
	done
}

install_ndpa() {
	"$NDPA_BIN" install --cni-bin-dir "$BIN_DIR" --cni-conf-dir "$CONF_DIR" --conf-file "$NET.conflist" \
		--plugin-config "$(jq -cn --arg log "$NDPA_LOG" --arg dir "$NDPA_DATA" '{type: "ndp-announce", logFile: $log, dataDir: $dir, logLevel: "debug"}')"
}

# ---------------------------------------------------------------------------------------------
echo "# podman e2e $ID in $DIR"
note "$(command podman --version); runc $(runc --version | head -n 1 | cut -d' ' -f3)"

node_start || die "node mount namespace"
ip netns add "$NS" || die "create netns $NS"
NS_INODES["net:[$(stat -L -c %i "/run/netns/$NS")]"]=node
in_ns ip link set lo up
# The bridge's gateway addresses are used at once (bridge does not wait for their DAD).
in_ns sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
podman_config || die "podman configuration"
for p in "${PLUGINS[@]}"; do cp "$CNI_PLUGINS_DIR/$p" "$BIN_DIR/" || die "copy $p"; done
PODMAN_UP=1
busybox_image "$DIR/busybox.tar" "$IMG" && podman load -q -i "$DIR/busybox.tar" >/dev/null || die "load the busybox image"

echo "# network"
podman network create --subnet "$V4_NET.0/24" --subnet "$V6_NET:/64" "$NET" >/dev/null ||
	die "podman network create"
check "podman wrote its conflist: bridge $(jq -r .plugins[0].bridge "$CONFLIST"), portmap, firewall, tuning (cniVersion $(jq -r .cniVersion "$CONFLIST"))" \
	eval '[ "$(jq -c "[.plugins[].type]" "$CONFLIST")" = "[\"bridge\",\"portmap\",\"firewall\",\"tuning\"]" ]'
cp "$CONFLIST" "$DIR/conflist.orig"
run_ctr p 10 || die "container p"
P_NETNS=$CTR_NETNS

echo "# control: podman's network alone"
recycle a0 b0 >"$DIR/control.txt" || die "control recycle"
note "first probes: $(tr '\n' ';' <"$DIR/control.txt")"
check "control: P's and the host's first probes to the recycled IP are lost, both families (they keep A0's MAC)" \
	eval '[ "$(cat "$DIR/control.txt")" = "$(want_probes lost "$A_MAC")" ]'
rm_ctr b0

echo "# install"
install_ndpa >"$DIR/install.log" 2>&1 || die "ndp-announce install: $(cat "$DIR/install.log")"
check "ndp-announce install chained it right after bridge in podman's file and installed the binary" \
	eval '[ "$(jq -c "[.plugins[].type]" "$CONFLIST")" = "[\"bridge\",\"ndp-announce\",\"portmap\",\"firewall\",\"tuning\"]" ] && cmp -s "$NDPA_BIN" "$BIN_DIR/ndp-announce"'
cp "$CONFLIST" "$DIR/conflist.chained"
install_ndpa >>"$DIR/install.log" 2>&1
check "a second install changes nothing" cmp -s "$CONFLIST" "$DIR/conflist.chained"

echo "# scenario: the same recycle with ndp-announce"
recycle a b >"$DIR/scenario.txt" || die "recycle"
note "first probes: $(tr '\n' ';' <"$DIR/scenario.txt")"
check "P's and the host's first probes to the recycled IP are answered, both families, with B's MAC" \
	eval '[ "$(cat "$DIR/scenario.txt")" = "$(want_probes answered "$B_MAC")" ]'
check "podman rm ran DEL for A: \"DEL done\" in the plugin's log, no failure" \
	eval '[ "$(log_count "ADD done" "$A_ID")" = 1 ] && [ "$(log_count "DEL done" "$A_ID")" -ge 1 ] && ! grep -q "DEL failed" "$NDPA_LOG"'
check "ADD done for B" eval '[ "$(log_count "ADD done" "$B_ID")" = 1 ]'

echo "# teardown"
rm_ctr b
rm_ctr p
check "podman rm ran DEL for B and P too; no announcer state left" \
	eval '[ "$(log_count "DEL done" "$B_ID")" -ge 1 ] && [ -z "$(ls -A "$NDPA_DATA" 2>/dev/null | grep -v "^lock$")" ]'
check "no veth left in the node's netns" eval '[ "$(in_ns ip -j link show type veth | jq length)" = 0 ]'
"$NDPA_BIN" uninstall --keep-binary --cni-bin-dir "$BIN_DIR" --cni-conf-dir "$CONF_DIR" --conf-file "$NET.conflist" >>"$DIR/install.log" 2>&1
check "ndp-announce uninstall gives podman's file back byte for byte" cmp -s "$CONFLIST" "$DIR/conflist.orig"
podman network rm "$NET" >/dev/null
check "podman network rm removed the file" eval '[ ! -e "$CONFLIST" ]'
PODMAN_UP=0
