# shellcheck shell=bash
# ndp-announce in the integration lab: what every .bats file that runs the plugin shares.
#
#   load lab
#   load ndpa
#   setup_file() { lab_init && ndpa_init; }
#   setup()      { lab_setup && ndpa_setup; }
#   teardown()   { lab_teardown; }    # runs lab_after_del below: no announcer, no state left

# ndpa_init: run from setup_file, after lab_init. Exports NDPA, the plugin binary.
ndpa_init() {
	NDPA=$(lab_plugin_path ndp-announce) || { echo "no ndp-announce in $LAB_BIN_DIR: run make build" >&2; return 1; }
	export NDPA
}

# ndpa_setup: run from setup, after lab_setup. The test's dataDir and log.
ndpa_setup() {
	STATE_DIR=$LAB_DIR/state
	NDPA_LOG=$LAB_DIR/ndp-announce.log
}

# lab_after_del runs inside lab_teardown after every attachment's DEL, before the lab is removed:
# every DEL stopped its announcer, so nothing of ours runs and no state file is left.
lab_after_del() {
	local left=0 files
	# A node service's own files (its socket, the socket's lock, the fallback counter) are no
	# attachment's state.
	files=$(ls -A "$STATE_DIR" 2>/dev/null | grep -v -e '^announcer\.sock' -e '^handoff-fallbacks$' || true)
	if [ -n "$files" ]; then
		echo "state left behind in $STATE_DIR: $files" >&2
		left=1
	fi
	# An announcer that finished its rounds removes its state file and then exits: give one that
	# is on its way out (a loaded machine can hold it there a while) three seconds to go.
	for _ in $(seq 60); do [ -z "$(announcers)" ] && break; sleep 0.05; done
	if [ -n "$(announcers)" ]; then
		echo "announcers still running after DEL: $(announcers)" >&2
		left=1
	fi
	return $left
}

# ndpa_conf [JSON_FIELDS]: the ndp-announce plugin entry, with the test's dataDir and log.
ndpa_conf() {
	jq -c --arg dir "$STATE_DIR" --arg log "$NDPA_LOG" \
		'{type: "ndp-announce", dataDir: $dir, logFile: $log, logLevel: "debug"} + .' <<<"${1:-{\}}"
}

# conflist_edit JQ_FILTER: change the test's conflist in place.
conflist_edit() {
	jq "$1" "$LAB_CONFLIST" >"$LAB_CONFLIST.new" && mv "$LAB_CONFLIST.new" "$LAB_CONFLIST"
}

# with_ndpa [JSON_FIELDS]: the lab conflist with ndp-announce chained after bridge.
with_ndpa() { lab_conflist "$(ndpa_conf "${1:-{\}}")"; }

# stderr_has TEXT: the last `run --separate-stderr` wrote TEXT to stderr (Debian's bats-assert
# predates assert_stderr).
stderr_has() {
	[[ $stderr == *"$1"* ]] || fail "stderr does not contain '$1': $stderr"
}

FIXED='{"ips": ["198.51.100.50/24", "2001:db8:1::50/64"]}'
V4=198.51.100.50
V6=2001:db8:1::50

# announcers: PIDs of ndp-announce background announcers running in this test's state dir.
announcers() {
	local pid
	for pid in $(pgrep -f -- "__announce .*$STATE_DIR" || true); do echo "$pid"; done
}

# ndpa_direct CMD CONFIG: run the plugin by hand in the host netns, the way a runtime does, for
# container NDPA_NAME (default b) and CNI_IFNAME NDPA_IFNAME (default eth0).
ndpa_direct() {
	local cmd=$1 conf=$2 name=${NDPA_NAME:-b}
	_lab_nsenter "$LAB_HOST_NS" env CNI_COMMAND="$cmd" CNI_CONTAINERID="$(lab_container_id "$name")" \
		CNI_NETNS="$(lab_netns_path "$name")" CNI_IFNAME="${NDPA_IFNAME:-eth0}" CNI_PATH="$LAB_BIN_DIR" "$NDPA" <<<"$conf"
}
