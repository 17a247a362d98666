#!/usr/bin/env bash
# make demo: a recycled pod IP seen from a peer on the same bridge, first with the reference bridge
# plugin alone, then with ndp-announce chained after it. Under a minute, root only.
#
#   peer netns                   host netns                         container netns
#   eth0 198.51.100.2 ──── <L>hp ── <L>br 198.51.100.1 ── veth* ──── eth0 198.51.100.50 (A, then B)
#        2001:db8:1::2                   2001:db8:1::1                    2001:db8:1::50
#
# Everything lives in network namespaces named ndpd-<id>-*, made here and removed on exit, Ctrl-C
# included; the root netns's links, routes and sysctls are never touched. The CNI plugins run
# inside the host netns (nsenter, like test/integration/lab.bash) through test/cnidriver, with
# libcni's cache and host-local's leases in a temp dir.
#
# Environment: NDPA_BIN_DIR (plugin dirs, default bin:.tools/bin), CNIDRIVER (default
# .tools/bin/cnidriver), DEMO_BLACKHOLE_SECONDS (how long act 1 probes, default 3).

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR=${NDPA_BIN_DIR:-$REPO/bin:$REPO/.tools/bin}
CNIDRIVER=${CNIDRIVER:-$REPO/.tools/bin/cnidriver}
WAIT=${DEMO_BLACKHOLE_SECONDS:-3}

V4=198.51.100.50
V6=2001:db8:1::50
FIXED='{"ips": ["198.51.100.50/24", "2001:db8:1::50/64"]}'

ID=$(printf '%04x' $(($$ & 0xffff)))$(od -An -N2 -tx2 /dev/urandom | tr -d ' \n')
PREFIX=ndpd-$ID
LINKS=ndpd$ID # IFNAMSIZ leaves 15 characters: ndpd + 8 + "br"
HOST_NS=$PREFIX-host
PEER_NS=$PREFIX-peer
BRIDGE=${LINKS}br
TMP=$(mktemp -d "/tmp/$PREFIX.XXXXXX")
CREATED_NS=()
ATTACHED=() # "name conflist" pairs that still need a DEL

