#!/usr/bin/env bats
# ndp-announce chained after the real bridge + host-local, in the lab's network namespaces.

load lab
load ndpa

setup_file() { lab_init && ndpa_init; }

setup() { lab_setup && ndpa_setup; }

teardown() { lab_teardown; }

# peer_learns_a: the peer talks to container a, so it holds REACHABLE entries for a's MAC.
peer_learns_a() {
	lab_reuse_first peer a "$FIXED" "$V4" "$V6"
	A_MAC=$LAB_REUSE_MAC
}

# count_frames FILE: "ARP NA" counts of announcements for $V4/$V6 in a capture taken in the host netns.
count_frames() {
	local text arp na
	text=$(capture_read host "$1" -v)
	arp=$(grep -c "Request who-has $V4 tell $V4" <<<"$text" || true)
	na=$(grep -c "neighbor advertisement, length 32, tgt is $V6" <<<"$text" || true)
	echo "$arp $na"
}

@test "IP reuse: the peer's first probe after ADD reaches the new container, IPv4 and IPv6" {
	with_ndpa
	peer_learns_a

	lab_container b
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	B_MAC=$(link_mac b eth0)
	[ "$B_MAC" != "$A_MAC" ]

	# The first probe, right after ADD returned.
	run ping_once peer "$V4"
	assert_success
	run ping_once peer "$V6"
	assert_success
	[ "$(neigh_mac peer "$V4")" = "$B_MAC" ]
	[ "$(neigh_mac peer "$V6")" = "$B_MAC" ]
	# The gateway (the bridge's own address in the host netns) learned it too.
	[ "$(neigh_mac host "$V4")" = "$B_MAC" ] || [ -z "$(neigh_mac host "$V4")" ]
}

@test "control: with bridge alone the peer stays black-holed after IP reuse" {
	lab_conflist
	peer_learns_a

	lab_container b
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	run ping_once peer "$V4"
	assert_failure
	run ping_once peer "$V6"
	assert_failure
	[ "$(neigh_mac peer "$V4")" = "$A_MAC" ]
	[ "$(neigh_mac peer "$V6")" = "$A_MAC" ]
}

@test "the announcements on the bridge: ARP request with sender = target, NA with S=0 O=1 and the MAC" {
	with_ndpa '{"advertiseCount": 1}'
	lab_container b
	capture_start host "$LAB_BRIDGE" "$LAB_DIR/c.pcap" arp or icmp6
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	mac=$(link_mac b eth0)
	capture_stop "$LAB_DIR/c.pcap"
	run capture_read host "$LAB_DIR/c.pcap" -v
	# ARP announcement: broadcast request, sender IP = target IP, sender MAC = the container's.
	assert_output --regexp "$mac > ff:ff:ff:ff:ff:ff, ethertype ARP .* Request who-has $V4 tell $V4"
	# Directed ARP request to the gateway.
	assert_output --regexp "$mac > ff:ff:ff:ff:ff:ff, ethertype ARP .* Request who-has $LAB_V4_GW tell $V4"
	# NA: from the address itself to ff02::1, hop limit 255, Override only, target link-layer option.
	assert_output --regexp "$mac > 33:33:00:00:00:01, ethertype IPv6 .*hlim 255.*"
	assert_output --regexp "$V6 > ff02::1: \[icmp6 sum ok\] ICMP6, neighbor advertisement, length 32, tgt is $V6, Flags \[override\]"
	assert_output --partial "destination link-address option (2), length 8 (1): $mac"
	# NS to the gateway's solicited-node group, with our MAC as source link-layer address.
	assert_output --regexp "$V6 > ff02::1:ff00:1: \[icmp6 sum ok\] ICMP6, neighbor solicitation, length 32, who has $LAB_V6_GW"
	assert_output --partial "source link-address option (1), length 8 (1): $mac"
}

