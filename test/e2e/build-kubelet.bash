#!/usr/bin/env bash
# build-kubelet.bash VERSION OUT: builds kubelet VERSION (e.g. v1.34.4) from the Go module proxy
# into OUT, unless OUT already holds that version (a warm machine keeps it outside the clone).
#
# The k8s.io/kubernetes module zip has no staging/ directory, so its own go.mod (whose replace
# directives point at ./staging/src/k8s.io/X) cannot build. A throwaway main module requires
# k8s.io/kubernetes and replaces every staging module with its published k8s.io/X v0.N.M of the same
# release; -mod=mod lets go resolve the rest. Our go.mod is not touched. Static (CGO_ENABLED=0), as
# the release builds are; the version stamped as `kubelet --version` reports it.
set -euo pipefail
version=$1 out=$2
GO=${GO:-go}

built() { [ -x "$out" ] && "$out" --version 2>/dev/null | grep -qx "Kubernetes $version"; }
built && exit 0
# One build at a time per cache (two CI runs on one machine): the second waits, then finds it.
mkdir -p "$(dirname "$out")"
exec 9>"$out.lock"
flock 9
built && exit 0
minor_patch=${version#v1.} # 34.4
staging_ver=v0.$minor_patch

work=$(mktemp -d /tmp/ndpa-kubelet-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
kdir=$(cd "$work" && $GO mod download -json "k8s.io/kubernetes@$version" | jq -r .Dir)
cd "$work"
$GO mod init ndpa.invalid/kubelet-build >/dev/null 2>&1
# Every "k8s.io/X => ./staging/src/k8s.io/X" of kubernetes's go.mod, published under its own name.
$GO mod edit -json "$kdir/go.mod" |
	jq -r '.Replace[] | select(.New.Path | startswith("./staging/")) | .Old.Path' |
	while read -r m; do
		$GO mod edit -replace "$m=$m@$staging_ver"
	done
$GO mod edit -require "k8s.io/kubernetes@$version"
echo "building kubelet $version (staging modules at $staging_ver); 7 to 12 minutes on 2 CPUs with empty Go caches" >&2
tmp=$(mktemp "$out.XXXXXX") # renamed into place when done: a concurrent run never sees half a binary
trap 'rm -rf "$work" "$tmp"' EXIT
major=1 minor=${minor_patch%%.*}
CGO_ENABLED=0 GOFLAGS=-mod=mod $GO build -trimpath -o "$tmp" \
	-ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean" \
	k8s.io/kubernetes/cmd/kubelet
chmod 755 "$tmp"
mv "$tmp" "$out"
"$out" --version
