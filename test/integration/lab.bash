# shellcheck shell=bash
# The ndp-announce integration lab: throwaway network namespaces wired to a Linux
# bridge, driven through libcni with the real reference plugins. Every .bats file:
#
#   load lab
#   setup_file() { lab_init; }      # root check, plugin dir, cnidriver, labtool
#   setup()      { lab_setup; }     # this test's namespaces, bridge, peer, conflist
#   teardown()   { lab_teardown; }  # CNI DEL, stop processes, delete namespaces, assert clean
#
# Outside bats (scripts/demo.sh) source it and set LAB_TMPDIR (where the lab's files go)
# first; LAB_TAG (default "ndpa", at most 4 characters) starts every name, so a demo and
# a test suite never share one.
#
#   peer netns                     host netns                             container netns
#   eth0 198.51.100.2/24 ---- <L>hp ── <L>br 198.51.100.1/24 ── veth* ──── eth0 (bridge plugin)
#        2001:db8:1::2/64               2001:db8:1::1/64
#
# <L> is the link prefix "ndpa<id>". Namespaces are "ndpa-<id>-host", "ndpa-<id>-peer" and
# "ndpa-<id>-c-<name>"; <id> mixes this process's PID and randomness, so two suites can run
# at once. Helpers take lab names: "host", "peer" or a container name.
#
# Waiting for links and stopping leftover processes is Go code the plugin and the Go lab
# (internal/lab) already have, run through test/labtool: no second copy in shell.
#
# The CNI plugins run inside the host netns (nsenter), so the bridge they use and the
# veths they create live there; the root netns's links, routes and sysctls are never touched.
# nsenter, not `ip netns exec`: the latter gives the command a private /sys and hides the
# cgroup mounts that runtimes need.

if declare -F bats_load_library >/dev/null; then
	bats_require_minimum_version 1.5.0
	bats_load_library bats-support
	bats_load_library bats-assert
fi

LAB_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Lab addresses: only documentation prefixes (RFC 5737, RFC 3849).
LAB_V4_GW=198.51.100.1
LAB_V4_PEER=198.51.100.2
LAB_V6_GW=2001:db8:1::1
LAB_V6_PEER=2001:db8:1::2
# Fixed, locally administered MACs make captures and neighbour tables easy to read; a bridge
# with its own MAC also keeps it when ports come and go (otherwise it takes the lowest port MAC).
LAB_BRIDGE_MAC=02:00:5e:00:01:01
LAB_PEER_MAC=02:00:5e:00:01:02

# ---------------------------------------------------------------------------------------------
# Per-file and per-test setup

# lab_init: run from setup_file. Skips when not root; finds the plugins; builds cnidriver
# and labtool unless CNIDRIVER and LABTOOL name them. Exports LAB_BIN_DIR, CNIDRIVER and
# LABTOOL for the tests.
lab_init() {
	[ "$(id -u)" = 0 ] || { _lab_skip "the integration lab needs root (network namespaces)"; return; }
	local tool
	for tool in ip nsenter jq tcpdump ping; do
		command -v "$tool" >/dev/null || { echo "lab_init: $tool not found in PATH" >&2; return 1; }
	done

	export LAB_BIN_DIR=${NDPA_BIN_DIR:-$LAB_REPO/bin:$LAB_REPO/.tools/bin}
	local plugin
	for plugin in bridge host-local; do
		lab_plugin_path "$plugin" >/dev/null ||
			{ echo "lab_init: no executable '$plugin' in NDPA_BIN_DIR=$LAB_BIN_DIR" >&2; return 1; }
	done

	local tmp=${BATS_FILE_TMPDIR:-${LAB_TMPDIR:-}}
	if [ -z "${CNIDRIVER:-}" ]; then
		CNIDRIVER=$tmp/cnidriver
		_lab_build_tool "$CNIDRIVER" ./test/cnidriver || return 1
	fi
	if [ -z "${LABTOOL:-}" ]; then
		LABTOOL=$tmp/labtool
		_lab_build_tool "$LABTOOL" ./test/labtool || return 1
	fi
	[ -x "$CNIDRIVER" ] || { echo "lab_init: CNIDRIVER=$CNIDRIVER is not executable" >&2; return 1; }
	[ -x "$LABTOOL" ] || { echo "lab_init: LABTOOL=$LABTOOL is not executable" >&2; return 1; }
	export CNIDRIVER LABTOOL
}