@test "advertiseCount 0 sends nothing, 1 sends one, 3 sends three an interval apart" {
	for count in 0 1 3; do
		with_ndpa "{\"advertiseCount\": $count, \"advertiseIntervalMs\": 300, \"announceToGateways\": false}"
		lab_container "c$count"
		capture_start host "$LAB_BRIDGE" "$LAB_DIR/c$count.pcap" arp or icmp6
		run --separate-stderr cni_add "c$count" eth0 "{\"ips\": [\"198.51.100.50/24\", \"2001:db8:1::50/64\"]}"
		assert_success
		# Wait for the background rounds to finish: (count-1) x 300 ms, and the announcer to exit.
		sleep 0.9
		for _ in $(seq 50); do [ -z "$(announcers)" ] && break; sleep 0.05; done
		[ -z "$(announcers)" ] || fail "announcer still running for count $count"
		capture_stop "$LAB_DIR/c$count.pcap"
		[ "$(count_frames "$LAB_DIR/c$count.pcap")" = "$count $count" ] ||
			fail "count $count: saw '$(count_frames "$LAB_DIR/c$count.pcap")' ARP/NA"
		if [ "$count" = 3 ]; then
			# The rounds are ~300 ms apart (timestamps of the ARP announcements).
			run bash -c "capture_read() { nsenter --net=/run/netns/$LAB_HOST_NS tcpdump -r \"\$1\" -n -tt 2>/dev/null; }
				capture_read $LAB_DIR/c3.pcap | grep 'who-has $V4 tell $V4' | awk '{print \$1}'"
			assert_success
			mapfile -t ts <<<"$output"
			for i in 1 2; do
				gap=$(awk -v a="${ts[i - 1]}" -v b="${ts[i]}" 'BEGIN { printf "%d", (b - a) * 1000 }')
				[ "$gap" -ge 250 ] && [ "$gap" -le 700 ] || fail "gap $i is ${gap} ms, want ~300"
			done
		fi
		run cni_del "c$count"
		assert_success
		lab_container_remove "c$count"
	done
}

@test "ADD returns without waiting for the interval, and DEL stops the remaining rounds" {
	with_ndpa '{"advertiseCount": 3, "advertiseIntervalMs": 2000}'
	lab_container b
	capture_start host "$LAB_BRIDGE" "$LAB_DIR/c.pcap" arp or icmp6
	start=$(date +%s%N)
	# fd 9 stands for a descriptor a runtime lets its plugins inherit: the announcer must not keep it.
	run --separate-stderr cni_add b eth0 "$FIXED" 9>"$LAB_DIR/inherited"
	assert_success
	elapsed=$((($(date +%s%N) - start) / 1000000))
	[ "$elapsed" -lt 1500 ] || fail "ADD took ${elapsed} ms with a 2000 ms interval"
	[ -n "$(announcers)" ] || fail "no background announcer after ADD with advertiseCount 3"
	for pid in $(announcers); do
		if ls -l "/proc/$pid/fd" | grep -q "$LAB_DIR/inherited"; then
			fail "announcer $pid holds an inherited descriptor: $(ls -l "/proc/$pid/fd")"
		fi
		# It yields the CPU to pods being created: niceness 10.
		[ "$(ps -o ni= -p "$pid" | tr -d ' ')" = 10 ] || fail "announcer $pid niceness $(ps -o ni= -p "$pid")"
	done
	[ -n "$(ls -A "$STATE_DIR")" ] || fail "no state file for the running announcer"

	run cni_del b
	assert_success
	[ -z "$(announcers)" ] || fail "announcer still runs after DEL"
	[ -z "$(ls -A "$STATE_DIR")" ] || fail "state left after DEL: $(ls -A "$STATE_DIR")"
	sleep 2.3 # past the second round's time
	capture_stop "$LAB_DIR/c.pcap"
	[ "$(count_frames "$LAB_DIR/c.pcap")" = "1 1" ] || fail "saw '$(count_frames "$LAB_DIR/c.pcap")' ARP/NA, want only the first round"
}

