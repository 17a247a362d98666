#!/usr/bin/env bats
# ndp-announce where bridge networks really run, with the real plugins: after flannel (k3s's
# conflist, flannel delegating to bridge), after macvlan and ipvlan (a LAN on a veth parent in the
# lab's host netns, the lab peer on it), after host-device, and in nerdctl's and podman's default
# networks (bridge + portmap + firewall + tuning). Each scenario recycles an IP and has its
# control, the same network without ndp-announce: the peers stay black-holed, but after macvlan
# (and ipvlan), whose own single ARP and NA at link-up the control counts. ndp-announce goes into
# each network's conflist by `ndp-announce install`, as on a node; Multus's examples last.

load lab
load ndpa

setup_file() {
	lab_init && ndpa_init || return
	local p
	for p in ndp-announce flannel macvlan ipvlan host-device portmap firewall tuning bandwidth; do
		lab_plugin_path "$p" >/dev/null || { echo "no $p in $LAB_BIN_DIR: run make deps build" >&2; return 1; }
	done
	if [ -z "${MULTUSCONF:-}" ]; then
		MULTUSCONF=$BATS_FILE_TMPDIR/multusconf
		(cd "$LAB_REPO" && go build -o "$MULTUSCONF" ./test/multusconf) || return
	fi
	export MULTUSCONF
}

setup() { lab_setup && ndpa_setup; }

teardown() { lab_teardown; }

# Addresses the container gets in each run, A's then B's: ndpa.bash's V4, V6 and FIXED on the lab
# bridge's subnets, these on the LAN's.
# The macvlan/ipvlan LAN: the lab peer's lan0 and the containers, on the parent's segment.
LAN_V4=203.0.113.50
LAN_V6=2001:db8:3::50
LAN_FIXED='{"ips": ["203.0.113.50/24", "2001:db8:3::50/64"]}'

# write_conflist VERSION PLUGIN_JSON...: the test's conflist, these plugins in this order.
write_conflist() {
	local version=$1
	shift
	printf '%s\n' "$@" | jq -s --arg v "$version" --arg name "$LAB_NETWORK" \
		'{cniVersion: $v, name: $name, plugins: .}' >"$LAB_CONFLIST"
}

# chained FIELDS CMD...: CMD writes the test's conflist without ndp-announce, then `ndp-announce
# install` chains ndpa_conf FIELDS into it, right after the interface plugin as on a node: the
# scenarios run what the installer writes.
chained() {
	local fields=$1
	shift
	"$@" || return
	mkdir -p "$LAB_DIR/installbin" || return
	"$NDPA" install --cni-conf-dir "${LAB_CONFLIST%/*}" --conf-file "${LAB_CONFLIST##*/}" \
		--cni-bin-dir "$LAB_DIR/installbin" --source "$NDPA" --plugin-config "$(ndpa_conf "$fields")" \
		2>"$LAB_DIR/install.log" || { cat "$LAB_DIR/install.log" >&2; return 1; }
}

# assert_chain TYPE...: the test's conflist runs these plugins, in this order.
assert_chain() {
	run jq -r '[.plugins[].type] | join(" ")' "$LAB_CONFLIST"
	assert_output "$*"
}

# lab_ipam [RANGES_JSON]: host-local in the test's dir on the lab bridge's subnets.
LAB_RANGES='[[{"subnet": "198.51.100.0/24", "gateway": "198.51.100.1"}], [{"subnet": "2001:db8:1::/64", "gateway": "2001:db8:1::1"}]]'
lab_ipam() {
	local ranges=${1:-$LAB_RANGES}
	jq -cn --arg dir "$LAB_IPAM_DIR" --argjson ranges "$ranges" '{type: "host-local", dataDir: $dir, ranges: $ranges}'
}