# _lab_skip MSG: skip the file under bats; elsewhere say why and fail.
_lab_skip() {
	if declare -F skip >/dev/null; then skip "$1"; fi
	echo "$1" >&2
	return 1
}

# lab_plugin_path TYPE: the plugin binary libcni will run for TYPE, or failure.
lab_plugin_path() {
	local dir
	local -a dirs
	IFS=: read -ra dirs <<<"$LAB_BIN_DIR"
	for dir in "${dirs[@]}"; do
		[ -x "$dir/$1" ] && { echo "$dir/$1"; return 0; }
	done
	return 1
}

# _lab_build_tool OUT PACKAGE: go build PACKAGE of this repo into OUT.
_lab_build_tool() {
	local out=$1 pkg=$2 dir
	dir=$(dirname "$out")
	local log=$dir/${out##*/}-build.log
	(cd "$LAB_REPO" && go build -o "$out" "$pkg") >"$log" 2>&1 && return 0
	# libcni's invoke package needs modules that go.mod may not list yet. Build against a
	# throwaway copy of go.mod, offline from the module cache, so the repo's stays untouched,
	# and say so loudly: the real fix belongs in go.mod.
	local mod=$dir/gomod
	mkdir -p "$mod" && cp "$LAB_REPO/go.mod" "$LAB_REPO/go.sum" "$mod/" || return 1
	if (cd "$LAB_REPO" && GOPROXY=off go build -mod=mod -modfile="$mod/go.mod" -o "$out" "$pkg") >>"$log" 2>&1; then
		echo "# lab_init: WARNING: $pkg builds only with a patched copy of go.mod (see $log)" >&2
		return 0
	fi
	echo "lab_init: cannot build $pkg:" >&2
	cat "$log" >&2
	return 1
}

# lab_setup: run from setup. Builds this test's host and peer namespaces, the bridge, the
# peer's veth, and writes the default conflist.
lab_setup() {
	local tag=${LAB_TAG:-ndpa}
	[[ $tag =~ ^[a-z]{1,4}$ ]] || { echo "lab_setup: LAB_TAG '$tag' is not 1-4 letters" >&2; return 1; }
	LAB_ID=$(printf '%04x' $(($$ & 0xffff)))$(od -An -N2 -tx2 /dev/urandom | tr -d ' \n')
	LAB_PREFIX=$tag-$LAB_ID
	LAB_LINK_PREFIX=$tag$LAB_ID # links: IFNAMSIZ leaves 15 characters
	LAB_HOST_NS=$LAB_PREFIX-host
	LAB_PEER_NS=$LAB_PREFIX-peer
	LAB_BRIDGE=${LAB_LINK_PREFIX}br
	LAB_HOST_VETH=${LAB_LINK_PREFIX}hp
	LAB_NETWORK=$LAB_PREFIX
	LAB_DIR=${LAB_TMPDIR:-$BATS_TEST_TMPDIR}/lab
	LAB_CONFLIST=$LAB_DIR/conf/lab.conflist
	LAB_CACHE_DIR=$LAB_DIR/cache
	LAB_IPAM_DIR=$LAB_DIR/ipam
	mkdir -p "$LAB_DIR"/{conf,cache,ipam,attachments,results} || return 1
	: >"$LAB_DIR/netns"
	: >"$LAB_DIR/pids"

	_lab_netns_add "$LAB_HOST_NS" || return 1
	_lab_netns_add "$LAB_PEER_NS" || return 1

	in_ns host ip link add name "$LAB_BRIDGE" address "$LAB_BRIDGE_MAC" type bridge stp_state 0 &&
		in_ns host ip addr add "$LAB_V4_GW/24" dev "$LAB_BRIDGE" &&
		in_ns host ip addr add "$LAB_V6_GW/64" dev "$LAB_BRIDGE" nodad &&
		in_ns host ip link set "$LAB_BRIDGE" up &&
		in_ns host ip link add name "$LAB_HOST_VETH" type veth peer name eth0 address "$LAB_PEER_MAC" netns "$LAB_PEER_NS" &&
		in_ns host ip link set "$LAB_HOST_VETH" master "$LAB_BRIDGE" up &&
		in_ns peer ip addr add "$LAB_V4_PEER/24" dev eth0 &&
		in_ns peer ip addr add "$LAB_V6_PEER/64" dev eth0 nodad &&
		in_ns peer ip link set eth0 up || return 1
	lab_wait_ready peer eth0 || return 1
	lab_conflist
}

# _lab_netns_add NETNS: a namespace with lo up and no DAD (a tentative address cannot send,
# and lab addresses are unique by construction). Recorded before creation, so teardown
# removes even a half-made one.
_lab_netns_add() {
	echo "$1" >>"$LAB_DIR/netns" &&
		ip netns add "$1" &&
		_lab_nsenter "$1" ip link set lo up &&
		_lab_nsenter "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

# lab_container NAME: a container netns (lo up), like a runtime's pod sandbox.
lab_container() {
	case $1 in
	host | peer | *[!a-z0-9-]* | "") echo "lab_container: bad name '$1' (want [a-z0-9-]+, not host or peer)" >&2; return 1 ;;
	esac
	_lab_netns_add "$(lab_ns "$1")"
}

# lab_container_remove NAME: delete a container netns, as a runtime does before its last DEL.
lab_container_remove() {
	ip netns del "$(lab_ns "$1")"
}

# lab_conflist [PLUGIN_JSON...]: (re)write the test's conflist: bridge + host-local on the lab
# bridge, followed by the given plugins, e.g. lab_conflist '{"type":"ndp-announce"}'.
# LAB_CNI_VERSION picks the spec version (default 1.1.0).
lab_conflist() {
	local extra='[]' plugin
	for plugin in "$@"; do
		extra=$(jq -c --argjson p "$plugin" '. + [$p]' <<<"$extra") ||
			{ echo "lab_conflist: not JSON: $plugin" >&2; return 1; }
	done
	jq -n --arg version "${LAB_CNI_VERSION:-1.1.0}" --arg name "$LAB_NETWORK" \
		--arg bridge "$LAB_BRIDGE" --arg ipamdir "$LAB_IPAM_DIR" --argjson extra "$extra" '{
		cniVersion: $version,
		name: $name,
		plugins: ([{
			type: "bridge",
			bridge: $bridge,
			isGateway: true,
			ipMasq: false,
			hairpinMode: false,
			capabilities: {ips: true, mac: true},
			ipam: {
				type: "host-local",
				dataDir: $ipamdir,
				ranges: [
					[{subnet: "198.51.100.0/24", rangeStart: "198.51.100.10", rangeEnd: "198.51.100.250", gateway: "198.51.100.1"}],
					[{subnet: "2001:db8:1::/64", rangeStart: "2001:db8:1::10", rangeEnd: "2001:db8:1::ffff", gateway: "2001:db8:1::1"}]
				]
			}
		}] + $extra)
	}' >"$LAB_CONFLIST"
}

