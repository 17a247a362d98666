#!/usr/bin/env bats
# The node service (ndp-announce daemon) with the real bridge + host-local: ADD hands it the
# remaining rounds, DEL and GC stop them there, and ADD falls back to a detached announcer when
# the service is not there to take them.

load lab
load ndpa

setup_file() {
	lab_init && ndpa_init || return
	NDPA_DAEMON=$(lab_plugin_path ndp-announce-daemon) || { echo "no ndp-announce-daemon in $LAB_BIN_DIR: run make build" >&2; return 1; }
	export NDPA_DAEMON
}

setup() {
	lab_setup && ndpa_setup || return
	DAEMON_LOG=$LAB_DIR/daemon.log
	# The lab's host netns has a loopback of its own: any port is ours.
	METRICS=127.0.0.1:9731
}

teardown() { lab_teardown; }

# service_start: the service in the lab's host netns on STATE_DIR; returns once it serves.
service_start() {
	lab_bg host "$DAEMON_LOG" "$NDPA_DAEMON" --data-dir "$STATE_DIR" --metrics-address "$METRICS" --log-level debug
	DAEMON_PID=$LAB_BG_PID
	for _ in $(seq 250); do
		in_ns host curl -sf "http://$METRICS/healthz" >/dev/null 2>&1 && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.02
	done
	echo "the service did not come up:" >&2
	cat "$DAEMON_LOG" >&2
	return 1
}

# metric SERIES: the value of SERIES (as /metrics writes it, labels included), or fail.
metric() {
	local text
	text=$(in_ns host curl -sf "http://$METRICS/metrics") || { echo "no /metrics" >&2; return 1; }
	awk -v s="$1" '$1 == s { print $2; found = 1 } END { exit !found }' <<<"$text" ||
		{ echo "no series $1 in /metrics" >&2; return 1; }
}

# background: what the last ADD log line says of the rounds after the first.
background() { jq -r 'select(.msg == "ADD done") | .background // empty' "$NDPA_LOG" | tail -1; }

# announce_times FILE MAC: epoch times of ARP announcements of V4 from MAC in a capture.
announce_times() {
	capture_read host "$1" -tt | awk -v mac="$2" -v ip="$V4" \
		'$2 == mac && /Request who-has/ && $0 ~ "who-has " ip " tell " ip { print $1 }'
}

@test "with the service, ADD leaves no process behind and the peer sees rounds 2 and 3 an interval apart" {
	service_start
	with_ndpa '{"advertiseCount": 3, "advertiseIntervalMs": 500, "staleListenMs": 0}'
	lab_container b
	capture_start host "$LAB_BRIDGE" "$LAB_DIR/c.pcap" arp
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	# Checked while rounds 2 and 3 are still due.
	[ -z "$(announcers)" ] || fail "a detached announcer runs although the service took the rounds: $(announcers)"
	[ "$(metric ndp_announce_background_attachments)" = 1 ] || fail "the service does not hold the attachment"
	[[ $(background) == "service: 2 more rounds every 500ms" ]] || fail "ADD log says background '$(background)'"
	mac=$(link_mac b eth0)
	for _ in $(seq 100); do [ "$(metric ndp_announce_background_attachments)" = 0 ] && break; sleep 0.05; done
	capture_stop "$LAB_DIR/c.pcap"
	mapfile -t at < <(announce_times "$LAB_DIR/c.pcap" "$mac")
	[ "${#at[@]}" = 3 ] || fail "saw ${#at[@]} ARP announcements from $mac, want 3: ${at[*]}"
	for i in 1 2; do
		gap=$(awk -v a="${at[i - 1]}" -v b="${at[i]}" 'BEGIN { printf "%d", (b - a) * 1000 }')
		[ "$gap" -ge 450 ] && [ "$gap" -le 1500 ] || fail "rounds $i and $((i + 1)) are $gap ms apart, want about 500"
	done
}

