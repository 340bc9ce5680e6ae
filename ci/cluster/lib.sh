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