# ---------------------------------------------------------------------------------------------
# Names and namespaces

# lab_ns NAME: the netns name of a lab name (host, peer or a container).
lab_ns() {
	case $1 in
	host) echo "$LAB_HOST_NS" ;;
	peer) echo "$LAB_PEER_NS" ;;
	*) echo "$LAB_PREFIX-c-$1" ;;
	esac
}

lab_netns_path() { echo "/run/netns/$(lab_ns "$1")"; }
lab_container_id() { echo "$LAB_PREFIX-$1"; }

# in_ns NAME CMD...: run CMD in a lab netns.
in_ns() {
	local ns
	ns=$(lab_ns "$1") || return
	shift
	_lab_nsenter "$ns" "$@"
}

_lab_nsenter() {
	local ns=$1
	shift
	[ -e "/run/netns/$ns" ] || { echo "no netns $ns" >&2; return 1; }
	nsenter --net="/run/netns/$ns" -- "$@"
}

# ---------------------------------------------------------------------------------------------
# CNI operations, run by cnidriver inside the host netns with the test's conflist and cache.
# LAB_CNI_ARGS='K=V;K2=V2' sets CNI_ARGS for cni_add, and LAB_CONFLIST the conflist; both are
# remembered for its DEL/CHECK.

# cni_add NAME [IFNAME] [RUNTIME_CONFIG_JSON]: prints the result; keeps it for cni_result.
cni_add() {
	local name=$1 ifname=${2:-eth0} rc=${3:-} key out status
	key=$name@$ifname
	# Recorded first: a failed ADD still needs its DEL.
	printf '%s\n%s\n%s\n' "$rc" "${LAB_CNI_ARGS:-}" "$LAB_CONFLIST" >"$LAB_DIR/attachments/$key" || return 1
	status=0
	out=$(_lab_driver add "$name" "$ifname" "$rc" "${LAB_CNI_ARGS:-}" "$LAB_CONFLIST") || status=$?
	if [ $status -eq 0 ]; then
		printf '%s\n' "$out" >"$LAB_DIR/results/$key.json" || return 1
	fi
	printf '%s\n' "$out"
	return $status
}

