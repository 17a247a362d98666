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

# assert_unchanged NAME: container NAME's eth0 is as bridge_only found it.
assert_unchanged() {
	local after
	after=$(iface_state "$1" eth0)
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