say() { printf '%s\n' "$*"; }
if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD='' PLAIN=''; fi
step() { printf '\n%s%s%s\n' "$BOLD" "$*" "$PLAIN"; }
ns_of() {
	case $1 in
	host) echo "$HOST_NS" ;;
	peer) echo "$PEER_NS" ;;
	*) echo "$PREFIX-c-$1" ;;
	esac
}
in_ns() {
	local ns
	ns=$(ns_of "$1")
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

# ---------------------------------------------------------------------------------------------
# Cleanup: DEL what is attached (stops ndp-announce's background announcers), stop anything still
# running in our namespaces (only processes started here can be in them), delete them, rm the temp dir.

cleanup() {
	local status=$? entry ns inode link pid
	trap - EXIT INT TERM
	for entry in "${ATTACHED[@]}"; do
		# shellcheck disable=SC2086
		cni del $entry >/dev/null 2>&1 || say "cleanup: DEL of ${entry%% *} failed" >&2
	done
	local -A ours=()
	for ns in "${CREATED_NS[@]}"; do
		if inode=$(stat -L -c %i "/run/netns/$ns" 2>/dev/null); then ours["net:[$inode]"]=1; fi
	done
	if [ ${#ours[@]} -gt 0 ]; then
		for link in /proc/[0-9]*/ns/net; do
			pid=${link#/proc/}
			pid=${pid%%/*}
			[ "$pid" != "$$" ] || continue
			ns=$(readlink "$link" 2>/dev/null) || continue
			if [ -n "${ours[$ns]:-}" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
		done
	fi
	for ((i = ${#CREATED_NS[@]} - 1; i >= 0; i--)); do
		[ -e "/run/netns/${CREATED_NS[i]}" ] && ip netns del "${CREATED_NS[i]}" 2>/dev/null
	done
	rm -rf "$TMP"
	if [ "$status" -ne 0 ]; then say "demo stopped (status $status); namespaces $PREFIX-* removed" >&2; fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# The lab

netns_add() {
	CREATED_NS+=("$1")
	ip netns add "$1"
	nsenter --net="/run/netns/$1" -- ip link set lo up
	nsenter --net="/run/netns/$1" -- sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

lab() {
	netns_add "$HOST_NS"
	netns_add "$PEER_NS"
	in_ns host ip link add name "$BRIDGE" address 02:00:5e:00:01:01 type bridge stp_state 0
	in_ns host ip addr add 198.51.100.1/24 dev "$BRIDGE"
	in_ns host ip addr add 2001:db8:1::1/64 dev "$BRIDGE" nodad
	in_ns host ip link set "$BRIDGE" up
	in_ns host ip link add name "${LINKS}hp" type veth peer name eth0 address 02:00:5e:00:01:02 netns "$PEER_NS"
	in_ns host ip link set "${LINKS}hp" master "$BRIDGE" up
	in_ns peer ip addr add 198.51.100.2/24 dev eth0
	in_ns peer ip addr add 2001:db8:1::2/64 dev eth0 nodad
	in_ns peer ip link set eth0 up
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(in_ns host ip -j -d link show dev "${LINKS}hp" | jq -r '.[0].linkinfo.info_slave_data.state')" = forwarding ] && return 0
		sleep 0.05
	done
	say "the peer's bridge port never started forwarding" >&2
	return 1
}

# conflist FILE [PLUGIN_JSON]: bridge + host-local on the demo bridge, then the given plugin.
conflist() {
	local extra=${2:-}
	jq -n --arg bridge "$BRIDGE" --arg ipam "$TMP/ipam" --argjson extra "[${extra}]" '{
		cniVersion: "1.1.0", name: "demo",
		plugins: ([{
			type: "bridge", bridge: $bridge, isGateway: true, ipMasq: false,
			capabilities: {ips: true},
			ipam: {type: "host-local", dataDir: $ipam, ranges: [
				[{subnet: "198.51.100.0/24", gateway: "198.51.100.1"}],
				[{subnet: "2001:db8:1::/64", gateway: "2001:db8:1::1"}]]}
		}] + $extra)
	}' >"$1"
}

# cni add|del NAME CONFLIST
cni() {
	local cmd=$1 name=$2 conf=$3
	local -a opts=(--conflist "$conf" --cache-dir "$TMP/cache" --bin-dir "$BIN_DIR"
		--container-id "$PREFIX-$name" --ifname eth0 --netns "/run/netns/$(ns_of "$name")")
	[ "$cmd" != add ] || opts+=(--runtime-config "$FIXED")
	in_ns host "$CNIDRIVER" "$cmd" "${opts[@]}"
}

# container_add NAME CONFLIST: a fresh netns, then CNI ADD with the recycled addresses.
container_add() {
	netns_add "$(ns_of "$1")"
	ATTACHED+=("$1 $2")
	cni add "$1" "$2" >/dev/null
}

# container_del NAME CONFLIST: CNI DEL, then the netns goes, as when a runtime removes a pod.
container_del() {
	cni del "$1" "$2"
	local keep=() e
	for e in "${ATTACHED[@]}"; do [ "$e" = "$1 $2" ] || keep+=("$e"); done
	ATTACHED=("${keep[@]}")
	ip netns del "$(ns_of "$1")"
}

mac_of() { in_ns "$1" ip -j link show dev eth0 | jq -r '.[0].address'; }

# peer_entry ADDR: what the peer's neighbour table says about ADDR, in words.
peer_entry() {
	local json
	json=$(in_ns peer ip -j neigh show "$1" dev eth0)
	jq -r --arg a "$1" '.[0] // empty | "\($a) -> \(.lladdr // "?") (\(.state | join(",")))"' <<<"$json"
}

show_entries() {
	say "  peer's neighbour table:"
	say "    $(peer_entry "$V4")"
	say "    $(peer_entry "$V6")"
}

# probe SECONDS: the peer pings both addresses every 50 ms for SECONDS, both at once; one line each.
probe() {
	local secs=$1 out4=$TMP/p4 out6=$TMP/p6 pid4 pid6
	in_ns peer ping -n -i 0.05 -w "$secs" -c $((secs * 20)) "$V4" >"$out4" 2>&1 &
	pid4=$!
	in_ns peer ping -n -i 0.05 -w "$secs" -c $((secs * 20)) "$V6" >"$out6" 2>&1 &
	pid6=$!
	wait "$pid4" || true
	wait "$pid6" || true
	summarize IPv4 "$out4"
	summarize IPv6 "$out6"
}

summarize() {
	local fam=$1 out=$2 sent got first
	sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$out")
	got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$out")
	first=$(sed -n 's/.*icmp_seq=\([0-9]*\) .*time=\([0-9.]*\) ms.*/probe #\1, round trip \2 ms/p' "$out" | head -1)
	if [ "${got:-0}" = 0 ]; then
		say "  $fam: ${sent:-?} probes over ${WAIT} s, none answered: black-holed"
	else
		say "  $fam: ${got} of ${sent} probes answered; first answer: ${first}"
	fi
}

# act TITLE CONFLIST SECONDS: A talks to the peer, A goes, B comes with A's addresses, the peer probes.
act() {
	local conf=$2 secs=$3 mac_a mac_b
	step "$1"
	container_add a "$conf"
	mac_a=$(mac_of a)
	say "Container A is up: $V4 and $V6, MAC $mac_a. The peer talks to it:"
	in_ns peer ping -n -c 1 -W 1 "$V4" >/dev/null && in_ns peer ping -n -c 1 -W 1 "$V6" >/dev/null ||
		{ say "  the peer cannot reach A" >&2; return 1; }
	show_entries
	container_del a "$conf"
	container_add b "$conf"
	mac_b=$(mac_of b)
	say "A is deleted. Container B is added and gets the same two addresses, MAC $mac_b."
	say "Right after ADD returned:"
	show_entries
	say "The peer pings B on both addresses:"
	probe "$secs"
	show_entries
	ACT_MAC_A=$mac_a ACT_MAC_B=$mac_b
	container_del b "$conf"
}

# ---------------------------------------------------------------------------------------------

main() {
	[ "$(id -u)" = 0 ] || { say "make demo needs root (network namespaces)" >&2; exit 1; }
	local tool dir found
	for tool in ip nsenter jq ping; do
		command -v "$tool" >/dev/null || { say "demo: $tool not found (make deps installs it)" >&2; exit 1; }
	done
	for tool in bridge host-local ndp-announce; do
		found=
		IFS=: read -ra dirs <<<"$BIN_DIR"
		for dir in "${dirs[@]}"; do [ -x "$dir/$tool" ] && found=1; done
		[ -n "$found" ] || { say "demo: no $tool in $BIN_DIR (run make build deps-go)" >&2; exit 1; }
	done
	[ -x "$CNIDRIVER" ] || { say "demo: no cnidriver at $CNIDRIVER (run make deps-go)" >&2; exit 1; }

	say "A pod dies and its IP goes to a new pod with a new MAC. Does a neighbour on the same bridge"
	say "notice? Lab: network namespaces $PREFIX-* (a bridge, a peer, the containers), removed at the end."
	say "Neighbour states: REACHABLE = confirmed recently, used as is; STALE = known, used, confirmed on"
	say "first use; DELAY = in use, confirmation pending."
	lab
	conflist "$TMP/bridge.conflist"
	# ndp-announce with its embedded defaults; only its state dir moves into the demo's temp dir so
	# that nothing is left on this machine. logFile lets the demo show what it did.
	conflist "$TMP/ndpa.conflist" "$(jq -nc --arg d "$TMP/state" --arg l "$TMP/ndpa.log" '{type: "ndp-announce", dataDir: $d, logFile: $l}')"

	act "1. bridge alone" "$TMP/bridge.conflist" "$WAIT"
	say "The peer still sends to A's old MAC ($ACT_MAC_A), not B's ($ACT_MAC_B):"
	say "the bridge floods those frames and B drops them. The kernel sent no announcement that got through (its one gratuitous"
	say "ARP at link-up leaves while the bridge port is not forwarding yet; for IPv6 nothing at all)."
	say "The peer only finds out when its entry expires: about 35 s here (BENCHMARKS.md)."

	# A fresh start for the peer: forget act 1's entries.
	in_ns peer ip neigh flush dev eth0
	act "2. bridge + ndp-announce  ({\"type\": \"ndp-announce\"} after bridge, defaults)" "$TMP/ndpa.conflist" 1
	say "ndp-announce sent an unsolicited ARP and a Neighbour Advertisement with B's MAC before ADD"
	say "returned, so the peer's entries already named B ($ACT_MAC_B) when it sent its first probe."
	jq -r 'select(.msg == "ADD done" and .containerID == "'"$PREFIX-b"'") |
		"Its log line for B: bridge port \(.bridgePort | split(": ")[1]), \(.round1.sent) frames in the first round (ARP, NA, one to each gateway), \(.ms) ms in the plugin; two more rounds follow from a background process, 1 s apart."' \
		"$TMP/ndpa.log" 2>/dev/null || true
	step "Done: all namespaces removed. Figures over many runs: BENCHMARKS.md (make bench)."
}

main "$@"