@test "DEL mid-rounds stops them in the service" {
	service_start
	with_ndpa '{"advertiseCount": 3, "advertiseIntervalMs": 1500}'
	lab_container b
	capture_start host "$LAB_BRIDGE" "$LAB_DIR/c.pcap" arp
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	mac=$(link_mac b eth0)
	run cni_del b
	assert_success
	run jq -r 'select(.msg == "DEL done") | .service' "$NDPA_LOG"
	assert_output "stopped"
	[ "$(metric ndp_announce_background_attachments)" = 0 ] || fail "the service still holds the attachment after DEL"
	sleep 1.8 # past round 2's time
	capture_stop "$LAB_DIR/c.pcap"
	n=$(announce_times "$LAB_DIR/c.pcap" "$mac" | wc -l)
	[ "$n" = 1 ] || fail "saw $n ARP announcements, want round 1 only"
}

@test "the service killed mid-rounds: DEL and a new ADD still work, a stale socket means fallback" {
	service_start
	with_ndpa '{"advertiseCount": 3, "advertiseIntervalMs": 1000}'
	lab_container b
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	kill -KILL "$DAEMON_PID"
	wait "$DAEMON_PID" 2>/dev/null || true
	[ -S "$STATE_DIR/announcer.sock" ] || fail "the killed service left no socket: this test needs a stale one"

	run cni_del b
	assert_success
	run jq -r 'select(.msg == "DEL done") | .service' "$NDPA_LOG"
	assert_output --partial "no service listening"

	lab_container c
	run --separate-stderr cni_add c eth0
	assert_success
	[[ $(background) == "fallback: no service listening"*"pid "* ]] || fail "ADD log says background '$(background)'"
	[ -n "$(announcers)" ] || fail "no detached announcer after the fallback"
	run cni_del c
	assert_success
	[ -z "$(announcers)" ] || fail "the fallback announcer still runs after DEL"

	# A new service replaces the stale socket, counts the fallback, and takes the next ADD.
	service_start
	[ "$(metric 'ndp_announce_handoffs_total{result="fallback"}')" = 1 ] || fail "fallback not counted"
	lab_container d
	run --separate-stderr cni_add d eth0
	assert_success
	[[ $(background) == "service: "* ]] || fail "ADD log says background '$(background)'"
	grep -q '"msg":"service listening"' "$DAEMON_LOG"
}

@test "the metrics count the first round, the background rounds, the waits and the hand-offs" {
	service_start
	with_ndpa '{"advertiseCount": 3, "advertiseIntervalMs": 200, "staleListenMs": 0}'
	lab_container b
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	for _ in $(seq 100); do [ "$(metric ndp_announce_background_attachments)" = 0 ] && break; sleep 0.05; done
	[ "$(metric ndp_announce_background_attachments)" = 0 ] || fail "rounds still in flight"
	declare -A want=(
		['ndp_announce_frames_sent_total{kind="arp",round="first"}']=1
		['ndp_announce_frames_sent_total{kind="na",round="first"}']=1
		['ndp_announce_frames_sent_total{kind="gateway_arp",round="first"}']=1
		['ndp_announce_frames_sent_total{kind="gateway_ns",round="first"}']=1
		['ndp_announce_frames_sent_total{kind="arp",round="background"}']=2
		['ndp_announce_frames_sent_total{kind="na",round="background"}']=2
		['ndp_announce_frames_sent_total{kind="gateway_arp",round="background"}']=0
		['ndp_announce_send_errors_total{kind="arp"}']=0
		['ndp_announce_handoffs_total{result="accepted"}']=1
		['ndp_announce_handoffs_total{result="fallback"}']=0
		['ndp_announce_add_duration_seconds_count']=1
		['ndp_announce_wait_seconds_count{condition="link_up",outcome="met"}']=1
		['ndp_announce_wait_seconds_count{condition="bridge_port",outcome="met"}']=1
	)
	for series in "${!want[@]}"; do
		got=$(metric "$series")
		[ "$got" = "${want[$series]}" ] || fail "$series = $got, want ${want[$series]}"
	done
	# advertiseCount 1: nothing forked, nothing handed off, the ADD still counted.
	with_ndpa '{"advertiseCount": 1}'
	lab_container c
	run --separate-stderr cni_add c eth0
	assert_success
	[ -z "$(announcers)" ] || fail "advertiseCount 1 started an announcer"
	[ "$(metric ndp_announce_add_duration_seconds_count)" = 2 ] || fail "the advertiseCount 1 ADD was not reported"
	[ "$(metric 'ndp_announce_handoffs_total{result="accepted"}')" = 1 ] || fail "a report counted as a hand-off"
	in_ns host curl -sf "http://$METRICS/metrics" | grep -q '^go_goroutines ' || fail "no Go collector"
	in_ns host curl -sf "http://$METRICS/metrics" | grep -q '^process_resident_memory_bytes ' || fail "no process collector"
}

