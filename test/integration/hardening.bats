#!/usr/bin/env bats
# Bad input never changes the interface, state never follows a link, GC deletes only its own
# (issue 10). Most tests run bridge alone first, then ndp-announce by hand on bridge's result, so
# that the interface as bridge left it can be compared with the interface after a refused ADD.

load lab
load ndpa

setup_file() { lab_init && ndpa_init; }

setup() { lab_setup && ndpa_setup; }

teardown() { lab_teardown; }

# iface_state NAME IF: the interface as a user sees it, as comparable text: the link, its addresses,
# the routes through it in every table, and every per-interface sysctl.
iface_state() {
	local name=$1 ifname=$2 fam
	in_ns "$name" ip -j link show dev "$ifname" | jq -c '.[0] | {ifname, mtu, flags, address, operstate}'
	in_ns "$name" ip -j addr show dev "$ifname" | jq -c '[.[0].addr_info[] | {family, local, prefixlen, scope}] | sort'
	for fam in -4 -6; do
		in_ns "$name" ip -j "$fam" route show table all |
			jq -c --arg d "$ifname" '[.[] | select(.dev == $d) | del(.expires)] | sort_by(.dst, .table // "")'
	done
	in_ns "$name" sh -c "grep -rs . /proc/sys/net/ipv4/conf/$ifname /proc/sys/net/ipv6/conf/$ifname \
		/proc/sys/net/ipv4/neigh/$ifname /proc/sys/net/ipv6/neigh/$ifname" | sort
}

# ns_sysctls NAME: every interface's conf sysctls in the namespace, all and default included.
ns_sysctls() {
	in_ns "$1" sh -c 'grep -rs . /proc/sys/net/ipv4/conf /proc/sys/net/ipv6/conf' | sort
}

# bridge_only NAME: bridge + host-local alone ADD container NAME (eth0, the fixed addresses); the
# result is in BRIDGE_RESULT and the interface as bridge left it in BEFORE.
bridge_only() {
	lab_conflist
	lab_container "$1"
	run --separate-stderr cni_add "$1" eth0 "$FIXED"
	assert_success
	BRIDGE_RESULT=$output
	BEFORE=$(iface_state "$1" eth0)
}

# ndpa_on_prev FIELDS PREV: the config ndp-announce gets after bridge, with prevResult PREV.
ndpa_on_prev() {
	jq -c --argjson prev "$2" --arg name "$LAB_NETWORK" \
		'. + {cniVersion: "1.1.0", name: $name, prevResult: $prev}' <<<"$(ndpa_conf "$1")"
}

# assert_unchanged NAME: container NAME's eth0 is as bridge_only found it. The kernel adds an IPv6
# address's local route once the address is usable, a moment after it is restored: bounded retries.
assert_unchanged() {
	local after i
	for ((i = 0; i < 30; i++)); do
		after=$(iface_state "$1" eth0)
		[ "$after" = "$BEFORE" ] && return 0
		sleep 0.1
	done
	[ "$after" = "$BEFORE" ] || fail "eth0 changed:
$(diff <(echo "$BEFORE") <(echo "$after"))"
}

# cni_error_code: the code of the CNI error the last `run` printed on stdout.
cni_error_code() { jq -r .code <<<"$output"; }

