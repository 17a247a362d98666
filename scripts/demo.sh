#!/usr/bin/env bash
# make demo: a recycled pod IP seen from a peer on the same bridge, first with the reference bridge
# plugin alone, then with ndp-announce chained after it. Under a minute, root only.
#
#   peer netns                   host netns                         container netns
#   eth0 198.51.100.2 ──── <L>hp ── <L>br 198.51.100.1 ── veth* ──── eth0 198.51.100.50 (A, then B)
#        2001:db8:1::2                   2001:db8:1::1                    2001:db8:1::50
#
# The lab is test/integration/lab.bash's, the one the bats tests use, in network namespaces named
# ndpd-<id>-* and removed on exit, Ctrl-C included; the root netns's links, routes and sysctls are
# never touched. The CNI plugins run inside the host netns (nsenter) through test/cnidriver, with
# libcni's cache and host-local's leases in a temp dir.
#
# Environment: NDPA_BIN_DIR (plugin dirs, default bin:.tools/bin), CNIDRIVER and LABTOOL (the
# lab's helpers, built into a temp dir when unset), DEMO_BLACKHOLE_SECONDS (how long act 1
# probes, default 3).

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WAIT=${DEMO_BLACKHOLE_SECONDS:-3}

V4=198.51.100.50
V6=2001:db8:1::50
FIXED='{"ips": ["198.51.100.50/24", "2001:db8:1::50/64"]}'

# The lab is the integration tests' own (test/integration/lab.bash), with names of its own.
# shellcheck source=../test/integration/lab.bash
source "$REPO/test/integration/lab.bash"
LAB_TAG=ndpd
LAB_TMPDIR=$(mktemp -d /tmp/ndpd.XXXXXX)

say() { printf '%s\n' "$*"; }
if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD='' PLAIN=''; fi
step() { printf '\n%s%s%s\n' "$BOLD" "$*" "$PLAIN"; }

# ---------------------------------------------------------------------------------------------
# Cleanup: the lab's teardown (DEL of what is attached, which stops ndp-announce's background
# announcers; whatever still runs in the namespaces; the namespaces; the files), on every exit,
# Ctrl-C included.

cleanup() {
	local status=$?
	trap - EXIT INT TERM
	lab_teardown || [ "$status" -ne 0 ] || status=1
	rm -rf "$LAB_TMPDIR"
	if [ "$status" -ne 0 ]; then say "demo stopped (status $status); namespaces ${LAB_PREFIX:-$LAB_TAG}-* removed" >&2; fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# The acts

# container_add NAME: a fresh netns, then CNI ADD (of $LAB_CONFLIST) with the recycled addresses.
container_add() {
	lab_container "$1"
	cni_add "$1" eth0 "$FIXED" >/dev/null
}

# container_del NAME: CNI DEL, then the netns goes, as when a runtime removes a pod.
container_del() {
	cni_del "$1"
	lab_container_remove "$1"
}

mac_of() { link_mac "$1" eth0; }

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
	local secs=$1 out4=$LAB_DIR/p4 out6=$LAB_DIR/p6 pid4 pid6
	# lab_bg: the lab knows them, so an interrupted demo stops them as its own, not as leaks.
	lab_bg peer "$out4" ping -n -i 0.05 -w "$secs" -c $((secs * 20)) "$V4"
	pid4=$LAB_BG_PID
	lab_bg peer "$out6" ping -n -i 0.05 -w "$secs" -c $((secs * 20)) "$V6"
	pid6=$LAB_BG_PID
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
	local secs=$3 mac_a mac_b
	LAB_CONFLIST=$2
	step "$1"
	container_add a
	mac_a=$(mac_of a)
	say "Container A is up: $V4 and $V6, MAC $mac_a. The peer talks to it:"
	in_ns peer ping -n -c 1 -W 1 "$V4" >/dev/null && in_ns peer ping -n -c 1 -W 1 "$V6" >/dev/null ||
		{ say "  the peer cannot reach A" >&2; return 1; }
	show_entries
	container_del a
	container_add b
	mac_b=$(mac_of b)
	say "A is deleted. Container B is added and gets the same two addresses, MAC $mac_b."
	say "Right after ADD returned:"
	show_entries
	say "The peer pings B on both addresses:"
	probe "$secs"
	show_entries
	ACT_MAC_A=$mac_a ACT_MAC_B=$mac_b
	container_del b
}

# ---------------------------------------------------------------------------------------------

main() {
	[ "$(id -u)" = 0 ] || { say "make demo needs root (network namespaces)" >&2; exit 1; }
	lab_init
	lab_plugin_path ndp-announce >/dev/null || { say "demo: no ndp-announce in $LAB_BIN_DIR (run make build)" >&2; exit 1; }

	say "A pod dies and its IP goes to a new pod with a new MAC. Does a neighbour on the same bridge"
	say "notice? Lab: network namespaces $LAB_TAG-* (a bridge, a peer, the containers), removed at the end."
	say "Neighbour states: REACHABLE = confirmed recently, used as is; STALE = known, used, confirmed on"
	say "first use; DELAY = in use, confirmation pending."
	lab_setup
	local bridge=$LAB_DIR/conf/bridge.conflist ndpa=$LAB_DIR/conf/ndpa.conflist
	LAB_CONFLIST=$bridge lab_conflist
	# ndp-announce with its embedded defaults; only its state dir moves into the lab dir so that
	# nothing is left on this machine. logFile lets the demo show what it did.
	LAB_CONFLIST=$ndpa lab_conflist "$(jq -nc --arg d "$LAB_DIR/state" --arg l "$LAB_DIR/ndpa.log" '{type: "ndp-announce", dataDir: $d, logFile: $l}')"

	act "1. bridge alone" "$bridge" "$WAIT"
	say "The peer still sends to A's old MAC ($ACT_MAC_A), not B's ($ACT_MAC_B):"
	say "the bridge floods those frames and B drops them. The kernel sent no announcement that got through (its one gratuitous"
	say "ARP at link-up leaves while the bridge port is not forwarding yet; for IPv6 nothing at all)."
	say "The peer only finds out when its entry expires: about 35 s here (BENCHMARKS.md)."

	# A fresh start for the peer: forget act 1's entries.
	in_ns peer ip neigh flush dev eth0
	act "2. bridge + ndp-announce  ({\"type\": \"ndp-announce\"} after bridge, defaults)" "$ndpa" 1
	say "ndp-announce sent an unsolicited ARP and a Neighbour Advertisement with B's MAC before ADD"
	say "returned, so the peer's entries already named B ($ACT_MAC_B) when it sent its first probe."
	jq -r 'select(.msg == "ADD done" and .containerID == "'"$(lab_container_id b)"'") |
		"Its log line for B: bridge port \(.bridgePort | split(": ")[1]), \(.round1.sent) frames in the first round (ARP, NA, one to each gateway), \(.ms) ms in the plugin; two more rounds follow from a background process, 1 s apart."' \
		"$LAB_DIR/ndpa.log" 2>/dev/null || true
	step "Done: all namespaces removed. Figures over many runs: BENCHMARKS.md (make bench)."
}

main "$@"