@test "GC stops the service's rounds of attachments that are no longer valid, in its network only" {
	service_start
	with_ndpa '{"advertiseCount": 3, "advertiseIntervalMs": 2000}'
	lab_container c1
	lab_container c2
	run --separate-stderr cni_add c1 eth0
	assert_success
	run --separate-stderr cni_add c2 eth0
	assert_success
	[ "$(metric ndp_announce_background_attachments)" = 2 ] || fail "want 2 attachments in the service"
	valid="[{\"containerID\": \"$(lab_container_id c1)\", \"ifname\": \"eth0\"}]"
	run --separate-stderr ndpa_gc othernet "$valid"
	assert_success
	[ "$(metric ndp_announce_background_attachments)" = 2 ] || fail "GC of another network stopped rounds"
	run --separate-stderr ndpa_gc "$LAB_NETWORK" "$valid"
	assert_success
	[ "$(metric ndp_announce_background_attachments)" = 1 ] || fail "GC left $(metric ndp_announce_background_attachments) attachments, want 1"
}

# ndpa_gc NETWORK VALID_JSON: the plugin's GC, as a runtime calls it.
ndpa_gc() {
	ndpa_direct GC "$(ndpa_conf "$(jq -cn --arg name "$1" --argjson valid "$2" \
		'{cniVersion: "1.1.0", name: $name, "cni.dev/valid-attachments": $valid}')")"
}

@test "with the service, the black-hole listener outlives the rounds and corrects a deaf peer" {
	service_start
	# A peer that drops every gratuitous ARP and unsolicited NA holds a's MAC for the address b gets.
	in_ns peer sysctl -qw net.ipv4.conf.eth0.drop_gratuitous_arp=1 net.ipv6.conf.eth0.drop_unsolicited_na=1
	lab_reuse_first peer a "$FIXED" "$V4" "$V6"
	with_ndpa '{"advertiseCount": 2, "advertiseIntervalMs": 200, "announceToGateways": false, "staleListenMs": 10000}'
	lab_container b
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	[[ $(background) == "service: "* ]] || fail "ADD log says background '$(background)'"
	B_MAC=$(link_mac b eth0)
	# Past the rounds: a detached announcer would have stopped listening with them.
	sleep 0.6
	run in_ns peer ping -n -c 5 -i 0.2 -W 1 "$V4"
	[[ $output == *" 4 received"* || $output == *" 5 received"* ]] || fail "IPv4 probes: $output"
	run in_ns peer ping -n -c 5 -i 0.2 -W 1 "$V6"
	[[ $output == *" 4 received"* || $output == *" 5 received"* ]] || fail "IPv6 probes: $output"
	[ "$(neigh_mac peer "$V4")" = "$B_MAC" ]
	[ "$(neigh_mac peer "$V6")" = "$B_MAC" ]
	[ "$(metric 'ndp_announce_stale_peers_total{family="ipv4"}')" = 1 ] || fail "ipv4 stale peer not counted"
	[ "$(metric 'ndp_announce_stale_peers_total{family="ipv6"}')" = 1 ] || fail "ipv6 stale peer not counted"
	[ "$(metric ndp_announce_background_attachments)" = 1 ] || fail "the listening attachment is not held"
	run cni_del b
	assert_success
	[ "$(metric ndp_announce_background_attachments)" = 0 ] || fail "DEL left the listener running"
	grep '"msg":"black-hole listener ended"' "$DAEMON_LOG" | grep -q '"reason":"stopped"' || fail "no listener end by DEL in the service log"
}