# reuse PEERS RUNTIME_CONFIG ADDR...: A then B with the same addresses; prints the first probes
# to B (lab_first_probes). Run it under `run`, then macs sets A_MAC and B_MAC. REUSE_BEFORE_B
# (an array) is a command to run once A is gone (to give B another parent or device).
reuse() {
	local peers=$1 rc=$2
	shift 2
	lab_reuse_first "$peers" a "$rc" "$@" || return
	echo "$LAB_REUSE_MAC" >"$LAB_DIR/a.mac"
	"${REUSE_BEFORE_B[@]:-true}" || return
	lab_container b || return
	cni_add b eth0 "$rc" >/dev/null || { echo "ADD b failed" >&2; return 1; }
	[ "$LAB_REUSE_MAC" != "$(link_mac b eth0)" ] || { echo "A and B have the same MAC" >&2; return 1; }
	lab_first_probes "$peers" "$@"
}

macs() {
	A_MAC=$(cat "$LAB_DIR/a.mac")
	B_MAC=$(link_mac b "${1:-eth0}")
}

# recycle STATE PEERS RUNTIME_CONFIG ADDR...: reuse, then every peer's first probe to every
# address must be STATE: "answered" (the peer then holds B's MAC) or "lost" (still A's).
recycle() {
	local state=$1 peers=$2 rc=$3 peer addr mac
	local -a want=()
	shift 3
	run reuse "$peers" "$rc" "$@"
	assert_success
	macs
	mac=$B_MAC
	if [ "$state" = lost ]; then mac=$A_MAC; fi
	for peer in $peers; do
		for addr in "$@"; do want+=("$peer $addr $state $mac"); done
	done
	assert_output "$(printf '%s\n' "${want[@]}")"
}

# ---------------------------------------------------------------------------------------------
# flannel, as k3s writes it: flannel delegating to bridge, then portmap and bandwidth.

# flannel_conflist: k3s's conflist with flannel v0.9.1 (CNI <= 0.4.0) reading a
# subnet.env written by hand, as flanneld would for this node's lease. Flannel hands its delegate
# to bridge with host-local on the lease; the delegate's args.cni.ips fixes the addresses.
flannel_conflist() {
	cat >"$LAB_DIR/subnet.env" <<-END
		FLANNEL_NETWORK=198.51.100.0/24
		FLANNEL_SUBNET=198.51.100.1/24
		FLANNEL_IPV6_NETWORK=2001:db8:1::/64
		FLANNEL_IPV6_SUBNET=2001:db8:1::1/64
		FLANNEL_MTU=1500
		FLANNEL_IPMASQ=true
	END
	local flannel
	flannel=$(jq -cn --arg env "$LAB_DIR/subnet.env" --arg data "$LAB_DIR/flannel" --arg ipamdir "$LAB_IPAM_DIR" \
		--arg br "$LAB_BRIDGE" --arg v4 "$V4" --arg v6 "$V6" '{
		type: "flannel", subnetFile: $env, dataDir: $data, ipam: {dataDir: $ipamdir},
		delegate: {bridge: $br, hairpinMode: true, forceAddress: true, isDefaultGateway: true,
			args: {cni: {ips: [$v4, $v6]}}}}')
	write_conflist 0.4.0 "$flannel" \
		'{"type": "portmap", "capabilities": {"portMappings": true}}' \
		'{"type": "bandwidth", "capabilities": {"bandwidth": true}}'
}

@test "flannel (k3s): the host's and a pod peer's first probes reach the recycled IP, IPv4 and IPv6" {
	chained '{}' flannel_conflist
	assert_chain flannel ndp-announce portmap bandwidth
	recycle answered "peer host" "" "$V4" "$V6"
}

@test "flannel (k3s) control: without ndp-announce the host and the peer stay black-holed" {
	flannel_conflist
	recycle lost "peer host" "" "$V4" "$V6"
}


# ---------------------------------------------------------------------------------------------
# macvlan and ipvlan: the containers' interfaces hang off parents in the host netns. Each parent
# is a veth whose other end is a port of a LAN switch (a bridge in the host netns) on which the
# lab peer's lan0 is too: the peer is a host on that LAN, and two parents are two nodes.

