# Sourced by kubelet.bash after containerd.bash: a "node" for a kubelet and its containerd, so that
# the DaemonSet's own hostPaths (/opt/cni/bin, /etc/cni/net.d, /run/cni/..., /var/log) are the
# node's and not this machine's. A mount namespace (private propagation) held by one process, where
# /run, /var/log and /opt are fresh tmpfs, and /etc and /var/lib overlays whose upper dirs are under
# $DIR (kubelet's device plugin socket is at /var/lib/kubelet whatever its --root-dir); every
# command on the node enters it and the netns (in_ns). Nothing mounted there shows outside, and it
# all goes when the last process in it ends.
#
# kubelet sets kernel tunables at start (vm.overcommit_memory=1, kernel.panic=10,
# kernel.panic_on_oops=1, ...), which are not per-namespace: on this shared machine it would change
# them for everyone. The node bind-mounts files holding kubelet's values over those /proc/sys
# entries, so kubelet finds them as it wants them and writes nothing to the kernel.

NODE_PID=''
# kubelet's desired values (k8s.io/component-helpers/node/util/sysctl).
declare -A NODE_TUNABLES=([vm.overcommit_memory]=1 [vm.panic_on_oom]=0 [kernel.panic]=10
	[kernel.panic_on_oops]=1 [kernel.keys.root_maxkeys]=1000000 [kernel.keys.root_maxbytes]=25000000)

# node_start: the mount namespace and its holder; sets NODE_PID, NODE_ROOT (this side's view of the
# node's /), adds the mount namespace to NODE_NSENTER.
node_start() {
	local i k
	mkdir -p "$DIR/node/"{etc,varlib}.{upper,work} "$DIR/node/sysctl" || return 1
	for k in "${!NODE_TUNABLES[@]}"; do echo "${NODE_TUNABLES[$k]}" >"$DIR/node/sysctl/$k"; done
	unshare --mount --propagation private -- bash -c '
		set -e
		# The copy of the /run/netns of this machine (a mount where ip netns was used) would stay in the
		# node mountinfo under the new /run, and a runtime looking up how /run/netns is mounted
		# would find that private copy.
		if mountpoint -q /run/netns; then umount -R -l /run/netns; fi
		mount -t tmpfs -o mode=755 ndpa-node-run /run
		# Shared inside the node, as / is on a systemd host: the netns mounts of the runtime under
		# /run/netns reach a container that mounts it HostToContainer (the DaemonSet service).
		mount --make-shared /run
		mount -t tmpfs -o mode=755 ndpa-node-log /var/log
		mount -t tmpfs -o mode=755 ndpa-node-opt /opt
		mount -t overlay -o "lowerdir=/etc,upperdir=$1/etc.upper,workdir=$1/etc.work" ndpa-node-etc /etc
		mount -t overlay -o "lowerdir=/var/lib,upperdir=$1/varlib.upper,workdir=$1/varlib.work" ndpa-node-varlib /var/lib
		mkdir -p /etc/cni/net.d /opt/cni/bin
		for f in "$1"/sysctl/*; do
			k=${f##*/}
			mount --bind "$f" "/proc/sys/${k//.//}"
		done
		: >"$1/ready"
		exec sleep 2147483647' node-setup "$DIR/node" </dev/null >"$DIR/node/setup.log" 2>&1 &
	NODE_PID=$!
	for ((i = 0; i < 200; i++)); do
		[ -e "$DIR/node/ready" ] && break
		alive "$NODE_PID" || break
		sleep 0.05
	done
	[ -e "$DIR/node/ready" ] || { echo "node set-up failed: $(cat "$DIR/node/setup.log")" >&2; return 1; }
	NS_INODES[$(readlink "/proc/$NODE_PID/ns/mnt")]="node mount namespace"
	NODE_ROOT=/proc/$NODE_PID/root
	NODE_NSENTER+=(--mount="/proc/$NODE_PID/ns/mnt")
}

# node_mounts_under DIR: mounts at or below DIR in the node's mount namespace.
node_mounts_under() {
	awk -v d="$1/" 'index($5, d) == 1 { print $5 }' "/proc/$NODE_PID/mountinfo" 2>/dev/null
}

# node_stop: ends the holder (the namespace goes with the last process in it, which the cleanup's
# sweep ends).
node_stop() {
	[ -n "$NODE_PID" ] && stop_pid "$NODE_PID"
	NODE_PID=''
}
