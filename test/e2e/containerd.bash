# Sourced by the e2e scenarios (cri.bash, kubelet.bash): containerd's CRI confined to a netns of its
# own, with its root, state, socket, runc root and CNI dirs under a temp dir; PASS/FAIL reporting;
# and the cleanup that removes everything on exit and reports what was left.
#
# The scenario sets, before calling containerd_init: NS (the netns name), CGROUP_PARENT (removed in
# every cgroup hierarchy on exit), and may redefine the hooks cleanup_first (runs first in cleanup),
# cleanup_node (after containerd stopped and the sweep for leaked processes) and leftovers_extra
# (prints more leftovers, one per line). NODE_NSENTER holds the nsenter flags of every command run
# "on the node" (in_ns): the netns, and node.bash adds its mount namespace.

PASSED=0 FAILED=0 T0=$SECONDS
pass() { PASSED=$((PASSED + 1)); echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
note() { echo "  [$((SECONDS - T0))s] $*"; }
# check DESCRIPTION CMD...: PASS or FAIL on CMD's status.
check() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}
# die: a step the rest depends on failed; the EXIT trap cleans up.
die() {
	fail "$*"
	exit 1
}
cleanup_first() { :; }
cleanup_node() { :; }
leftovers_extra() { :; }

# containerd_init DIR_PREFIX: the temp dir and the names the rest uses; installs the EXIT trap.
containerd_init() {
	[ "$(id -u)" = 0 ] || { echo "test/e2e needs root (network namespaces, containerd)" >&2; exit 1; }
	DIR=$(mktemp -d "/tmp/$1.XXXXXX")
	SOCK=$DIR/containerd.sock
	CONTAINERD_PID=''
	NODE_NSENTER=(--net="/run/netns/$NS")
	# Namespace inode ("net:[N]", "mnt:[N]") -> what it is, for the leak check: only namespaces held
	# until the cleanup (containerd's netns, the node's mount namespace). The kernel reuses the inode
	# number of a freed namespace, so a pod's, once gone, may be another test's: pods' processes are
	# found through these (shims) or through $DIR on their command line (announcers: the netns path).
	declare -gA NS_INODES=()
	# Shim sockets go under /run/containerd/s whatever the config says (containerd 1.6), named
	# sha256(grpc address/namespace/sandbox id): ours are known by name (OUR_SHIM_SOCKETS, from the
	# sandboxes containerd logged), another run's beside ours are not leftovers.
	RUN_CONTAINERD_EXISTED=0
	[ -d /run/containerd ] && RUN_CONTAINERD_EXISTED=1
	OUR_SHIM_SOCKETS=''
	trap cleanup EXIT
	trap 'exit 130' INT TERM
}

in_ns() { nsenter "${NODE_NSENTER[@]}" -- "$@"; }
crictl() { in_ns "$CRICTL" --config "$DIR/crictl.yaml" "$@"; }

# ---------------------------------------------------------------------------------------------
# Cleanup: runs on every exit. Keeps going past errors; leftovers are failures.

