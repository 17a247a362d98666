# ndp-announce — build, test, demo, bench.
# `make test` works on a fresh Debian machine as root: it installs what it needs first (see `deps`).

SHELL          := /bin/bash
GO             ?= go
VERSION        ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
TOOLS          := $(CURDIR)/.tools/bin
BIN            := bin/ndp-announce
DAEMON_BIN     := bin/ndp-announce-daemon
PLUGINS_VER    := v1.9.1
CNI_VER        := v1.3.1
REF_PLUGINS    := main/bridge ipam/host-local main/loopback meta/tuning meta/portmap meta/firewall \
                  meta/bandwidth main/macvlan main/ipvlan main/host-device
# flannel left containernetworking/plugins after v0.9.1 (CNI <= 0.4.0); it delegates to bridge.
FLANNEL_VER    := v0.9.1
DEB_PACKAGES   := bats bats-assert bats-support jq tcpdump iproute2 iputils-ping procps util-linux strace iptables curl
BATS_FLAGS     ?= --timing

.PHONY: all build unit integration test deps deps-apt deps-go demo bench lint clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.Version=$(VERSION)" -o $(BIN) ./plugins/ndp-announce
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(DAEMON_BIN) ./cmd/ndp-announce-daemon

# Tests that need no root; as root the privileged tests in the same packages run for real too (the
# plugin's command tests with the reference plugins from deps-go).
unit:
	NDPA_BIN_DIR="$(TOOLS)" $(GO) test -count=1 ./...

# bats in network namespaces with the real reference plugins. Root only.
integration: deps build
	@[ "$$(id -u)" = 0 ] || { echo "integration tests need root (network namespaces)"; exit 1; }
	NDPA_BIN_DIR="$(TOOLS):$(CURDIR)/bin" CNIDRIVER="$(TOOLS)/cnidriver" LABTOOL="$(TOOLS)/labtool" MULTUSCONF="$(TOOLS)/multusconf" \
		bats $(BATS_FLAGS) test/integration

test: deps lint unit integration

# End to end with a real runtime: containerd's CRI (Debian containerd + runc) confined to a netns of
# its own, crictl, and the Kubernetes DaemonSet's install command (test/e2e/README.md). Root only.
CRI_TOOLS_VER    := v1.34.0
E2E_DEB_PACKAGES := containerd runc busybox-static podman
.PHONY: e2e e2e-deps
e2e: deps build e2e-deps
	@[ "$$(id -u)" = 0 ] || { echo "make e2e needs root (network namespaces, containerd)"; exit 1; }
	NDPA_BIN="$(CURDIR)/$(BIN)" CRICTL="$(TOOLS)/crictl" STATICPOD="$(TOOLS)/staticpod" CNI_PLUGINS_DIR="$(TOOLS)" \
		timeout --foreground -k 30 600 bash test/e2e/cri.bash
	@$(MAKE) --no-print-directory e2e-kubelet
	@$(MAKE) --no-print-directory e2e-podman

# podman as a second runtime: Debian's podman 4.3 with its CNI backend, on a node of its own, and
# ndp-announce chained into podman's own network file by `ndp-announce install`. Root only.
.PHONY: e2e-podman
e2e-podman: deps build e2e-deps
	@[ "$$(id -u)" = 0 ] || { echo "make e2e-podman needs root (network and mount namespaces, podman)"; exit 1; }
	NDPA_BIN="$(CURDIR)/$(BIN)" CNI_PLUGINS_DIR="$(TOOLS)" timeout --foreground -k 30 300 bash test/e2e/podman.bash

