#!/usr/bin/env bash
# Builds every binary the local cluster needs from pinned Go modules into a cache
# outside the repository ($SHOPMESH_CACHE/bin/<tool>-<version>), so a second run
# takes seconds: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl, kubelet, kube-proxy, CoreDNS, metrics-server, kwok,
# kwokctl, helm, kubeconform, istioctl, jaeger (the local stack's
# OpenTelemetry collector, ci/stack/collector.sh) and prometheus + promtool (the local
# stack's Prometheus, ci/stack/prometheus.sh). Each tool has its own wrapper
# module under ci/cluster/modules/ so dependency versions never mix.
# Used by `make tools` (and so by cluster-up, demo and test). With arguments (module
# names under ci/cluster/modules/), builds only those: ci/stack/collector.sh builds jaeger so.
# GO_TAGS=<tags> before build_into: build tags for that one build.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v go >/dev/null || die "Go is not installed; install Go >= 1.24 (e.g. apt-get install golang) and retry"
GO_MINOR="$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
[ "$GO_MINOR" -ge 24 ] || die "Go $(go env GOVERSION) is too old; Go >= 1.24 is needed"

export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -trimpath" GOTOOLCHAIN=local

ONLY=("$@")   # the modules asked for; none: all of them
GO_TAGS=""    # set only for one build_into call (see above)

# build_into <dest-dir> <module-dir> <ldflags> <package>...
# Builds into a temporary directory and renames it into place, so an
# interrupted build never leaves a half-filled cache entry behind.
build_into() {
  local dest="$1" module="$2" ldflags="$3"; shift 3
  if [ "${#ONLY[@]}" -gt 0 ] && [[ " ${ONLY[*]} " != *" $module "* ]]; then return 0; fi
  if [ -f "$dest/.complete" ]; then return 0; fi
  log "building $(basename "$dest") (first time only; cached in $dest)"
  local tmp="$dest.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  local start=$SECONDS
  if ! (cd "$CLUSTER_DIR/modules/$module" && go mod download 2>"$tmp/download.log"); then
    cat "$tmp/download.log" >&2
    die "cannot download Go modules for $module: is the Go module proxy reachable (GOPROXY=$(go env GOPROXY))?"
  fi
  (cd "$CLUSTER_DIR/modules/$module" && go build ${GO_TAGS:+-tags "$GO_TAGS"} -ldflags "$ldflags" -o "$tmp/" "$@") \
    || die "go build failed for $module"
  rm -f "$tmp/download.log"
  touch "$tmp/.complete"
  rm -rf "$dest"; mv "$tmp" "$dest"
  log "built $(basename "$dest") in $((SECONDS - start))s"
}

# prometheus_ldflags: Prometheus' own version (its module's v0.3MM.P is Prometheus 3.MM.P),
# shown by --version and /api/v1/status/buildinfo.
prometheus_ldflags() {
  local v="${PROMETHEUS_VERSION#v0.}" minor patch pkg=github.com/prometheus/common/version
  minor="${v%%.*}"; patch="${v#*.}"
  echo "-s -w -X $pkg.Version=${minor:0:1}.$((10#${minor:1})).$patch -X $pkg.Revision=$PROMETHEUS_VERSION -X $pkg.Branch=module"
}

k8s_version_ldflags() {
  local v="${KUBERNETES_VERSION#v}" major minor flags=""
  major="${v%%.*}"; minor="$(echo "$v" | cut -d. -f2)"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "-s -w$flags"
}

mkdir -p "$BIN_ROOT"
build_into "$ETCD_BIN" etcd "-s -w" go.etcd.io/etcd/server/v3
# The main package's path ends in /v3, so go build names the binary "server".
[ -x "$ETCD_BIN/etcd" ] || [ ! -e "$ETCD_BIN/server" ] || mv "$ETCD_BIN/server" "$ETCD_BIN/etcd"
build_into "$K8S_BIN" kubernetes "$(k8s_version_ldflags)" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
# The real node: kubelet and kube-proxy from the same wrapper module (most packages are
# already in the build cache from the control plane), CoreDNS and metrics-server as pods.
build_into "$K8S_NODE_BIN" kubernetes "$(k8s_version_ldflags)" \
  k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
build_into "$COREDNS_BIN" coredns "-s -w" github.com/coredns/coredns
build_into "$METRICS_SERVER_BIN" metrics-server \
  "-s -w -X sigs.k8s.io/metrics-server/pkg/version.gitVersion=$METRICS_SERVER_VERSION" \
  sigs.k8s.io/metrics-server/cmd/metrics-server
build_into "$KWOK_BIN" kwok "-s -w" \
  sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl
build_into "$HELM_BIN" helm "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" helm.sh/helm/v3/cmd/helm
build_into "$KUBECONFORM_BIN" kubeconform "-s -w" github.com/yannh/kubeconform/cmd/kubeconform
build_into "$ISTIOCTL_BIN" istioctl "-s -w" istio.io/istio/istioctl/cmd/istioctl
build_into "$JAEGER_BIN" jaeger "-s -w -X github.com/jaegertracing/jaeger/internal/version.latestVersion=$JAEGER_VERSION" github.com/jaegertracing/jaeger/cmd/jaeger
# Prometheus (and promtool) for the local stack: only the file, HTTP and Kubernetes service
# discoveries (remove_all_sd drops the others and the cloud SDKs they pull in: about 240 of
# the 1,500 packages), no web UI assets (no builtinassets tag: the HTTP API answers, the UI
# pages do not). ci/stack/prometheus.sh builds it so on first use too.
GO_TAGS=remove_all_sd,enable_kubernetes_sd build_into "$PROMETHEUS_BIN" prometheus "$(prometheus_ldflags)" \
  github.com/prometheus/prometheus/cmd/prometheus github.com/prometheus/prometheus/cmd/promtool