# lan_up: the switch <L>sw, parents <L>p1 and <L>p2, the peer's lan0 with the LAN's addresses.
lan_up() {
	local sw=${LAB_LINK_PREFIX}sw i
	in_ns host ip link add "$sw" type bridge stp_state 0 &&
		in_ns host ip link set "$sw" up &&
		in_ns host ip link add "${LAB_LINK_PREFIX}sl" type veth peer name lan0 netns "$LAB_PEER_NS" &&
		in_ns host ip link set "${LAB_LINK_PREFIX}sl" master "$sw" up &&
		in_ns peer ip addr add 203.0.113.2/24 dev lan0 &&
		in_ns peer ip addr add 2001:db8:3::2/64 dev lan0 nodad &&
		in_ns peer ip link set lan0 up || return
	for i in 1 2; do
		in_ns host ip link add "${LAB_LINK_PREFIX}p$i" type veth peer name "${LAB_LINK_PREFIX}s$i" &&
			in_ns host ip link set "${LAB_LINK_PREFIX}s$i" master "$sw" up &&
			in_ns host ip link set "${LAB_LINK_PREFIX}p$i" up || return
	done
}

LAN_RANGES='[[{"subnet": "203.0.113.0/24", "gateway": "203.0.113.1"}], [{"subnet": "2001:db8:3::/64", "gateway": "2001:db8:3::1"}]]'

# slave_conflist TYPE MODE PARENT: TYPE (macvlan or ipvlan) in MODE on PARENT (1 or 2), with the ips
# capability, then tuning.
slave_conflist() {
	local slave
	slave=$(jq -cn --arg t "$1" --arg m "$2" --arg parent "${LAB_LINK_PREFIX}p$3" --argjson ipam "$(lab_ipam "$LAN_RANGES")" \
		'{type: $t, master: $parent, mode: $m, ipam: $ipam, capabilities: {ips: true}}')
	write_conflist 1.0.0 "$slave" '{"type": "tuning"}'
}

# announcements PCAP MAC: "ARP NA" counts of unsolicited announcements of LAN_V4/LAN_V6 from MAC
# in a capture taken in the peer netns.
announcements() {
	local text arp na
	text=$(capture_read peer "$1" -v)
	arp=$(grep -c " $2 > ff:ff:ff:ff:ff:ff, .*Request who-has $LAN_V4 tell $LAN_V4," <<<"$text" || true)
	na=$(grep -c " $2 > 33:33:00:00:00:01, .*neighbor advertisement, length 32, tgt is $LAN_V6," <<<"$text" || true)
	echo "$arp $na"
}

# wait_announcements PCAP MAC WANT: until announcements says WANT, 10 s at most.
wait_announcements() {
	local deadline=$((SECONDS + 10))
	until [ "$(announcements "$1" "$2")" = "$3" ]; do
		[ $SECONDS -le $deadline ] || { echo "announcements: $(announcements "$1" "$2"), want $3" >&2; return 1; }
		sleep 0.1
	done
}

# slave_reuse TYPE MODE B_PARENT [NDPA_FIELDS]: A on parent 1, B on B_PARENT (1: the same, 2:
# another node's), with ndp-announce (NDPA_FIELDS given) or alone; the peer's first probes, and
# the announcements of B's addresses the peer heard ("ARP NA", once nothing more comes).
slave_reuse() {
	local type=$1 mode=$2 parent=$3 want=${4:+4 4}
	local -a with=()
	if [ -n "${4:-}" ]; then with=(chained "$4"); fi
	"${with[@]}" slave_conflist "$type" "$mode" 1 || return
	if [ "$parent" = 2 ]; then
		REUSE_BEFORE_B=("${with[@]}" slave_conflist "$type" "$mode" 2)
	fi
	capture_start peer lan0 "$LAB_DIR/c.pcap" arp or icmp6
	recycle answered peer "$LAN_FIXED" "$LAN_V4" "$LAN_V6"
	if [ -n "$want" ]; then
		# The kernel's one of each, then ndp-announce's three rounds.
		wait_announcements "$LAB_DIR/c.pcap" "$B_MAC" "$want"
	else
		sleep 1 # nothing more comes: the assertion's window, not a wait for a condition
	fi
	capture_stop "$LAB_DIR/c.pcap"
	[ "$(announcements "$LAB_DIR/c.pcap" "$B_MAC")" = "${want:-1 1}" ] ||
		fail "the peer heard '$(announcements "$LAB_DIR/c.pcap" "$B_MAC")' ARP/NA announcements, want ${want:-1 1}"
}