# containerd, runc, busybox-static and podman from Debian when missing; crictl built from the module cache
# (cri-tools is not in the checksum database: GONOSUMDB). Outside the repo, so go.mod stays as it is.
e2e-deps:
	@missing=$$(for p in $(E2E_DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		[ "$$(id -u)" = 0 ] || { echo "need root to apt-get install $$missing"; exit 1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@mkdir -p $(TOOLS)
	@[ -x $(TOOLS)/crictl ] || { echo "building crictl $(CRI_TOOLS_VER) from sigs.k8s.io/cri-tools"; \
		dir=$$(cd / && GONOSUMDB=sigs.k8s.io/cri-tools $(GO) mod download -json sigs.k8s.io/cri-tools@$(CRI_TOOLS_VER) | jq -r .Dir) && \
		cd "$$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod GONOSUMDB=sigs.k8s.io/cri-tools \
		$(GO) build -trimpath -o $(TOOLS)/crictl ./cmd/crictl; }
	@$(GO) build -o $(TOOLS)/staticpod ./test/e2e/staticpod

deps: deps-apt deps-go

# Debian packages, only when one is missing.
deps-apt:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		[ "$$(id -u)" = 0 ] || { echo "need root to apt-get install $$missing"; exit 1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Go modules, the reference CNI plugins, cnitool, our libcni test driver and the lab's helper
# (labtool), into .tools/bin (git-ignored).
deps-go:
	@$(GO) mod download
	@mkdir -p $(TOOLS)
	@for p in $(REF_PLUGINS); do \
		n=$$(basename $$p); \
		[ -x $(TOOLS)/$$n ] || { echo "go install $$p@$(PLUGINS_VER)"; \
		GOBIN=$(TOOLS) $(GO) install github.com/containernetworking/plugins/plugins/$$p@$(PLUGINS_VER) || exit 1; }; \
	done
	@[ -x $(TOOLS)/flannel ] || { echo "go install meta/flannel@$(FLANNEL_VER)"; \
		GOBIN=$(TOOLS) $(GO) install github.com/containernetworking/plugins/plugins/meta/flannel@$(FLANNEL_VER); }
	@[ -x $(TOOLS)/cnitool ] || { echo "go install cnitool@$(CNI_VER)"; \
		GOBIN=$(TOOLS) $(GO) install github.com/containernetworking/cni/cnitool@$(CNI_VER); }
	@$(GO) build -o $(TOOLS)/cnidriver ./test/cnidriver
	@$(GO) build -o $(TOOLS)/labtool ./test/labtool
	@$(GO) build -o $(TOOLS)/multusconf ./test/multusconf

# A recycled IP with bridge alone, then with ndp-announce, in throwaway network namespaces. Root.
demo: deps build
	@[ "$$(id -u)" = 0 ] || { echo "make demo needs root (network namespaces)"; exit 1; }
	@NDPA_BIN_DIR="$(CURDIR)/bin:$(TOOLS)" CNIDRIVER="$(TOOLS)/cnidriver" LABTOOL="$(TOOLS)/labtool" scripts/demo.sh

# P1-P4 in throwaway network namespaces (root); writes BENCHMARKS.md and docs/blackhole-timeline.svg.
# BENCH_RUNS=N sets the P1 runs (default 5), BENCH_ONLY=p1,p3 a subset; BENCH_FLAGS more flags of
# test/bench (e.g. "-json FILE" keeps the raw results for -from-json). Bounded: 25 minutes at most.
bench: deps build
	@[ "$$(id -u)" = 0 ] || { echo "make bench needs root (network namespaces)"; exit 1; }
	@$(GO) build -o $(TOOLS)/bench ./test/bench
	@# The no-op chained plugin, P2's and P3's floor, built like bin/ndp-announce.
	@CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(TOOLS)/bench-noop ./test/bench/noop
	timeout --foreground -k 30 1500 $(TOOLS)/bench -bin-dir "$(CURDIR)/bin:$(TOOLS)" -driver $(TOOLS)/cnidriver $(BENCH_FLAGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	$(GO) vet ./...

clean:
	rm -rf bin .tools

# --- kubelet e2e (issue 13) ---------------------------------------------------------------------
# A real Kubernetes node: a standalone kubelet (no API server) runs the DaemonSets' pod templates as
# static pods beside containerd, on a node of its own, with the image buildah builds from
# deploy/kubernetes/Dockerfile (test/e2e/README.md). Root only. kubelet is built from the Go module
# proxy (test/e2e/build-kubelet.bash, several minutes) into a cache outside the clone, so a warm
# machine does not build it again.
KUBELET_VER        := v1.34.4
KUBELET_CACHE      ?= /var/cache/ndp-announce/kubelet-$(KUBELET_VER)
KUBELET            := $(KUBELET_CACHE)/kubelet
KUBELET_DEB_PACKAGES := buildah
.PHONY: e2e-kubelet e2e-kubelet-deps
e2e-kubelet: deps build e2e-deps e2e-kubelet-deps
	@[ "$$(id -u)" = 0 ] || { echo "make e2e-kubelet needs root (network and mount namespaces, containerd)"; exit 1; }
	KUBELET="$(KUBELET)" STATICPOD="$(TOOLS)/staticpod" NDPA_BIN="$(CURDIR)/$(BIN)" CRICTL="$(TOOLS)/crictl" \
		CNI_PLUGINS_DIR="$(TOOLS)" timeout --foreground -k 30 600 bash test/e2e/kubelet.bash

e2e-kubelet-deps:
	@missing=$$(for p in $(KUBELET_DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:" $$missing; \
		[ "$$(id -u)" = 0 ] || { echo "need root to apt-get install $$missing"; exit 1; }; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@GO="$(GO)" timeout --foreground -k 30 1800 bash test/e2e/build-kubelet.bash $(KUBELET_VER) "$(KUBELET)"