@test "CNI_IFNAME all, default or lo: code 4 before any sysctl of the namespace is written" {
	lab_container b
	before=$(ns_sysctls b)
	for ifname in all default lo; do
		prev=$(jq -nc --arg ifn "$ifname" --arg ns "$(lab_netns_path b)" \
			'{cniVersion: "1.1.0", interfaces: [{name: $ifn, sandbox: $ns}], ips: [{interface: 0, address: "198.51.100.50/24"}]}')
		conf=$(ndpa_on_prev '{"sysctls": ["net.ipv4.conf.IFNAME.forwarding=1", "net.ipv6.conf.IFNAME.disable_ipv6=1"]}' "$prev")
		NDPA_IFNAME=$ifname run --separate-stderr ndpa_direct ADD "$conf"
		assert_failure
		[ "$(cni_error_code)" = 4 ] || fail "CNI_IFNAME=$ifname: $output"
		assert_output --partial "CNI_IFNAME"
		assert_output --partial "$ifname is reserved"
		after=$(ns_sysctls b)
		[ "$after" = "$before" ] || fail "CNI_IFNAME=$ifname changed sysctls: $(diff <(echo "$before") <(echo "$after"))"
	done
	[ ! -d "$STATE_DIR" ] || [ -z "$(ls -A "$STATE_DIR")" ] || fail "state written: $(ls -A "$STATE_DIR")"
}

@test "a malformed prevResult: code 7 naming the entry, and the interface is left as bridge made it" {
	bridge_only b
	idx=$(jq '.interfaces | map(.sandbox != null) | index(true)' <<<"$BRIDGE_RESULT")
	declare -A cases=(
		['.ips[0].interface = 5']='prevResult.ips[0].interface: 5 is not an index'
		['.ips[1].address = "::ffff:198.51.100.50/120"']='prevResult.ips[1].address'
		['.ips[0].gateway = "198.51.100.999"']='prevResult.ips[0].gateway'
		['.ips[0].gateway = "2001:db8:1::1"']='prevResult.ips[0].gateway'
		['.routes += [{dst: "default"}]']='prevResult.routes['
		['.ips[0].interface = "x"']='prevResult.ips[0].interface: expected a whole number'
		[".interfaces += [.interfaces[$idx]]"]="prevResult.interfaces[3]"
	)
	for edit in "${!cases[@]}"; do
		prev=$(jq -c "$edit" <<<"$BRIDGE_RESULT")
		run --separate-stderr ndpa_direct ADD "$(ndpa_on_prev '{"sysctls": ["net.ipv6.conf.IFNAME.disable_ipv6=1", "net.ipv4.conf.IFNAME.arp_announce=2"]}' "$prev")"
		assert_failure
		[ "$(cni_error_code)" = 7 ] || fail "$edit: $output"
		assert_output --partial "${cases[$edit]}"
		refute_output --partial "Go struct"
		assert_unchanged b
	done
}

@test "a prevResult interface missing from the netns: code 7 naming it, not 999" {
	bridge_only b
	prev=$(jq -c '(.interfaces[] | select(.sandbox != null) | .name) = "net1"' <<<"$BRIDGE_RESULT")
	NDPA_IFNAME=net1 run --separate-stderr ndpa_direct ADD "$(ndpa_on_prev '{}' "$prev")"
	assert_failure
	[ "$(cni_error_code)" = 7 ] || fail "$output"
	assert_output --partial 'prevResult.interfaces[2]: interface \"net1\" is not in netns'
	assert_unchanged b
}

@test "unknown and null keys: ADD succeeds and names them in its log and on stderr; install refuses them" {
	with_ndpa '{"advertiseCnt": 1, "advertiseCount": null, "args": {"cni": {"advertiseCont": 1}}}'
	lab_container b
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	stderr_has "unknown keys ignored: advertiseCnt, args.cni.advertiseCont"
	stderr_has "null values ignored, defaults used: advertiseCount"
	run jq -r 'select(.msg == "ADD done") | .ignored' "$NDPA_LOG"
	assert_output --partial "advertiseCnt"
	assert_output --partial "advertiseCount"
	# The keys runtimes add (runtimeConfig, prevResult, capabilities via libcni) are not reported.
	refute_output --partial "runtimeConfig"
	refute_output --partial "prevResult"

	for conf in '{"type":"ndp-announce","advertiseCnt":1}' '{"type":"ndp-announce","advertiseCount":null}'; do
		run --separate-stderr "$NDPA" install --plugin-config "$conf" \
			--cni-bin-dir "$LAB_DIR/no-bin" --cni-conf-dir "$LAB_DIR/no-conf"
		assert_failure 2
		stderr_has "advertiseC"
		[ ! -e "$LAB_DIR/no-bin" ] && [ ! -e "$LAB_DIR/no-conf" ] || fail "install touched its directories"
	done
}