# announcer_stops_when WHAT CMD...: with rounds 2 s apart, after CMD the announcer stops by itself
# before its next round (no DEL), sends nothing more, and logs why.
announcer_stops_when() {
	local what=$1
	shift
	with_ndpa '{"advertiseCount": 3, "advertiseIntervalMs": 1000}'
	lab_container b
	capture_start host "$LAB_BRIDGE" "$LAB_DIR/c.pcap" arp or icmp6
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	[ -n "$(announcers)" ] || fail "no announcer after ADD"
	local mac n
	mac=$(link_mac b eth0)
	"$@"
	for _ in $(seq 60); do [ -z "$(announcers)" ] && break; sleep 0.05; done
	[ -z "$(announcers)" ] || fail "announcer still runs 3 s after: $what"
	capture_stop "$LAB_DIR/c.pcap"
	# Frames from the announced MAC only: with arp_notify (bridge sets it) the kernel itself sends an
	# ARP from the new MAC when the address changes.
	n=$(capture_read host "$LAB_DIR/c.pcap" | grep -c "^[^ ]* $mac > .*\(who-has $V4 tell $V4\|neighbor advertisement\)" || true)
	[ "$n" = 2 ] || fail "saw $n announcements from $mac after $what, want only the first round's 2"
	run jq -r 'select(.msg == "announcer stopped early") | .reason' "$NDPA_LOG"
	assert_output --partial "$what"
}

@test "the announcer stops by itself when the MAC changes" {
	announcer_stops_when "MAC changed" in_ns b ip link set eth0 address 02:00:5e:00:0f:0f
}

@test "the announcer stops by itself when the netns is deleted without DEL" {
	announcer_stops_when "network namespace" lab_container_remove b
}

@test "sysctl disable_ipv6=1: IPv6 gone from the interface and the result, bridge CHECK still passes" {
	with_ndpa '{"sysctls": ["net.ipv6.conf.IFNAME.disable_ipv6=1"]}'
	lab_container b
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	result=$output
	run jq -r '.ips[].address' <<<"$result"
	assert_output "198.51.100.50/24"
	run jq -r '[.routes[]? | select(.dst | contains(":"))] | length' <<<"$result"
	assert_output 0
	run in_ns b ip -6 -o addr show dev eth0
	assert_output ""
	run in_ns b cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6
	assert_output 1
	run cni_check b
	assert_success
	run ping_once peer "$V4"
	assert_success
}

@test "IPv4-only network: IPv6 is turned off on the interface" {
	with_ndpa
	conflist_edit '.plugins[0].ipam.ranges |= [.[0]]'
	lab_container b
	run --separate-stderr cni_add b
	assert_success
	run in_ns b cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6
	assert_output 1
	run in_ns b ip -6 -o addr show dev eth0
	assert_output ""
	run cni_check b
	assert_success
}

@test "IPv4-only network with an MTU below 1280 (no IPv6 possible): ADD succeeds" {
	with_ndpa
	conflist_edit '.plugins[0].ipam.ranges |= [.[0]] | .plugins[0].mtu = 1200'
	lab_container b
	run --separate-stderr cni_add b
	assert_success
	run in_ns b ip -j link show dev eth0
	[ "$(jq '.[0].mtu' <<<"$output")" = 1200 ]
	run ping_once peer "$(jq -r '.ips[0].address | split("/")[0]' <<<"$(cni_result b)")"
	assert_success
}

@test "disableUnusedIPv6 false leaves IPv6 on for an IPv4-only network" {
	with_ndpa '{"disableUnusedIPv6": false}'
	conflist_edit '.plugins[0].ipam.ranges |= [.[0]]'
	lab_container b
	run --separate-stderr cni_add b
	assert_success
	run in_ns b cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6
	assert_output 0
}

@test "STP bridge: no wait for the port, ADD still announces" {
	in_ns host ip link set "$LAB_BRIDGE" type bridge stp_state 1
	with_ndpa '{"advertiseCount": 1, "bridgePortTimeoutMs": 3000}'
	lab_container b
	start=$(date +%s%N)
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	elapsed=$((($(date +%s%N) - start) / 1000000))
	[ "$elapsed" -lt 2000 ] || fail "ADD took ${elapsed} ms: it waited for an STP port"
	run grep '"msg":"ADD done"' "$NDPA_LOG"
	assert_output --partial "stp"
}