# macvlan alone is not black-holed: the macvlan plugin turns on arp_notify and ndisc_notify, and
# the kernel sends one gratuitous ARP and one NA when the interface comes up. What ndp-announce
# adds is the repeats (one lost frame no longer leaves a peer stale), the gateway requests and
# the sysctls; there is no bridge port to wait for.
@test "macvlan (bridge mode): the LAN peer's first probes answered; ndp-announce repeats, skips the port wait" {
	lan_up
	slave_reuse macvlan bridge 1 '{"advertiseIntervalMs": 300}'
	run capture_read peer "$LAB_DIR/c.pcap"
	assert_output --partial "$B_MAC > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 203.0.113.1 tell $LAN_V4"
	run jq -r --arg id "$(lab_container_id b)" 'select(.msg == "ADD done" and .containerID == $id) | .bridgePort' "$NDPA_LOG"
	assert_output "bridge port forwarding: skipped: not a veth"
}

@test "macvlan control: alone, the kernel's single ARP and NA (macvlan's arp_notify, ndisc_notify) reach the peer" {
	lan_up
	slave_reuse macvlan bridge 1
}

# A parent that is down leaves the macvlan without carrier: no ff02::1 route, so the NA and the
# gateway NS cannot be sent (ENETUNREACH). Expected, so skipped, and ADD succeeds: the pod works
# once the parent comes up, and the kernel announces it then (arp_notify, ndisc_notify).
@test "macvlan on a parent that is down: ADD succeeds, the unsendable NA and NS are logged as skipped" {
	lan_up
	in_ns host ip link set "${LAB_LINK_PREFIX}p1" down
	chained '{"advertiseCount": 1, "linkUpTimeoutMs": 300, "mcastRouteTimeoutMs": 200}' slave_conflist macvlan bridge 1
	assert_chain macvlan ndp-announce tuning
	lab_container b
	run --separate-stderr cni_add b eth0 "$LAN_FIXED"
	assert_success
	run jq -c --arg id "$(lab_container_id b)" 'select(.msg == "ADD done" and .containerID == $id) |
		{level, linkUpGaveUp: (.linkUp | test("^link up eth0 state up, oper down after [0-9]+ms: gave up$")), arp: .round1.arp, skippedNA: .round1.skippedNA, skippedNS: .round1.skippedNS, failed: .round1.failed, err: .round1Err}' "$NDPA_LOG"
	assert_output '{"level":"INFO","linkUpGaveUp":true,"arp":["203.0.113.50"],"skippedNA":["2001:db8:3::50"],"skippedNS":["2001:db8:3::1"],"failed":null,"err":null}'
}

# ipvlan l2 gives every interface its parent's MAC: between two ipvlans of one parent a recycled
# IP keeps its MAC, so the stale entry comes from an IP moving to another node (parent 2). The
# ipvlan plugin sets arp_notify and ndisc_notify as macvlan does, hence the same control.
ipvlan_or_skip() {
	if ! in_ns host ip link add "${LAB_LINK_PREFIX}iv" link "${LAB_LINK_PREFIX}p1" type ipvlan mode l2 2>/dev/null; then
		skip "this kernel has no ipvlan driver"
	fi
	in_ns host ip link del "${LAB_LINK_PREFIX}iv"
}

@test "ipvlan l2, IP moved to another parent: the LAN peer's first probes answered; ndp-announce repeats" {
	lan_up
	ipvlan_or_skip
	slave_reuse ipvlan l2 2 '{"advertiseIntervalMs": 300}'
	run jq -r --arg id "$(lab_container_id b)" 'select(.msg == "ADD done" and .containerID == $id) | .bridgePort' "$NDPA_LOG"
	assert_output "bridge port forwarding: skipped: not a veth"
}