@test "type errors name the JSON field as written, not Go's struct path" {
	lab_container b
	run --separate-stderr ndpa_direct DEL "$(ndpa_conf '{"cniVersion": "1.1.0", "name": "n", "dataDir": 5}')"
	assert_failure
	assert_output --partial '"dataDir: expected a string'
	refute_output --partial 'BaseConf'
	run --separate-stderr ndpa_direct ADD "$(ndpa_conf '{"cniVersion": "1.1.0", "name": "n", "prevResult": []}')"
	assert_failure
	assert_output --partial '"prevResult: expected an object'
	refute_output --partial 'PluginConf'
}

# state_name NAME [IFNAME]: the file name of container NAME's announcer state in dataDir.
state_name() {
	printf '%s\0%s\0%s' "$LAB_NETWORK" "$(lab_container_id "$1")" "${2:-eth0}" | sha256sum | cut -c1-24 | sed 's/$/.json/'
}

# file_fingerprint FILE: content hash, mode, size and mtime, or "absent".
file_fingerprint() {
	if [ -e "$1" ]; then stat -c '%a %s %Y' "$1" && sha256sum <"$1"; else echo absent; fi
}

@test "a symlink planted at a state file's name is never followed: its target is untouched" {
	with_ndpa '{"advertiseIntervalMs": 2000}'
	mkdir -m 0700 "$STATE_DIR"
	echo precious >"$LAB_DIR/victim"
	chmod 0644 "$LAB_DIR/victim"
	before=$(file_fingerprint "$LAB_DIR/victim")
	lab_container b
	lab_container c
	ln -s "$LAB_DIR/victim" "$STATE_DIR/$(state_name b)"
	ln -s "$LAB_DIR/dangling" "$STATE_DIR/$(state_name c)"

	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	run --separate-stderr cni_add c
	assert_success
	# ADD worked; only its background rounds could not be kept, and the log says why.
	run jq -r 'select(.msg == "ADD done") | .background' "$NDPA_LOG"
	assert_output --partial "not started"
	assert_output --partial "symlink"
	[ -z "$(announcers)" ] || fail "an announcer runs on a planted link: $(announcers)"
	run cni_del b
	assert_success
	run cni_del c
	assert_success

	[ "$(file_fingerprint "$LAB_DIR/victim")" = "$before" ] || fail "victim changed: $(file_fingerprint "$LAB_DIR/victim")"
	[ ! -e "$LAB_DIR/dangling" ] || fail "ADD created the dangling link's target"
	[ -L "$STATE_DIR/$(state_name b)" ] && [ -L "$STATE_DIR/$(state_name c)" ] || fail "the planted links were removed"
	rm "$STATE_DIR/$(state_name b)" "$STATE_DIR/$(state_name c)"
}

@test "a dataDir that is a symlink or others may write to: no state kept there, STATUS not ready" {
	mkdir -m 0700 "$LAB_DIR/real"
	lab_container b
	for kind in symlink mode0777; do
		rm -rf "$STATE_DIR"
		if [ "$kind" = symlink ]; then ln -s "$LAB_DIR/real" "$STATE_DIR"; else mkdir -m 0777 "$STATE_DIR"; fi
		with_ndpa '{"advertiseIntervalMs": 2000}'
		run --separate-stderr cni_status
		assert_failure 50
		stderr_has "dataDir"
		run --separate-stderr cni_add b eth0 "$FIXED"
		assert_success
		run jq -r 'select(.msg == "ADD done") | .background' "$NDPA_LOG"
		assert_output --partial "not started: dataDir is not safe"
		[ -z "$(ls -A "$LAB_DIR/real")" ] && [ -z "$(ls -A "$STATE_DIR/")" ] || fail "$kind: state written: $(ls -A "$LAB_DIR/real")"
		# DEL still succeeds: ADD kept nothing there to stop.
		run cni_del b
		assert_success
	done
	rm -rf "$STATE_DIR"
}

