#!/usr/bin/env bash
# mkimage.bash OUT.tar NAME CMD_JSON SRC:DST [SRC:DST...]
# Writes a single-layer OCI image archive holding the given files, for `ctr images import`: no
# registry is reachable here, so the e2e images are made from files already on the machine (Debian's
# static busybox, the plugin's static binary). DST "bin/busybox" with SRC "@busybox" makes a symlink.
set -euo pipefail
out=$1 name=$2 cmd=$3
shift 3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/rootfs/{proc,sys,dev,etc,tmp} "$work"/layout/blobs/sha256
for pair in "$@"; do
	src=${pair%%:*} dst=$work/rootfs/${pair#*:}
	mkdir -p "$(dirname "$dst")"
	if [[ $src == @* ]]; then ln -s "${src#@}" "$dst"; else cp "$src" "$dst"; fi
done

# blob FILE: move FILE into the layout under its digest; prints "sha256:HEX SIZE".
blob() {
	local sum size
	sum=$(sha256sum "$1" | cut -d' ' -f1)
	size=$(stat -c %s "$1")
	mv "$1" "$work/layout/blobs/sha256/$sum"
	echo "sha256:$sum $size"
}

tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/rootfs" -cf "$work/layer.tar" .
diffid=sha256:$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n "$work/layer.tar"
read -r layer lsize < <(blob "$work/layer.tar.gz")
jq -cn --arg d "$diffid" --argjson cmd "$cmd" \
	'{architecture: "amd64", os: "linux", config: {Env: ["PATH=/bin"], Cmd: $cmd}, rootfs: {type: "layers", diff_ids: [$d]}}' >"$work/config.json"
read -r config csize < <(blob "$work/config.json")
jq -cn --arg c "$config" --argjson cs "$csize" --arg l "$layer" --argjson ls "$lsize" '{
	schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
	config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
	layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: $ls}]}' >"$work/manifest.json"
read -r manifest msize < <(blob "$work/manifest.json")
echo '{"imageLayoutVersion":"1.0.0"}' >"$work/layout/oci-layout"
# io.containerd.image.name gives the imported image its full name.
jq -cn --arg m "$manifest" --argjson ms "$msize" --arg n "$name" '{schemaVersion: 2, manifests: [{
	mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
	platform: {architecture: "amd64", os: "linux"},
	annotations: {"io.containerd.image.name": $n}}]}' >"$work/layout/index.json"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/layout" -cf "$out" .