@test "ipvlan l2 control: alone, the kernel's single ARP and NA reach the peer" {
	lan_up
	ipvlan_or_skip
	slave_reuse ipvlan l2 2
}

# ---------------------------------------------------------------------------------------------
# host-device: a device moved into the container whole, here a veth whose other end is a port of
# the lab bridge (a NIC on the LAN). A and B get different devices, so different MACs.

# device_conflist N: host-device moving <L>dN, host-local on the lab bridge's subnets.
device_conflist() {
	local n=$1 dev
	dev=$(jq -cn --arg d "${LAB_LINK_PREFIX}d$n" --argjson ipam "$(lab_ipam)" \
		'{type: "host-device", device: $d, ipam: $ipam, capabilities: {ips: true}}')
	write_conflist 1.0.0 "$dev"
}

devices_up() {
	local i
	for i in 1 2; do
		in_ns host ip link add "${LAB_LINK_PREFIX}d$i" type veth peer name "${LAB_LINK_PREFIX}e$i" &&
			in_ns host ip link set "${LAB_LINK_PREFIX}e$i" master "$LAB_BRIDGE" up || return
	done
}

@test "host-device: the host's and the peer's first probes reach the recycled IP on the new device" {
	devices_up
	chained '{}' device_conflist 1
	assert_chain host-device ndp-announce
	REUSE_BEFORE_B=(chained '{}' device_conflist 2)
	recycle answered "peer host" "$FIXED" "$V4" "$V6"
}

@test "host-device control: without ndp-announce the host and the peer stay black-holed" {
	devices_up
	device_conflist 1
	REUSE_BEFORE_B=(device_conflist 2)
	recycle lost "peer host" "$FIXED" "$V4" "$V6"
}

# ---------------------------------------------------------------------------------------------
# nerdctl's and podman's default networks, as they write them, on the lab bridge: bridge (ipMasq,
# hairpin), portmap, firewall, tuning, with ndp-announce chained by the installer (right after
# bridge). For the lab: a second, IPv6 range (nerdctl --ipv6 and podman's --subnet add the same)
# and, for nerdctl, the ips capability podman's file has, so the test can recycle an address. The
# iptables rules they make land in the lab's host netns. test/e2e/podman.bash runs podman itself.

# runtime_conflist nerdctl|podman
runtime_conflist() {
	local bridge
	bridge=$(jq -cn --arg br "$LAB_BRIDGE" --argjson ipam "$(lab_ipam)" '{type: "bridge", bridge: $br,
		isGateway: true, ipMasq: true, hairpinMode: true, ipam: $ipam, capabilities: {ips: true}}')
	case $1 in
	nerdctl)
		write_conflist 1.0.0 "$bridge" '{"type": "portmap", "capabilities": {"portMappings": true}}' \
			'{"type": "firewall", "ingressPolicy": "same-bridge"}' '{"type": "tuning"}'
		;;
	podman)
		write_conflist 0.4.0 "$bridge" '{"type": "portmap", "capabilities": {"portMappings": true}}' \
			'{"type": "firewall", "backend": ""}' '{"type": "tuning"}'
		;;
	esac
}

@test "nerdctl's default network: the host's and the peer's first probes reach the recycled IP" {
	chained '{}' runtime_conflist nerdctl
	assert_chain bridge ndp-announce portmap firewall tuning
	recycle answered "peer host" "$FIXED" "$V4" "$V6"
	# firewall and portmap ran: their chains are in the host netns.
	run in_ns host iptables -S
	assert_output --partial "CNI-FORWARD"
}

@test "nerdctl's default network control: without ndp-announce the host and the peer stay black-holed" {
	runtime_conflist nerdctl
	recycle lost "peer host" "$FIXED" "$V4" "$V6"
}

