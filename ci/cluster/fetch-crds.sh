#!/usr/bin/env bash
# Copies the real, pinned upstream CRDs the operator's children need into the
# cache: Istio's (from the istio.io/api Go module) and Prometheus Operator's
# ServiceMonitor and PrometheusRule (from its module's example/ folder).
# Prints the directory holding them. Used by cluster.sh and `make crds`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

module_dir() {
  GOFLAGS=-mod=mod go mod download -json "$1" 2>/dev/null \
    | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p' \
    || true
}

if [ ! -f "$CRD_DIR/.complete" ]; then
  command -v go >/dev/null || die "Go is not installed; it is needed to fetch the upstream CRDs"
  log "fetching CRDs: istio.io/api@$ISTIO_API_VERSION, prometheus-operator@$PROMETHEUS_OPERATOR_VERSION"
  istio="$(module_dir "istio.io/api@$ISTIO_API_VERSION")"
  promop="$(module_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")"
  [ -n "$istio" ] && [ -n "$promop" ] \
    || die "cannot download the CRD modules: is the Go module proxy reachable (GOPROXY=$(go env GOPROXY))?"
  tmp="$CRD_DIR.tmp.$$"; rm -rf "$tmp"; mkdir -p "$tmp"
  cp "$istio/kubernetes/customresourcedefinitions.gen.yaml" "$tmp/istio.yaml"
  for kind in servicemonitors prometheusrules; do
    cp "$promop/example/prometheus-operator-crd/monitoring.coreos.com_$kind.yaml" "$tmp/$kind.yaml"
  done
  chmod -R u+w "$tmp"; touch "$tmp/.complete"
  rm -rf "$CRD_DIR"; mv "$tmp" "$CRD_DIR"
fi
echo "$CRD_DIR"