@test "the ADD log line says what each wait saw and what was sent" {
	with_ndpa '{"advertiseCount": 1}'
	lab_container b
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	run jq -c 'select(.msg == "ADD done")' "$NDPA_LOG"
	assert_success
	line=$output
	for key in linkUp bridgePort mcastRoute round1 ms; do
		jq -e --arg k "$key" 'has($k)' <<<"$line" >/dev/null || fail "ADD log line has no $key: $line"
	done
	jq -e '.bridgePort | test("forwarding")' <<<"$line" >/dev/null || fail "bridgePort: $line"
}

@test "per-attachment args.cni overrides count; a sysctl outside allowedSysctls is refused" {
	with_ndpa '{"allowedSysctls": ["net\\.ipv4\\.conf\\.IFNAME\\.arp_announce"]}'
	conflist_edit '.plugins[1].args = {cni: {advertiseCount: 1, sysctls: ["net.ipv4.conf.IFNAME.arp_announce=2"]}}'
	lab_container b
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	run in_ns b cat /proc/sys/net/ipv4/conf/eth0/arp_announce
	assert_output 2
	run jq -r 'select(.msg == "ADD done") | .background' "$NDPA_LOG"
	assert_output --partial "none: no round left"
	run cni_del b
	assert_success

	conflist_edit '.plugins[1].args.cni.sysctls = ["net.ipv4.conf.IFNAME.arp_ignore=1"]'
	lab_container c
	run --separate-stderr cni_add c eth0 "$FIXED"
	assert_failure 7
	stderr_has "args.cni.sysctls[0]"
	run in_ns c cat /proc/sys/net/ipv4/conf/eth0/arp_ignore
	assert_output 0
}

# bad_config FIELDS EXPECTED_TEXT: ADD fails with code 7 naming the field, and the interface is
# untouched: arp_announce stays 0 (the first sysctl of the list) and nothing is announced.
bad_config() {
	with_ndpa "$1"
	lab_container bad
	capture_start host "$LAB_BRIDGE" "$LAB_DIR/bad.pcap" arp or icmp6
	run --separate-stderr cni_add bad eth0 "$FIXED"
	assert_failure 7
	stderr_has "$2"
	capture_stop "$LAB_DIR/bad.pcap"
	[ "$(count_frames "$LAB_DIR/bad.pcap")" = "0 0" ] || fail "bad config $1 still announced"
	run in_ns bad cat /proc/sys/net/ipv4/conf/eth0/arp_announce
	assert_output 0
	run cni_del bad
	assert_success
	lab_container_remove bad
}

@test "bad config fails with code 7 naming the field and changes nothing" {
	bad_config '{"advertiseCount": 5}' advertiseCount
	bad_config '{"advertiseCount": "3"}' advertiseCount
	bad_config '{"advertiseIntervalMs": 50}' advertiseIntervalMs
	bad_config '{"linkUpTimeoutMs": -1}' linkUpTimeoutMs
	bad_config '{"bridgePortTimeoutMs": "soon"}' bridgePortTimeoutMs
	bad_config '{"sysctls": ["net.ipv4.conf.IFNAME.arp_announce=2", "net.ipv4.ip_forward=1"]}' 'sysctls[1]'
	bad_config '{"sysctls": ["net.ipv4.conf.IFNAME.arp_announce"]}' 'sysctls[0]'
	bad_config '{"sysctls": ["net.ipv4.conf.eth0.arp_announce=2"]}' IFNAME
	bad_config '{"sysctls": ["net.ipv4.conf.IFNAME.arp_announce=2\n1"]}' 'sysctls[0]'
	bad_config '{"sysctls": ["net.ipv4.conf.IFNAME.../../../ip_forward=1"]}' 'sysctls[0]'
	# Exists nowhere: found before arp_announce=2 is written.
	bad_config '{"sysctls": ["net.ipv4.conf.IFNAME.arp_announce=2", "net.ipv4.conf.IFNAME.no_such_knob=1"]}' 'sysctls[1]: sysctl "net.ipv4.conf.IFNAME.no_such_knob=1"'
	# The same from args.cni is named there.
	bad_config '{"sysctls": ["net.ipv4.conf.IFNAME.arp_announce=2"], "allowedSysctls": ["net\\.ipv4\\..*"],
		"args": {"cni": {"sysctls": ["net.ipv4.conf.IFNAME.no_such_knob=1"]}}}' 'args.cni.sysctls[0]: sysctl "net.ipv4.conf.IFNAME.no_such_knob=1"'
	# A value the kernel refuses is the config's fault too.
	bad_config '{"sysctls": ["net.ipv4.conf.IFNAME.arp_announce=2", "net.ipv4.conf.IFNAME.arp_ignore=bogus"]}' 'sysctls[1]'
}

