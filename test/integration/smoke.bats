#!/usr/bin/env bats
# The lab itself, with only the reference plugins: if these fail, no ndp-announce test
# in this directory means anything.

load lab

setup_file() { lab_init; }
setup() { lab_setup; }
teardown() { lab_teardown; }

# result_addr RESULT FAMILY: the container address (CIDR) of that family in a CNI result.
result_addr() {
	jq -er --arg f "$2" '.ips[] | select((.address | contains(":")) == ($f == "6")) | .address' <<<"$1"
}

@test "bridge + host-local: the peer reaches a container over IPv4 and IPv6, and DEL leaves nothing behind" {
	lab_container c1
	run --separate-stderr cni_add c1
	assert_success
	result=$output

	v4=$(result_addr "$result" 4)
	v6=$(result_addr "$result" 6)
	[[ $v4 == 198.51.100.*/24 ]] || fail "IPv4 address in result: '$v4'"
	[[ $v6 == 2001:db8:1:*/64 ]] || fail "IPv6 address in result: '$v6'"
	# The result names the container's eth0 in its netns, and that is where the addresses are.
	jq -e --arg ns "$(lab_netns_path c1)" '.interfaces[] | select(.name == "eth0" and .sandbox == $ns)' <<<"$result" >/dev/null ||
		fail "no eth0 in $(lab_netns_path c1) in result: $result"
	run in_ns c1 ip -o addr show dev eth0
	assert_output --partial "inet $v4 "
	assert_output --partial "inet6 $v6 "
	run lab_ipam_leases
	assert_output --partial "${v4%/*}"

	run ping_once peer "${v4%/*}"
	assert_success
	assert_output --partial "1 received"
	run ping_once peer "${v6%/*}"
	assert_success
	assert_output --partial "1 received"
	# The replies came from the container: the peer learned the container's MAC for both.
	mac=$(link_mac c1 eth0)
	[ "$(neigh_mac peer "${v4%/*}")" = "$mac" ]
	[ "$(neigh_mac peer "${v6%/*}")" = "$mac" ]

	run cni_del c1
	assert_success
	run in_ns c1 ip link show dev eth0
	assert_failure
	run lab_host_veths
	assert_output "$LAB_HOST_VETH"
	run lab_ipam_leases
	assert_output ""
	# Nothing answers for the address any more, so ping_once can fail.
	run ping_once peer "${v4%/*}"
	assert_failure
}

@test "a fixed IP from the ips capability lands on the container" {
	lab_container c1
	run --separate-stderr cni_add c1 eth0 '{"ips": ["198.51.100.50/24", "2001:db8:1::50/64"]}'
	assert_success
	[ "$(result_addr "$output" 4)" = 198.51.100.50/24 ]
	[ "$(result_addr "$output" 6)" = 2001:db8:1::50/64 ]
	run ping_once peer 198.51.100.50
	assert_success
	run ping_once peer 2001:db8:1::50
	assert_success
	run cni_check c1
	assert_success
}

@test "DEL twice succeeds, and again once the netns is gone (containerd's stop, then remove)" {
	lab_container c1
	run --separate-stderr cni_add c1
	assert_success
	v4=$(result_addr "$output" 4)

	run cni_del c1
	assert_success
	run cni_del c1
	assert_success
	lab_container_remove c1
	run cni_del c1
	assert_success

	run lab_host_veths
	assert_output "$LAB_HOST_VETH"
	run lab_ipam_leases
	refute_output --partial "${v4%/*}"
}
