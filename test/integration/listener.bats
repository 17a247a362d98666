#!/usr/bin/env bats
# The black-hole listener (issue 14): a peer that ignores every announcement keeps sending to the
# old MAC; the bridge floods those frames to the new container, whose listener sends that peer a
# request addressed to it.

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

# deaf_peer: the peer drops every gratuitous ARP and unsolicited NA, as hardened images set it.
deaf_peer() {
	in_ns peer sysctl -qw net.ipv4.conf.eth0.drop_gratuitous_arp=1 net.ipv6.conf.eth0.drop_unsolicited_na=1
}

# probes COUNT: COUNT echo requests 200 ms apart from the peer to $V4 and, at the same time, to
# $V6; GOT4 and GOT6 are the replies received.
probes() {
	local p4 p6
	in_ns peer ping -n -c "$1" -i 0.2 -W 1 "$V4" >"$LAB_DIR/ping4" 2>&1 3>&- &
	p4=$!
	in_ns peer ping -n -c "$1" -i 0.2 -W 1 "$V6" >"$LAB_DIR/ping6" 2>&1 3>&- &
	p6=$!
	wait "$p4" || true
	wait "$p6" || true
	GOT4=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$LAB_DIR/ping4")
	GOT6=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$LAB_DIR/ping6")
}

# reuse_ip_for_b CONF: the deaf peer holds a's MAC for the address ADD then gives container b.
# Gateway requests are off: a broadcast ARP request from our address for another target also
# updates a Linux peer's existing entry once its 1 s locktime has passed (gVisor and Windows do
# not do that), which would make the IPv4 outcome depend on how long ADD took.
reuse_ip_for_b() {
	deaf_peer
	peer_learns_a
	with_ndpa "$(jq -c '{announceToGateways: false} + .' <<<"$1")"
	lab_container b
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	B_MAC=$(link_mac b eth0)
	[ "$B_MAC" != "$A_MAC" ]
}

# listener_ended: the fields of the log line of the listener's end.
listener_ended() {
	local i
	for i in $(seq 100); do
		grep -q '"msg":"black-hole listener ended"' "$NDPA_LOG" && break
		sleep 0.05
	done
	jq -c 'select(.msg == "black-hole listener ended")' "$NDPA_LOG"
}

@test "deaf peer after IP reuse: with the listener its probes are answered after at most the first lost one per family" {
	# Without the node service the listener lives as long as the rounds: 2 x 2 s here.
	reuse_ip_for_b '{"advertiseCount": 3, "advertiseIntervalMs": 2000}'
	run jq -r 'select(.msg == "ADD done") | .listener' "$NDPA_LOG"
	assert_output "1m0s"
	probes 5
	[ "$GOT4" -ge 4 ] || fail "IPv4: $GOT4 of 5 probes answered, want at least 4: $(cat "$LAB_DIR/ping4")"
	[ "$GOT6" -ge 4 ] || fail "IPv6: $GOT6 of 5 probes answered, want at least 4: $(cat "$LAB_DIR/ping6")"
	[ "$(neigh_mac peer "$V4")" = "$B_MAC" ]
	[ "$(neigh_mac peer "$V6")" = "$B_MAC" ]
	# One log line per peer corrected, naming it and how long after ADD.
	run jq -r 'select(.msg == "stale peer corrected") | "\(.family) \(.peer) \(.staleMAC) \(.afterADDMs >= 0)"' "$NDPA_LOG"
	assert_line "ipv4 $LAB_V4_PEER $A_MAC true"
	assert_line "ipv6 $LAB_V6_PEER $A_MAC true"
}

@test "control: with the listener off the deaf peer stays black-holed for seconds" {
	reuse_ip_for_b '{"advertiseCount": 3, "advertiseIntervalMs": 2000, "staleListenMs": 0}'
	probes 10
	[ "$GOT4" = 0 ] || fail "IPv4: $GOT4 of 10 probes answered over 2 s, want none (the peer is deaf)"
	[ "$GOT6" = 0 ] || fail "IPv6: $GOT6 of 10 probes answered over 2 s, want none (the peer is deaf)"
	[ "$(neigh_mac peer "$V4")" = "$A_MAC" ]
	[ "$(neigh_mac peer "$V6")" = "$A_MAC" ]
	run grep -c '"msg":"stale peer corrected"' "$NDPA_LOG"
	assert_output 0
}

@test "a healthy peer triggers nothing: no frame beyond the announcements" {
	peer_learns_a
	with_ndpa '{"advertiseCount": 2, "advertiseIntervalMs": 1000}'
	lab_container b
	capture_start host "$LAB_BRIDGE" "$LAB_DIR/c.pcap" arp or icmp6
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	B_MAC=$(link_mac b eth0)
	probes 5
	[ "$GOT4" = 5 ] && [ "$GOT6" = 5 ] || fail "healthy peer: $GOT4 and $GOT6 of 5 probes answered"
	run listener_ended
	assert_output --partial '"frames":0'
	assert_output --partial '"requests":0'
	capture_stop "$LAB_DIR/c.pcap"
	# Nothing from b addressed to the peer's MAC: the listener's requests are the only such
	# ARP, and b's kernel resolves the peer by multicast.
	capture_read host "$LAB_DIR/c.pcap" >"$LAB_DIR/c.txt"
	run grep "^[^ ]* $B_MAC > $LAB_PEER_MAC, ethertype ARP" "$LAB_DIR/c.txt"
	assert_failure
}

@test "the listening window ends on time" {
	# A 300 ms window inside rounds that last 2 s: it ends with its window, not with the rounds.
	reuse_ip_for_b '{"advertiseCount": 2, "advertiseIntervalMs": 2000, "staleListenMs": 300}'
	sleep 0.6
	probes 3
	[ "$GOT4" = 0 ] && [ "$GOT6" = 0 ] || fail "probes after the window answered: $GOT4 and $GOT6 of 3"
	[ "$(neigh_mac peer "$V4")" = "$A_MAC" ]
	run listener_ended
	assert_output --partial '"reason":"window ended"'
	run jq -e '.ms >= 300 and .ms < 1500' <<<"$output"
	assert_success
}

@test "DEL stops the listener" {
	reuse_ip_for_b '{"advertiseCount": 3, "advertiseIntervalMs": 2000}'
	[ -n "$(announcers)" ] || fail "no announcer (and so no listener) after ADD"
	run cni_del b
	assert_success
	[ -z "$(announcers)" ] || fail "the announcer and its listener still run after DEL"
	run listener_ended
	assert_output --partial '"reason":"stopped"'
}

@test "advertiseCount 1: no background, so no listener" {
	reuse_ip_for_b '{"advertiseCount": 1}'
	for _ in $(seq 40); do [ -z "$(announcers)" ] && break; sleep 0.05; done
	probes 3
	[ "$GOT4" = 0 ] && [ "$GOT6" = 0 ] || fail "probes answered without a listener: $GOT4 and $GOT6 of 3"
	run grep -c -e '"msg":"black-hole listener ended"' -e '"msg":"stale peer corrected"' "$NDPA_LOG"
	assert_output 0
	# ADD opened none: nobody would run it, and ADD would pay its sockets' close.
	run jq -r 'select(.msg == "ADD done") | .listener // "none"' "$NDPA_LOG"
	assert_output "none"
}