@test "podman's default network (CNI backend): the host's and the peer's first probes reach the recycled IP" {
	chained '{}' runtime_conflist podman
	assert_chain bridge ndp-announce portmap firewall tuning
	recycle answered "peer host" "$FIXED" "$V4" "$V6"
}

@test "podman's default network control: without ndp-announce the host and the peer stay black-holed" {
	runtime_conflist podman
	recycle lost "peer host" "$FIXED" "$V4" "$V6"
}

# ---------------------------------------------------------------------------------------------
# Multus: the NetworkAttachmentDefinitions of deploy/multus, as Multus runs them for their
# example pods (multusconf: spec.config with the pod's cni-args in every plugin's args.cni, the
# interface the pod asks for), through libcni in the lab, with Multus's CNI_ARGS. Only what
# names the node changes: the bridge or parent, and the state, IPAM and log paths.

# multus_conflist FILE POD JQ_FILTER: writes the lab's conflist; sets MULTUS_IF.
multus_conflist() {
	local out
	out=$("${MULTUSCONF:?}" "$1" "$2") || return
	MULTUS_IF=$(sed -n 's/^interface //p' <<<"$out")
	head -n 1 <<<"$out" | jq --arg ipamdir "$LAB_IPAM_DIR" --arg dir "$STATE_DIR" --arg log "$NDPA_LOG" \
		"(.plugins[0].ipam.dataDir = \$ipamdir) | (.plugins[] |= if .type == \"ndp-announce\" then .dataDir = \$dir | .logFile = \$log else . end) | $3" >"$LAB_CONFLIST"
	# Multus's CNI_ARGS: the pod's identity.
	LAB_CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$2;K8S_POD_INFRA_CONTAINER_ID=$(lab_container_id b)"
}

# result_addr 4|6 RESULT: the pod's address of that family in a CNI result, without the prefix.
result_addr() { jq -r --arg f "$1" '.ips[] | select((.address | contains(":")) == ($f == "6")) | .address | sub("/.*"; "")' <<<"$2"; }

@test "Multus, deploy/multus/bridge.yaml with db-0's cni-args: the overrides apply, the host reaches the pod" {
	# Its own bridge, made by the bridge plugin as br-storage would be on a node.
	multus_conflist "$LAB_REPO/deploy/multus/bridge.yaml" db-0 ".plugins[0].bridge = \"${LAB_LINK_PREFIX}ms\""
	lab_container b
	run --separate-stderr cni_add b "$MULTUS_IF"
	assert_success
	v4=$(result_addr 4 "$output")
	# cni-args: disable_ipv6=1 took IPv6 away from net1 and from the result; 2 rounds 500 ms apart.
	[ -z "$(result_addr 6 "$output")" ] || fail "the result still has IPv6: $output"
	[ "$(in_ns b sysctl -n net.ipv6.conf.net1.disable_ipv6)" = 1 ]
	run jq -r --arg id "$(lab_container_id b)" 'select(.msg == "ADD done" and .containerID == $id) | .background' "$NDPA_LOG"
	assert_output --regexp 'pid [0-9]+: 1 more rounds every 500ms$'
	run ping_once host "$v4"
	assert_success
}

@test "Multus, deploy/multus/macvlan.yaml with web-0's cni-args: the overrides apply, the LAN peer reaches the pod" {
	lan_up
	multus_conflist "$LAB_REPO/deploy/multus/macvlan.yaml" web-0 ".plugins[0].master = \"${LAB_LINK_PREFIX}p1\""
	lab_container b
	run --separate-stderr cni_add b "$MULTUS_IF"
	assert_success
	v4=$(result_addr 4 "$output")
	v6=$(result_addr 6 "$output")
	run jq -r --arg id "$(lab_container_id b)" 'select(.msg == "ADD done" and .containerID == $id) | .background' "$NDPA_LOG"
	assert_output --regexp 'pid [0-9]+: 2 more rounds every 500ms$'
	run ping_once peer "$v4"
	assert_success
	run ping_once peer "$v6"
	assert_success
}