# cni_del NAME [IFNAME]
cni_del() {
	local name=$1 ifname=${2:-eth0}
	local key=$name@$ifname
	_lab_attached "$key" del "$name" "$ifname" || return
	rm -f "$LAB_DIR/attachments/$key" "$LAB_DIR/results/$key.json"
}

# cni_check NAME [IFNAME]
cni_check() {
	local name=$1 ifname=${2:-eth0}
	_lab_attached "$name@$ifname" check "$name" "$ifname"
}

# _lab_attached KEY CMD NAME IFNAME: CMD with what cni_add recorded for KEY (or the defaults).
_lab_attached() {
	local f=$LAB_DIR/attachments/$1 rc='' args='' conflist=$LAB_CONFLIST
	if [ -e "$f" ]; then
		{ read -r rc; read -r args; read -r conflist || true; } <"$f"
	fi
	_lab_driver "$2" "$3" "$4" "$rc" "$args" "${conflist:-$LAB_CONFLIST}"
}

# cni_status
cni_status() {
	_lab_nsenter "$LAB_HOST_NS" "$CNIDRIVER" status --conflist "$LAB_CONFLIST" \
		--cache-dir "$LAB_CACHE_DIR" --bin-dir "$LAB_BIN_DIR"
}

# cni_gc [VALID_ATTACHMENTS_JSON]: e.g. cni_gc "[{\"containerID\":\"$(lab_container_id c1)\",\"ifname\":\"eth0\"}]".
# Attachments not listed are DELeted by libcni, then each plugin gets GC.
cni_gc() {
	_lab_nsenter "$LAB_HOST_NS" "$CNIDRIVER" gc --conflist "$LAB_CONFLIST" \
		--cache-dir "$LAB_CACHE_DIR" --bin-dir "$LAB_BIN_DIR" --valid-attachments "${1:-[]}"
}

# cni_result NAME [IFNAME]: the result of the last successful cni_add.
cni_result() {
	cat "$LAB_DIR/results/$1@${2:-eth0}.json"
}