cleanup() {
	local status=$? pid left=()
	trap - EXIT INT TERM
	[ $status -ne 0 ] && [ $FAILED -eq 0 ] && fail "the script stopped early (status $status)"
	echo "# cleanup"
	cleanup_first
	if [ -n "$CONTAINERD_PID" ] && kill -0 "$CONTAINERD_PID" 2>/dev/null; then
		in_ns timeout 60 "$CRICTL" --config "$DIR/crictl.yaml" rmp -fa >/dev/null 2>&1
		stop_pid "$CONTAINERD_PID"
	fi
	if [ $FAILED -gt 0 ] && [ -s "$DIR/containerd.log" ]; then
		echo "# containerd log, warnings and errors:"
		grep -E 'level=(warning|error|fatal)' "$DIR/containerd.log" | tail -n 20 | sed 's/^/#   /'
		echo "# ndp-announce log:"
		sed 's/^/#   /' "$NDPA_LOG" 2>/dev/null | tail -n 20
	fi
	# Whatever still runs in our namespaces or names our dir (shims, announcers) is a leak: stop it.
	# (The node's holder is expected: cleanup_node stops it.)
	for pid in $(our_processes | grep -vx "${NODE_PID:-}"); do
		left+=("process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)")
		stop_pid "$pid"
	done
	cleanup_node
	umount_under "$DIR"
	[ -e "/run/netns/$NS" ] && { ip netns del "$NS" || left+=("netns $NS (cannot delete)"); }
	NS_INODES=() # freed now: their inodes may be anyone's
	find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -type d -name "${CGROUP_PARENT#/}" 2>/dev/null |
		while read -r d; do find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
	OUR_SHIM_SOCKETS=$(our_shim_sockets)
	rm -rf "$DIR"
	if [ $RUN_CONTAINERD_EXISTED = 0 ]; then
		rmdir /run/containerd/s /run/containerd/runc/k8s.io /run/containerd/runc /run/containerd 2>/dev/null
	fi

	mapfile -t -O ${#left[@]} left < <(leftovers)
	if [ ${#left[@]} -eq 0 ]; then
		pass "nothing left: no netns, mount, link, process, cgroup, shim socket or temp dir"
	else
		fail "left behind (removed now where possible):"
		printf '  %s\n' "${left[@]}"
	fi
	echo "e2e took $((SECONDS - T0))s"
	echo "$PASSED passed, $FAILED failed"
	[ $FAILED -eq 0 ] && [ $status -eq 0 ] && exit 0
	exit 1
}

# stop_pid PID: SIGTERM, SIGKILL after 10 s.
stop_pid() {
	local i
	kill -TERM "$1" 2>/dev/null || return 0
	for ((i = 0; i < 200; i++)); do
		alive "$1" || break
		sleep 0.05
	done
	alive "$1" && kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# alive PID: running, not a zombie (this machine's PID 1 reaps orphans late).
alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# our_processes: PIDs (not ours, not zombies) in one of the namespaces we made or with our dir on
# their command line.
our_processes() {
	local link pid ns kind
	for link in /proc/[0-9]*/ns/net; do
		pid=${link#/proc/}
		pid=${pid%%/*}
		[ "$pid" = $$ ] || [ "$pid" = "$BASHPID" ] && continue
		alive "$pid" || continue
		for kind in net mnt; do
			ns=$(readlink "/proc/$pid/ns/$kind" 2>/dev/null) || continue
			[ -n "${NS_INODES[$ns]:-}" ] && { echo "$pid"; continue 2; }
		done
		grep -qF "$DIR" "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
	done
}

# umount_under DIR: every mount at or below DIR, deepest first (netns bind mounts, rootfs overlays, shm).
umount_under() {
	local m
	awk -v d="$1/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m"
	done
}

# our_shim_sockets: the names of the shim sockets of every sandbox our containerd ran.
our_shim_sockets() {
	local id
	grep -h -o 'returns sandbox id \\"[0-9a-f]*' "$DIR/containerd.log" 2>/dev/null | grep -o '[0-9a-f]*$' |
		while read -r id; do
			printf '%s' "$SOCK/k8s.io/$id" | sha256sum | cut -d' ' -f1
		done
}

leftovers() {
	local pid s
	ip netns list | grep -q "^$NS\b" && echo "netns $NS"
	awk -v d="$DIR" 'index($5, d) == 1 { print "mount " $5 }' /proc/self/mountinfo
	ip -j link show | jq -r --arg p "ndpae$ID" '.[].ifname | select(startswith($p)) | "root-netns link " + .'
	for pid in $(our_processes); do echo "process $pid"; done
	find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -type d -name "${CGROUP_PARENT#/}" 2>/dev/null | sed 's/^/cgroup /'
	for s in $OUR_SHIM_SOCKETS; do [ -e "/run/containerd/s/$s" ] && echo "shim socket $s"; done
	[ -e "$DIR" ] && echo "dir $DIR"
	leftovers_extra
	return 0
}

# ---------------------------------------------------------------------------------------------
# containerd

# containerd_config BIN_DIR CONF_DIR SANDBOX_IMAGE: writes $DIR/config.toml and $DIR/crictl.yaml.
# What works here: no CAP_SYS_RESOURCE (restrict_oom_score_adj), netns mounts under the state dir,
# runc's state under ours too, cgroupfs driver (no systemd), nothing listening outside the netns.
containerd_config() {
	cat >"$DIR/config.toml" <<TOML
version = 2
root = "$DIR/root"
state = "$DIR/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = ""
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$DIR/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$3"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = ${CONTAINERD_NETNS_UNDER_STATE:-true}
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$1"
    conf_dir = "$2"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      Root = "$DIR/runc"
      SystemdCgroup = false
TOML
	cat >"$DIR/crictl.yaml" <<YAML
runtime-endpoint: unix://$SOCK
image-endpoint: unix://$SOCK
timeout: 30
YAML
}

# containerd_start: the netns, containerd in it (and in NODE_NSENTER's other namespaces), up.
containerd_start() {
	local i
	ip netns add "$NS" || die "create netns $NS"
	NS_INODES["net:[$(stat -L -c %i "/run/netns/$NS")]"]=containerd
	in_ns ip link set lo up
	# nsenter, not `ip netns exec`: that one mounts a private /sys and runc then finds no cgroup mount.
	# Not through in_ns: a backgrounded function is a subshell, and $! would be its PID.
	nsenter "${NODE_NSENTER[@]}" -- containerd --config "$DIR/config.toml" >"$DIR/containerd.log" 2>&1 </dev/null &
	CONTAINERD_PID=$!
	for ((i = 0; i < 200; i++)); do
		crictl version >/dev/null 2>&1 && break
		alive "$CONTAINERD_PID" || break
		sleep 0.05
	done
	crictl version >/dev/null 2>&1 || die "containerd did not come up (log: $(tail -n 3 "$DIR/containerd.log"))"
	note "containerd $CONTAINERD_PID up in netns $NS"
}

# write_conflist FILE BRIDGE IPAM_DIR V6_PREFIX: bridge + host-local, cniVersion 1.0.0 (the newest
# that containerd 1.6's libcni knows), two addresses per family (203.0.113.10-11, V6_PREFIX::10-11):
# P takes one and A, then B, the other, so B gets A's addresses.
write_conflist() {
	jq -n --arg br "$2" --arg ipam "$3" --arg v6 "$4" '{
		cniVersion: "1.0.0", name: "e2e",
		plugins: [{
			type: "bridge", bridge: $br, isGateway: true, ipMasq: false,
			ipam: {type: "host-local", dataDir: $ipam, ranges: [
				[{subnet: "203.0.113.0/24", rangeStart: "203.0.113.10", rangeEnd: "203.0.113.11", gateway: "203.0.113.1"}],
				[{subnet: ($v6 + "::/64"), rangeStart: ($v6 + "::10"), rangeEnd: ($v6 + "::11"), gateway: ($v6 + "::1")}]]}
		}]}' >"$1"
}

# busybox_image ARCHIVE NAME: a one-layer OCI archive of Debian's static busybox (sh, sleep, ping)
# named NAME, for containerd (import_busybox) and podman (podman.bash).
busybox_image() {
	bash "$E2E_DIR/mkimage.bash" "$1" "$2" '["/bin/sleep", "2147483647"]' \
		"$(command -v busybox):bin/busybox" @busybox:bin/sh @busybox:bin/sleep @busybox:bin/ping
}

# import_busybox NAME: that image, imported.
import_busybox() { busybox_image "$DIR/busybox.tar" "$1" && import_image "$DIR/busybox.tar"; }

# import_image ARCHIVE: an OCI archive into containerd's k8s.io namespace (the CRI's).
import_image() { in_ns ctr -a "$SOCK" -n k8s.io images import "$1" >/dev/null; }

# ---------------------------------------------------------------------------------------------
# The peer, pod P: its netns P_NETNS, its container PINGER; the plugin's log NDPA_LOG.

# P's view, from inside its netns (the pinger container has no CAP_NET_ADMIN to flush).
p_neigh() { nsenter --net="$P_NETNS" ip -j neigh show "$1" dev eth0; }
p_neigh_mac() { p_neigh "$1" | jq -r '.[0].lladdr // empty'; }
p_neigh_state() { p_neigh "$1" | jq -r '(.[0].state // []) | join(",")'; }
# probe ADDR: one echo request from pod P's container (busybox ping), answered within 1 s.
probe() { crictl exec "$PINGER" ping -c 1 -W 1 "$1" >/dev/null 2>&1; }
# log_count MSG CONTAINER_ID: lines of the plugin's log with that message for that container.
log_count() { jq -c --arg m "$1" --arg c "$2" 'select(.msg == $m and .containerID == $c)' "$NDPA_LOG" 2>/dev/null | wc -l; }

# cgroups_line: what this machine has, for the log.
cgroups_line() {
	local cg
	cg=$(stat -fc %T /sys/fs/cgroup)
	echo "cgroups: $([ "$cg" = cgroup2fs ] && echo "v2 (unified)" || echo "v1 ($cg at /sys/fs/cgroup$([ -d /sys/fs/cgroup/unified ] && echo ", hybrid with cgroup2 at unified/"))"); $(containerd --version | cut -d' ' -f3); runc $(runc --version | head -1 | cut -d' ' -f3)"
}
