#!/usr/bin/env bats
# Tests of the lab's own machinery that later tests lean on: captures, the driver's exit
# codes, and teardown after a failure.

load lab

setup_file() { lab_init; }
setup() { lab_setup; }
teardown() { lab_teardown; }

@test "capture_start/capture_stop record the peer's traffic, decoded in its netns" {
	pcap=$BATS_TEST_TMPDIR/peer.pcap
	capture_start peer eth0 "$pcap" icmp or arp
	read -r pid _ <"$pcap.pid"
	run ping_once peer "$LAB_V4_GW"
	assert_success
	capture_stop "$pcap"
	run _lab_alive "$pid"
	assert_failure

	run capture_read peer "$pcap"
	assert_success
	assert_output --regexp "$LAB_PEER_MAC > $LAB_BRIDGE_MAC.* $LAB_V4_PEER > $LAB_V4_GW: ICMP echo request"
	assert_output --regexp "$LAB_BRIDGE_MAC > $LAB_PEER_MAC.* $LAB_V4_GW > $LAB_V4_PEER: ICMP echo reply"
}

@test "cnidriver exits with the plugin's CNI error code, 255 for code 999, 64 for bad usage" {
	lab_container c1

	LAB_CNI_VERSION=9.9.9 lab_conflist
	run --separate-stderr cni_add c1
	assert_equal "$status" 1 # ErrIncompatibleCNIVersion, from bridge
	[[ $stderr == *"incompatible CNI versions"* ]] || fail "stderr: $stderr"
	lab_conflist

	# host-local refuses an address outside its ranges with a plain error: code 999.
	run --separate-stderr cni_add c1 eth0 '{"ips": ["203.0.113.5/24"]}'
	assert_equal "$status" 255
	[[ $stderr == *203.0.113.5* ]] || fail "stderr: $stderr"

	run --separate-stderr "$CNIDRIVER" add --conflist "$LAB_CONFLIST"
	assert_equal "$status" 64
	[[ $stderr == *"is required"* ]] || fail "stderr: $stderr"
}

@test "cni_gc DELs attachments that are not listed as valid" {
	lab_container c1
	lab_container c2
	run --separate-stderr cni_add c1
	assert_success
	run --separate-stderr cni_add c2
	assert_success
	c2_v4=$(jq -r '.ips[0].address' <<<"$output")

	run cni_gc "[{\"containerID\": \"$(lab_container_id c1)\", \"ifname\": \"eth0\"}]"
	assert_success
	run in_ns c1 ip link show dev eth0
	assert_success
	run in_ns c2 ip link show dev eth0
	assert_failure
	run lab_ipam_leases
	refute_output --partial "${c2_v4%/*}"
	run cni_status
	assert_success
}

@test "teardown runs lab_after_del and cleans up after a test that fails midway; twice is harmless" {
	inner=$BATS_TEST_TMPDIR/inner.bats
	at=@ # a literal test line here would be taken for one of this file's tests
	cat >"$inner" <<EOF
load '$LAB_REPO/test/integration/lab'
setup() { lab_setup; }
teardown() { lab_teardown && lab_teardown; }
# Runs once, after the DEL (no container veth left) and before the namespaces go.
lab_after_del() {
	[ -d "\$LAB_DIR" ] && [ "\$(lab_host_veths)" = "\$LAB_HOST_VETH" ] && echo after-del >>"$BATS_TEST_TMPDIR/hook"
}
${at}test "fails midway" {
	echo "\$LAB_PREFIX \$LAB_LINK_PREFIX" >"$BATS_TEST_TMPDIR/prefix"
	lab_container c1
	cni_add c1 >/dev/null
	capture_start peer eth0 "\$BATS_TEST_TMPDIR/x.pcap"
	cp "\$BATS_TEST_TMPDIR/x.pcap.pid" "$BATS_TEST_TMPDIR/pid"
	false
	echo not reached
}
EOF
	# The test's PATH starts with bats' libexec dir, whose `bats` expects to be run by the wrapper.
	inner_path=$(tr : '\n' <<<"$PATH" | grep -v bats-core | paste -sd :)
	run env -i PATH="$inner_path" HOME="$HOME" CNIDRIVER="$CNIDRIVER" LABTOOL="$LABTOOL" LAB_BIN_DIR="$LAB_BIN_DIR" bats "$inner"
	assert_failure
	assert_output --partial "not ok 1 fails midway"
	refute_output --partial "not reached"
	refute_output --partial "lab_teardown:"
	refute_output --partial "lab_assert_clean:"
	refute_output --partial "labtool"

	read -r prefix link_prefix <"$BATS_TEST_TMPDIR/prefix"
	read -r pid start <"$BATS_TEST_TMPDIR/pid"
	[ -n "$prefix" ] && [ -n "$start" ]
	run ip netns list
	refute_output --partial "$prefix"
	run ip -o link show
	refute_output --partial "$link_prefix"
	[ "$(_lab_starttime "$pid")" != "$start" ] || fail "tcpdump $pid outlived the inner test"
	[ "$(cat "$BATS_TEST_TMPDIR/hook")" = after-del ] || fail "lab_after_del: $(cat "$BATS_TEST_TMPDIR/hook")"
}

@test "teardown stops a process left running in the lab's namespaces, and fails saying which" {
	# Not through lab_bg: a process the test does not know about, as a plugin's leak would be.
	nsenter --net="$(lab_netns_path peer)" -- sleep 600 </dev/null >/dev/null 2>&1 3>&- &
	pid=$!
	# Until nsenter has entered the netns and exec'd sleep, there is nothing there to find.
	for _ in $(seq 100); do [ "$(cat /proc/$pid/comm 2>/dev/null)" = sleep ] && break; sleep 0.02; done
	[ "$(cat /proc/$pid/comm 2>/dev/null)" = sleep ] || fail "sleep did not start in the peer's netns"
	run --separate-stderr lab_teardown
	assert_failure
	[[ $stderr == *"still running, stopped: pid $pid (sleep 600) in $(lab_netns_path peer)"* ]] || fail "stderr: $stderr"
	run _lab_alive "$pid"
	assert_failure
	wait "$pid" || true
	run ip netns list
	refute_output --partial "$LAB_PREFIX"
}