_lab_driver() {
	local cmd=$1 name=$2 ifname=$3 rc=$4 args=$5 conflist=$6
	local -a opts=(--conflist "$conflist" --cache-dir "$LAB_CACHE_DIR" --bin-dir "$LAB_BIN_DIR"
		--container-id "$(lab_container_id "$name")" --ifname "$ifname" --netns "$(lab_netns_path "$name")")
	if [ -n "$rc" ]; then opts+=(--runtime-config "$rc"); fi
	if [ -n "$args" ]; then opts+=(--args "$args"); fi
	_lab_nsenter "$LAB_HOST_NS" "$CNIDRIVER" "$cmd" "${opts[@]}"
}

# ---------------------------------------------------------------------------------------------
# Looking at the lab

# neigh_mac NAME ADDR: the link-layer address NAME's neighbour table holds for ADDR, or "".
neigh_mac() {
	local json
	json=$(in_ns "$1" ip -j neigh show "$2") || return
	jq -r '[.[] | select(.lladdr)][0].lladdr // empty' <<<"$json"
}

# neigh_state NAME ADDR: e.g. REACHABLE, STALE, or "" when there is no entry.
neigh_state() {
	local json
	json=$(in_ns "$1" ip -j neigh show "$2") || return
	jq -r '.[0].state // [] | join(",")' <<<"$json"
}

# link_mac NAME IF
link_mac() {
	local json
	json=$(in_ns "$1" ip -j link show dev "$2") || return
	jq -r '.[0].address' <<<"$json"
}

# lab_host_veths: the veth interfaces in the host netns, sorted, one a line.
lab_host_veths() {
	local json
	json=$(in_ns host ip -j link show type veth) || return
	jq -r '.[].ifname' <<<"$json" | sort
}

# lab_ipam_leases: the addresses host-local holds for the test's network, sorted.
lab_ipam_leases() {
	local dir=$LAB_IPAM_DIR/$LAB_NETWORK
	[ -d "$dir" ] || return 0
	find "$dir" -mindepth 1 -maxdepth 1 -type f ! -name 'last_reserved_ip.*' ! -name lock -printf '%f\n' | sort
}

# ping_once NAME ADDR: one echo request; succeeds only if a reply came back within
# LAB_PING_TIMEOUT seconds (default 1).
ping_once() {
	in_ns "$1" ping -n -c 1 -W "${LAB_PING_TIMEOUT:-1}" "$2"
}

# lab_wait_ready NAME IFNAME [SECONDS]: wait until IFNAME in lab netns NAME is up and, when
# its veth peer is a port of the lab bridge, that port forwards (pkg/iface's waits, run by
# labtool: over netlink, as the plugin does).
lab_wait_ready() {
	"$LABTOOL" wait -timeout "${3:-5}s" -host-netns "$(lab_netns_path host)" \
		"$(lab_netns_path "$1")" "$2" link-up bridge-port
}

# ---------------------------------------------------------------------------------------------
# Background processes and captures

# lab_bg NAME LOG CMD...: start CMD in the background in netns NAME, output to LOG; its PID is
# recorded for teardown and left in LAB_BG_PID. Call it directly, not under `run`.
lab_bg() {
	local ns log=$2
	ns=$(lab_ns "$1") || return
	shift 2
	[ -e "/run/netns/$ns" ] || { echo "no netns $ns" >&2; return 1; }
	# fd 3 closed: bats waits for every holder of it before finishing the test.
	nsenter --net="/run/netns/$ns" -- "$@" </dev/null >"$log" 2>&1 3>&- &
	LAB_BG_PID=$!
	echo "$LAB_BG_PID $(_lab_starttime "$LAB_BG_PID")" >>"$LAB_DIR/pids"
}