# pidns_driver INIT_PID: a wrapper around the lab's cnidriver that runs it in INIT_PID's PID
# namespace, so the plugin's orphans are reparented to that PID 1.
pidns_driver() {
	local wrapper=$LAB_DIR/pidns-cnidriver
	printf '#!/bin/sh\nexec nsenter --pid=/proc/%s/ns/pid --mount=/proc/%s/ns/mnt -- %s "$@"\n' "$1" "$1" "$CNIDRIVER" >"$wrapper"
	chmod +x "$wrapper"
	echo "$wrapper"
}

# zombies INIT_PID: zombie children of INIT_PID.
zombies() { ps -o stat= --ppid "$1" | grep -c '^Z' || true; }

# lazy_init_start: a new PID namespace whose PID 1 (sleep) never calls wait(), with its own /proc;
# leaves that PID 1 in LAZY_INIT. Not under `run`: teardown must be able to reap it.
lazy_init_start() {
	lab_bg host "$LAB_DIR/init.log" unshare --pid --fork --kill-child --mount-proc --propagation slave sleep 300
	LAZY_INIT=
	for _ in $(seq 100); do
		LAZY_INIT=$(pgrep -P "$LAB_BG_PID" -x sleep) && break
		sleep 0.02
	done
	[ -n "$LAZY_INIT" ] || fail "no PID 1 sleep"
}

# lazy_adds N: N ADDs by a runtime in LAZY_INIT's PID namespace; prints the zombies left.
lazy_adds() {
	local driver i
	driver=$(pidns_driver "$LAZY_INIT")
	for i in $(seq "$1"); do
		lab_container "z$i" || return
		CNIDRIVER=$driver cni_add "z$i" eth0 >/dev/null || { echo "ADD z$i failed" >&2; return 1; }
	done
	sleep 1 # every background round (100 ms apart) is over
	zombies "$LAZY_INIT"
}

@test "with the service, the black-hole listener ends with its window" {
	service_start
	with_ndpa '{"advertiseCount": 2, "advertiseIntervalMs": 200, "staleListenMs": 1000}'
	lab_container b
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	for _ in $(seq 100); do grep -q '"msg":"black-hole listener ended"' "$DAEMON_LOG" && break; sleep 0.05; done
	run jq -c 'select(.msg == "black-hole listener ended")' "$DAEMON_LOG"
	assert_output --partial '"reason":"done"'
	run jq -e '.ms >= 1000 and .ms < 2500' <<<"$output"
	assert_success
	# The job leaves the service just after the listener logs its end.
	for _ in $(seq 40); do [ "$(metric ndp_announce_background_attachments)" = 0 ] && break; sleep 0.05; done
	[ "$(metric ndp_announce_background_attachments)" = 0 ] || fail "the service still holds the attachment after its window"
}

@test "under a PID 1 that never reaps, 20 ADDs with the service leave no zombie" {
	service_start
	with_ndpa '{"advertiseCount": 2, "advertiseIntervalMs": 100}'
	lazy_init_start
	run lazy_adds 20
	assert_success
	assert_output 0
}

@test "control: without the service the same ADDs leave zombies" {
	with_ndpa '{"advertiseCount": 2, "advertiseIntervalMs": 100}'
	lazy_init_start
	run lazy_adds 3
	assert_success
	assert_output 3
}