@test "no prevResult, a prevResult without the interface, and non-JSON are refused" {
	lab_container b
	run --separate-stderr ndpa_direct ADD "$(ndpa_conf '{"cniVersion": "1.0.0", "name": "n"}')"
	assert_failure
	assert_output --partial '"code": 7'
	assert_output --partial prevResult

	prev='{"cniVersion":"1.0.0","interfaces":[{"name":"eth1","sandbox":"'"$(lab_netns_path b)"'"}],"ips":[]}'
	run --separate-stderr ndpa_direct ADD "$(ndpa_conf "{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"prevResult\": $prev}")"
	assert_failure
	assert_output --partial '"code": 7'
	assert_output --partial 'prevResult.interfaces'

	run --separate-stderr ndpa_direct ADD '{"cniVersion": "1.0.0", "type": "ndp-announce", '
	assert_failure
	assert_output --partial '"code": 6'
}

@test "DEL twice, without netns and without prevResult succeeds" {
	with_ndpa '{"advertiseIntervalMs": 2000}'
	lab_container b
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	run cni_del b
	assert_success
	run cni_del b
	assert_success
	lab_container_remove b
	run cni_del b
	assert_success
	# By hand: no netns, no prevResult.
	run --separate-stderr env CNI_COMMAND=DEL CNI_CONTAINERID="$(lab_container_id b)" CNI_NETNS= CNI_IFNAME=eth0 \
		CNI_PATH="$LAB_BIN_DIR" "$NDPA" <<<"$(ndpa_conf '{"cniVersion": "1.1.0", "name": "n"}')"
	assert_success
}