# capture_start NAME IF FILE [FILTER...]: tcpdump on IF in netns NAME into FILE; returns once
# tcpdump is listening.
capture_start() {
	local name=$1 ifname=$2 file=$3 deadline
	shift 3
	# -Z root: tcpdump otherwise drops to its own user before opening FILE.
	lab_bg "$name" "$file.log" tcpdump -Z root -n -i "$ifname" --immediate-mode -U -w "$file" "$@" || return
	echo "$LAB_BG_PID $(_lab_starttime "$LAB_BG_PID")" >"$file.pid"
	deadline=$((SECONDS + 5))
	until grep -q '^tcpdump: listening on' "$file.log" 2>/dev/null; do
		if ! _lab_alive "$LAB_BG_PID" || [ $SECONDS -gt "$deadline" ]; then
			echo "capture_start: tcpdump on $name/$ifname is not listening:" >&2
			cat "$file.log" >&2
			return 1
		fi
		sleep 0.02
	done
}

# capture_stop FILE: stop the capture writing FILE and wait until the file is complete.
capture_stop() {
	local pid start
	read -r pid start <"$1.pid" || return
	_lab_stop_pid "$pid" "$start"
}

# capture_read NAME FILE [TCPDUMP_ARGS...]: decode FILE in the netns it was taken in
# (interface indexes are per netns).
capture_read() {
	local name=$1 file=$2
	shift 2
	in_ns "$name" tcpdump -r "$file" -n -e "$@" 2>/dev/null
}

_lab_starttime() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) } # comm may hold spaces and parentheses
	set -- $stat
	echo "${20}" # field 22 of stat: start time, guards against a recycled PID
}

_lab_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# _lab_stop_pid PID STARTTIME: SIGTERM, then SIGKILL after 2 s; only if PID is still the
# process we started.
_lab_stop_pid() {
	local pid=$1 start=$2 i
	if [ -z "$start" ] || [ "$(_lab_starttime "$pid")" != "$start" ]; then
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		_lab_alive "$pid" || break
		sleep 0.02
	done
	if _lab_alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true # reaps it when it is our child
	return 0
}

# ---------------------------------------------------------------------------------------------
# Teardown

# lab_teardown: run from teardown, also after a failure midway; idempotent. CNI DEL for each
# attachment still there, the file's lab_after_del if it defines one, stop the test's
# processes, delete its namespaces and files, then lab_assert_clean. Keeps going past errors
# and fails at the end if any.
lab_teardown() {
	local failed=0 f key ns pid start
	local -a namespaces=()
	if [ -n "${LAB_DIR:-}" ] && [ -d "$LAB_DIR" ]; then
		for f in "$LAB_DIR"/attachments/*; do
			[ -e "$f" ] || continue
			key=${f##*/}
			cni_del "${key%@*}" "${key#*@}" ||
				{ echo "lab_teardown: CNI DEL of $key failed" >&2; failed=1; }
		done

		# A test file's own leak checks (say, no plugin state left after DEL) go in
		# lab_after_del: it runs here, while the namespaces and LAB_DIR still exist.
		if declare -F lab_after_del >/dev/null; then
			lab_after_del || { echo "lab_teardown: lab_after_del failed" >&2; failed=1; }
		fi

		_LAB_PIDS=$(cat "$LAB_DIR/pids" 2>/dev/null) || true
		while read -r pid start; do
			if [ -n "$pid" ]; then _lab_stop_pid "$pid" "$start"; fi
		done <<<"$_LAB_PIDS"

		mapfile -t namespaces < <(tac "$LAB_DIR/netns" 2>/dev/null)
		# Whatever still runs inside our namespaces was started by this test (say a plugin's
		# background process that DEL did not stop): a leak to report, then stop.
		"$LABTOOL" stragglers "${namespaces[@]/#//run/netns/}" || failed=1
		for ns in "${namespaces[@]}"; do
			[ -e "/run/netns/$ns" ] || continue
			ip netns del "$ns" || { echo "lab_teardown: cannot delete netns $ns" >&2; failed=1; }
		done
		rm -rf "$LAB_DIR" || failed=1
	fi
	lab_assert_clean || failed=1
	return $failed
}