@test "GC removes only ndp-announce state: other files in dataDir stay" {
	with_ndpa '{"advertiseIntervalMs": 2000}'
	lab_container b
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	ours=$(state_name b)
	[ -f "$STATE_DIR/$ours" ] || fail "no state file $ours: $(ls -A "$STATE_DIR")"
	echo '{"cniVersion": "1.0.0", "name": "other"}' >"$STATE_DIR/10-other.json"
	echo '{"note": "kept by hand"}' >"$STATE_DIR/notes.json"
	# Our name, someone else's record: the name is not the hash of the key it holds.
	jq -c --arg net "$LAB_NETWORK" '{network: $net, containerID: "x", ifName: "eth0", pid: 1}' <<<'{}' \
		>"$STATE_DIR/0123456789abcdef01234567.json"
	before=$(cd "$STATE_DIR" && for f in 10-other.json notes.json 0123456789abcdef01234567.json; do file_fingerprint "$f"; done)

	run --separate-stderr ndpa_direct GC "$(ndpa_conf "{\"cniVersion\": \"1.1.0\", \"name\": \"$LAB_NETWORK\", \"cni.dev/valid-attachments\": []}")"
	assert_success
	[ ! -e "$STATE_DIR/$ours" ] || fail "GC left the invalid attachment's state"
	[ -z "$(announcers)" ] || fail "GC left the invalid attachment's announcer"
	after=$(cd "$STATE_DIR" && for f in 10-other.json notes.json 0123456789abcdef01234567.json; do file_fingerprint "$f"; done)
	[ "$after" = "$before" ] || fail "GC touched files that are not ours: $(ls -A "$STATE_DIR")"
	rm "$STATE_DIR/10-other.json" "$STATE_DIR/notes.json" "$STATE_DIR/0123456789abcdef01234567.json"
}

@test "STATUS on a full tmpfs dataDir is not ready (code 50)" {
	mnt=$LAB_DIR/tmpfs
	mkdir -m 0700 "$mnt"
	conf=$(jq -c --arg d "$mnt" '{cniVersion: "1.1.0", name: "n", type: "ndp-announce", dataDir: $d}' <<<'{}')
	# A mount namespace of its own: the tmpfs goes with the process, whatever happens.
	run --separate-stderr unshare -m --propagation private bash -c '
		mount -t tmpfs -o size=64k,mode=0700 ndpa-test "$1" || exit 90
		CNI_COMMAND=STATUS CNI_PATH=/nonexistent "$2" <<<"$3" || { echo "empty tmpfs not ready" >&2; exit 91; }
		dd if=/dev/zero of="$1/fill" bs=4k count=1000 2>/dev/null
		[ -s "$1/fill" ] || exit 92
		CNI_COMMAND=STATUS CNI_PATH=/nonexistent "$2" <<<"$3"' _ "$mnt" "$NDPA" "$conf"
	assert_failure 1
	[ "$(cni_error_code)" = 50 ] || fail "$output"
	assert_output --partial "dataDir not usable"
	assert_output --partial "no space left"
	[ -z "$(ls -A "$mnt")" ] || fail "the tmpfs outlived its mount namespace: $(ls -A "$mnt")"
}