@test "every CNI spec version: ADD, CHECK, DEL" {
	for v in 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0; do
		LAB_CNI_VERSION=$v with_ndpa '{"advertiseCount": 1}'
		name=v${v//./}
		lab_container "$name"
		run --separate-stderr cni_add "$name" eth0 "$FIXED"
		assert_success
		[ "$(jq -r .cniVersion <<<"$output")" = "$v" ] || fail "result version $(jq -r .cniVersion <<<"$output"), want $v"
		run ping_once peer "$V4"
		assert_success
		if [ "$v" != 0.3.0 ] && [ "$v" != 0.3.1 ]; then
			run cni_check "$name"
			assert_success
		fi
		run cni_del "$name"
		assert_success
		lab_container_remove "$name"
	done
}

@test "VERSION and STATUS" {
	run --separate-stderr env CNI_COMMAND=VERSION "$NDPA" <<<'{"cniVersion": "1.1.0"}'
	assert_success
	[ "$(jq -c .supportedVersions <<<"$output")" = '["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]' ]
	with_ndpa
	run cni_status
	assert_success
	[ -d "$STATE_DIR" ]
	# A dataDir that cannot exist: not ready, code 50.
	touch "$LAB_DIR/file"
	lab_conflist "$(jq -c --arg d "$LAB_DIR/file/state" '.dataDir = $d' <<<"$(ndpa_conf)")"
	run --separate-stderr cni_status
	assert_failure 50
	stderr_has "dataDir"
}

@test "CHECK fails when a configured sysctl or an IPv6 address of the result is gone" {
	with_ndpa '{"sysctls": ["net.ipv4.conf.IFNAME.arp_announce=2"]}'
	lab_container b
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	run cni_check b
	assert_success

	in_ns b sysctl -qw net.ipv4.conf.eth0.arp_announce=0
	run --separate-stderr cni_check b
	assert_failure
	stderr_has "arp_announce"
	in_ns b sysctl -qw net.ipv4.conf.eth0.arp_announce=2

	# ndp-announce's own CHECK (bridge, earlier in the chain, would report it first).
	conf=$(jq -c --argjson prev "$(cni_result b)" '. + {cniVersion: "1.1.0", name: "n", prevResult: $prev}' <<<"$(ndpa_conf)")
	run --separate-stderr ndpa_direct CHECK "$conf"
	assert_success
	in_ns b ip addr del "$V6/64" dev eth0
	run --separate-stderr ndpa_direct CHECK "$conf"
	assert_failure
	assert_output --partial "IPv6 addresses of the result are not on the interface"
	assert_output --partial "$V6"
}

@test "GC stops announcers of attachments that are no longer valid" {
	with_ndpa '{"advertiseIntervalMs": 2000}'
	lab_container b
	lab_container c
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	run --separate-stderr cni_add c
	assert_success
	[ "$(announcers | wc -l)" = 2 ] || fail "want 2 announcers, have: $(announcers)"
	# GC of another network sharing the dataDir (Multus) leaves this network's announcers alone.
	run --separate-stderr ndpa_direct GC "$(ndpa_conf '{"cniVersion": "1.1.0", "name": "othernet", "cni.dev/valid-attachments": []}')"
	assert_success
	[ "$(announcers | wc -l)" = 2 ] || fail "GC of another network stopped announcers: $(announcers)"
	# The plugin's own GC, as a runtime calls it (libcni would DEL b from its cache first).
	conf=$(ndpa_conf "{\"cniVersion\": \"1.1.0\", \"name\": \"$LAB_NETWORK\",
		\"cni.dev/valid-attachments\": [{\"containerID\": \"$(lab_container_id c)\", \"ifname\": \"eth0\"}]}")
	run --separate-stderr ndpa_direct GC "$conf"
	assert_success
	[ "$(announcers | wc -l)" = 1 ] || fail "want 1 announcer after GC, have: $(announcers)"
	[ "$(ls -A "$STATE_DIR" | wc -l)" = 1 ]
}

@test "one ADD opens the container netns once" {
	with_ndpa '{"sysctls": ["net.ipv4.conf.IFNAME.arp_notify=1"], "advertiseCount": 2, "advertiseIntervalMs": 100}'
	lab_container b
	mkdir "$LAB_DIR/traced"
	# Runtimes exec the plugin by name from the CNI path: put a tracing ndp-announce first.
	printf '#!/bin/sh\nexec strace -f -qq -e trace=open,openat,openat2 -o %q %q "$@"\n' \
		"$LAB_DIR/trace" "$NDPA" >"$LAB_DIR/traced/ndp-announce"
	chmod +x "$LAB_DIR/traced/ndp-announce"
	LAB_BIN_DIR="$LAB_DIR/traced:$LAB_BIN_DIR" run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	netns=$(lab_netns_path b)
	# Twice: once by CNI's skel, which checks CNI_NETNS before calling ADD (ns.CheckNetNS), and once
	# by ADD itself (iface.Open), whose one descriptor serves sysctls, waits and sockets.
	opens=$(grep -cF "\"$netns\"" "$LAB_DIR/trace" || true)
	[ "$opens" = 2 ] || fail "the netns was opened $opens times: $(grep -F "$netns" "$LAB_DIR/trace")"
	# The trace is real: it saw the plugin open the sysctl it wrote.
	grep -q 'arp_notify' "$LAB_DIR/trace" || fail "strace saw no sysctl: $(head -5 "$LAB_DIR/trace")"
}