# lab_assert_clean: nothing this test made is left: no netns or netns mount with its prefix,
# no link with its prefix in the root netns (only looked at), no process it started, no files.
lab_assert_clean() {
	[ -n "${LAB_PREFIX:-}" ] || return 0
	local -a left=()
	local ns pid start
	while read -r ns _; do
		if [[ $ns == "$LAB_PREFIX"-* ]]; then left+=("netns $ns"); fi
	done < <(ip netns list)
	for ns in /run/netns/"$LAB_PREFIX"-*; do
		if [ -e "$ns" ]; then left+=("file $ns"); fi
	done
	while read -r ns; do
		left+=("mount $ns")
	done < <(awk -v p="/run/netns/$LAB_PREFIX-" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo)
	while read -r ns; do
		left+=("root-netns link $ns")
	done < <(ip -j link show | jq -r --arg p "$LAB_LINK_PREFIX" '.[].ifname | select(startswith($p))')
	while read -r pid start; do
		if [ -n "$start" ] && [ "$(_lab_starttime "$pid")" = "$start" ]; then left+=("process $pid"); fi
	done <<<"${_LAB_PIDS:-$(cat "$LAB_DIR/pids" 2>/dev/null || true)}"
	if [ -e "$LAB_DIR" ]; then left+=("dir $LAB_DIR"); fi
	if [ ${#left[@]} -eq 0 ]; then return 0; fi
	echo "lab_assert_clean: left behind by $LAB_PREFIX:" >&2
	printf '  %s\n' "${left[@]}" >&2
	return 1
}

# ---------------------------------------------------------------------------------------------
# IP reuse, the scenario every network checks: peers talk to container A, A goes (DEL, netns
# removed), B comes up with A's addresses. Without announcements the peers keep A's MAC.

# lab_reuse_first PEERS NAME RUNTIME_CONFIG ADDR...: ADD container NAME (RUNTIME_CONFIG may be
# ""), each of PEERS ("peer host", say) pings each ADDR and must then hold NAME's MAC for it;
# then DEL NAME and remove its netns. Leaves NAME's MAC in LAB_REUSE_MAC.
lab_reuse_first() {
	local peers=$1 name=$2 rc=$3 peer addr
	shift 3
	lab_container "$name" || return
	cni_add "$name" eth0 "$rc" >/dev/null || { echo "lab_reuse_first: ADD $name failed" >&2; return 1; }
	LAB_REUSE_MAC=$(link_mac "$name" eth0) || return
	for peer in $peers; do
		for addr in "$@"; do
			ping_once "$peer" "$addr" >/dev/null ||
				{ echo "lab_reuse_first: $peer gets no reply from $name at $addr" >&2; return 1; }
			[ "$(neigh_mac "$peer" "$addr")" = "$LAB_REUSE_MAC" ] ||
				{ echo "lab_reuse_first: $peer holds $(neigh_mac "$peer" "$addr") for $addr, not $name's $LAB_REUSE_MAC" >&2; return 1; }
		done
	done
	cni_del "$name" && lab_container_remove "$name"
}

# lab_first_probes PEERS ADDR...: each of PEERS sends one probe to each ADDR and prints
# "PEER ADDR answered" or "PEER ADDR lost", with the MAC PEER then holds for ADDR.
lab_first_probes() {
	local peers=$1 peer addr
	shift
	for peer in $peers; do
		for addr in "$@"; do
			if ping_once "$peer" "$addr" >/dev/null; then
				echo "$peer $addr answered $(neigh_mac "$peer" "$addr")"
			else
				echo "$peer $addr lost $(neigh_mac "$peer" "$addr")"
			fi
		done
	done
}