@test "a failed ADD leaves addresses, routes and every sysctl as it found them" {
	bridge_only b
	# Also what the result does not list: an IPv6 default route and a second address.
	in_ns b ip -6 route add default via "$LAB_V6_GW" dev eth0
	in_ns b ip -6 addr add 2001:db8:1::77/64 dev eth0 nodad
	BEFORE=$(iface_state b eth0)
	# disable_ipv6=1 is written (and flushes eth0's IPv6), then the kernel refuses arp_ignore=abc.
	for sysctls in '["net.ipv6.conf.IFNAME.disable_ipv6=1", "net.ipv4.conf.IFNAME.arp_ignore=abc"]' \
		'["net.ipv4.conf.IFNAME.arp_announce=2", "net.ipv6.conf.IFNAME.disable_ipv6=1", "net.ipv6.conf.IFNAME.hop_limit=0"]'; do
		run --separate-stderr ndpa_direct ADD "$(ndpa_on_prev "{\"sysctls\": $sysctls}" "$BRIDGE_RESULT")"
		assert_failure
		[ "$(cni_error_code)" = 7 ] || fail "$sysctls: $output"
		assert_unchanged b
	done
	# And the pod still works over IPv6.
	run ping_once peer "$V6"
	assert_success
}

@test "duplicate addresses and off-link gateways in the result: one frame each, none to the off-link" {
	bridge_only b
	mac=$(link_mac b eth0)
	# 500 copies of the IPv4 entry, 200 more of it with gateways in another subnet, 50 IPv6 copies.
	prev=$(jq -c '.ips as $ips | .ips += ([range(500)] | map($ips[0]))
		+ ([range(200)] | map($ips[0] + {gateway: "203.0.113.\(. % 250 + 1)"}))
		+ ([range(50)] | map($ips[1]))' <<<"$BRIDGE_RESULT")
	capture_start host "$LAB_BRIDGE" "$LAB_DIR/c.pcap" arp or icmp6
	run --separate-stderr ndpa_direct ADD "$(ndpa_on_prev '{"advertiseCount": 1}' "$prev")"
	assert_success
	run --separate-stderr ndpa_direct DEL "$(ndpa_on_prev '{}' '{}')"
	assert_success
	capture_stop "$LAB_DIR/c.pcap"
	text=$(capture_read host "$LAB_DIR/c.pcap" -v | grep "^[^ ]* $mac > " || true)
	[ "$(grep -c "who-has $V4 tell $V4" <<<"$text")" = 1 ] || fail "ARP announcements: $text"
	[ "$(grep -c "who-has $LAB_V4_GW tell $V4" <<<"$text")" = 1 ] || fail "gateway requests: $text"
	[ "$(grep -c "who-has 203.0.113" <<<"$text")" = 0 ] || fail "requests to off-link gateways: $text"
	[ "$(grep -c "neighbor advertisement, length 32, tgt is $V6" <<<"$text")" = 1 ] || fail "NAs: $text"
	[ "$(grep -c "who has $LAB_V6_GW" <<<"$text")" = 1 ] || fail "gateway NS: $text"
}

@test "rounds after ADD re-read the interface: an address removed since is no longer announced" {
	with_ndpa '{"advertiseCount": 3, "advertiseIntervalMs": 700, "announceToGateways": false}'
	lab_container b
	capture_start host "$LAB_BRIDGE" "$LAB_DIR/c.pcap" arp or icmp6
	run --separate-stderr cni_add b eth0 "$FIXED"
	assert_success
	mac=$(link_mac b eth0)
	in_ns b ip addr del "$V4/24" dev eth0
	for _ in $(seq 100); do [ -z "$(announcers)" ] && break; sleep 0.05; done
	[ -z "$(announcers)" ] || fail "announcer still runs 5 s after ADD"
	capture_stop "$LAB_DIR/c.pcap"
	text=$(capture_read host "$LAB_DIR/c.pcap" -v | grep "^[^ ]* $mac > " || true)
	[ "$(grep -c "who-has $V4 tell $V4" <<<"$text")" = 1 ] || fail "ARP announcements of the removed $V4: $text"
	[ "$(grep -c "neighbor advertisement, length 32, tgt is $V6" <<<"$text")" = 3 ] || fail "NAs of $V6: $text"
	run jq -r 'select(.msg | test("addresses gone")) | .gone | join(",")' "$NDPA_LOG"
	assert_output "$V4"
}

@test "a DEL that lands while ADD runs wins: ADD starts no background rounds after it" {
	bridge_only b
	# eth0 down: ADD waits for the link (up to 2 s) before its first round, long enough to DEL.
	in_ns b ip link set eth0 down
	conf=$(ndpa_on_prev '{"advertiseCount": 3, "advertiseIntervalMs": 1000, "linkUpTimeoutMs": 2000}' "$BRIDGE_RESULT")
	ndpa_direct ADD "$conf" >"$LAB_DIR/add.out" 2>&1 3>&- &
	add_pid=$!
	# ADD claims the attachment before it waits; give it the time to get there (what matters is
	# that it is still running once DEL returns, checked below).
	for _ in $(seq 25); do [ -n "$(ls -A "$STATE_DIR" 2>/dev/null)" ] && break; sleep 0.02; done
	start=$(date +%s%N)
	run --separate-stderr ndpa_direct DEL "$conf"
	assert_success
	elapsed=$((($(date +%s%N) - start) / 1000000))
	kill -0 "$add_pid" 2>/dev/null || fail "ADD was over before DEL: the test proves nothing"
	[ "$elapsed" -lt 1000 ] || fail "DEL waited ${elapsed} ms for ADD"
	run --separate-stderr ndpa_direct DEL "$conf"
	assert_success

	wait "$add_pid" || fail "ADD failed: $(cat "$LAB_DIR/add.out")"
	run jq -r 'select(.msg == "ADD done") | .background' "$NDPA_LOG"
	assert_output --partial "deleted while ADD ran"
	[ -z "$(announcers)" ] || fail "an announcer outlives the DEL: $(announcers)"
	[ -z "$(ls -A "$STATE_DIR")" ] || fail "state outlives the DEL: $(ls -A "$STATE_DIR")"
}

@test "one round sends at most 64 frames, and the log says how many the bound cut" {
	bridge_only b
	mac=$(link_mac b eth0)
	# 80 more IPv4 addresses, really on eth0 and listed in the result.
	for i in $(seq 100 179); do echo "addr add 198.51.100.$i/24 dev eth0"; done | in_ns b ip -batch -
	prev=$(jq -c '.ips[0].interface as $idx | .ips += ([range(100; 180)] | map({interface: $idx, address: "198.51.100.\(.)/24"}))' <<<"$BRIDGE_RESULT")
	# A small snapshot length: tcpdump's ring then holds the whole burst (at 256 KiB a frame it
	# holds 8).
	capture_start host "$LAB_BRIDGE" "$LAB_DIR/c.pcap" -s 256 arp or icmp6
	run --separate-stderr ndpa_direct ADD "$(ndpa_on_prev '{"advertiseCount": 1, "announceToGateways": false}' "$prev")"
	assert_success
	run --separate-stderr ndpa_direct DEL "$(ndpa_on_prev '{}' '{}')"
	assert_success
	# A burst: let tcpdump write all of it (bounded) before it is stopped, and a moment more for
	# any frame over the bound.
	count() { capture_read host "$LAB_DIR/c.pcap" | grep "^[^ ]* $mac > " | grep -c "tell\|neighbor advertisement" || true; }
	for _ in $(seq 100); do [ "$(count)" -ge 64 ] && break; sleep 0.05; done
	sleep 0.3
	capture_stop "$LAB_DIR/c.pcap"
	n=$(count)
	[ "$n" = 64 ] || fail "round 1 sent $n frames, want the bound, 64"
	run jq -r 'select(.msg == "ADD done") | [.level, .round1Cut] | join(" ")' "$NDPA_LOG"
	assert_output "WARN 18 frames over the bound of 64 per round not sent"
}
