#!/usr/bin/env bash
# Shared helpers for the local-cluster scripts: pinned versions, cache paths and
# logging. Sourced by build-binaries.sh, cluster.sh and env.sh; not run alone.
set -euo pipefail

CLUSTER_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$CLUSTER_DIR/../.." && pwd)"
# shellcheck source=versions.env
source "$CLUSTER_DIR/versions.env"

SHOPMESH_CACHE="${SHOPMESH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/shopmesh}"
BIN_ROOT="$SHOPMESH_CACHE/bin"
K8S_BIN="$BIN_ROOT/kubernetes-$KUBERNETES_VERSION"
ETCD_BIN="$BIN_ROOT/etcd-$ETCD_VERSION"
KWOK_BIN="$BIN_ROOT/kwok-$KWOK_VERSION"
HELM_BIN="$BIN_ROOT/helm-$HELM_VERSION"
KUBECONFORM_BIN="$BIN_ROOT/kubeconform-$KUBECONFORM_VERSION"
ISTIOCTL_BIN="$BIN_ROOT/istioctl-$ISTIOCTL_VERSION"
JAEGER_BIN="$BIN_ROOT/jaeger-$JAEGER_VERSION"
K8S_NODE_BIN="$BIN_ROOT/kubernetes-node-$KUBERNETES_VERSION"
COREDNS_BIN="$BIN_ROOT/coredns-$COREDNS_VERSION"
METRICS_SERVER_BIN="$BIN_ROOT/metrics-server-$METRICS_SERVER_VERSION"
# prometheus and promtool, with only the file, HTTP and Kubernetes service discoveries.
PROMETHEUS_BIN="$BIN_ROOT/prometheus-$PROMETHEUS_VERSION"
CRD_DIR="$SHOPMESH_CACHE/crds/istio-$ISTIO_API_VERSION-promop-$PROMETHEUS_OPERATOR_VERSION"

# Per-checkout runtime state (cluster data, kubeconfig, logs, pid files); gitignored.
STATE_DIR="${SHOPMESH_STATE:-$REPO_ROOT/.shopmesh}"
CLUSTER="${CLUSTER:-kwok}"
CLUSTER_NAME="${SHOPMESH_CLUSTER_NAME:-shopmesh}"
export KWOK_WORKDIR="$STATE_DIR/kwok"
KUBECONFIG_PATH="$STATE_DIR/kubeconfig.yaml"
# Below the kernel's ephemeral range (32768-60999), so no outgoing connection can hold it.
API_PORT="${SHOPMESH_API_PORT:-16443}"

shopmesh_path() {
  echo "$K8S_BIN:$ETCD_BIN:$KWOK_BIN:$HELM_BIN:$KUBECONFORM_BIN:$ISTIOCTL_BIN"
}

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }
KIND_BIN="$BIN_ROOT/kind-$KIND_VERSION"

# --- the real node (kubelet + containerd + runc) beside the KWOK nodes ---------------
# The host's address as pods see it: an empty bridge (no dummy module here) with a fixed address, so it is the
# same on every machine. The API server advertises it (the `kubernetes` Service), the real
# node uses it as its InternalIP, and the local stack's servers listen on it besides loopback.
HOST_IFACE="${SHOPMESH_HOST_IFACE:-shopmesh0}"
HOST_ADDR="${SHOPMESH_HOST_ADDR:-10.77.0.1}"
POD_CIDR="${SHOPMESH_POD_CIDR:-10.244.0.0/24}"
NODE_NAME="${SHOPMESH_NODE_NAME:-shopmesh-node}"
# The taint on KWOK's fake nodes, and what tolerates it.
KWOK_TAINT="kwok.x-k8s.io/node=fake:NoSchedule"
# Our own containerd (never the machine's): its socket, state and root.
CONTAINERD_ROOT="${SHOPMESH_CONTAINERD_ROOT:-/var/lib/shopmesh/containerd}"
CONTAINERD_STATE="${SHOPMESH_CONTAINERD_STATE:-/run/shopmesh/containerd}"
CONTAINERD_SOCK="$CONTAINERD_STATE/containerd.sock"
# Locally built images carry the chart's appVersion as their tag (docker.io/shopmesh/<name>:<tag>).
IMAGE_TAG="${SHOPMESH_IMAGE_TAG:-$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$REPO_ROOT/charts/shopmesh/Chart.yaml")}"
# The shop installed by `make shop-install` (ci/cluster/shop-release.sh): helm release and
# namespace, and the gateway's NodePort on 127.0.0.1 (`make env` exports its URL).
SHOP_RELEASE="${SHOPMESH_SHOP_RELEASE:-shopmesh}"
SHOP_NAMESPACE="${SHOPMESH_SHOP_NAMESPACE:-shop}"
GATEWAY_NODE_PORT="${SHOPMESH_GATEWAY_NODE_PORT:-30080}"
