#!/usr/bin/env bash
# Validates manifests with the real tools, offline:
#   validate.sh [FILE...]   kubeconform -strict on FILE (default: the rendered children
#                           of every example Microservice) against the pinned Kubernetes
#                           schemas and the Istio, Prometheus Operator and ShopMesh CRDs.
#                           Then istioctl validate and istioctl analyze (offline) on the
#                           same files: Istio's own checks of the Istio objects.
#                           Without FILE, also the PrometheusRule manifests/prometheus/shop-alerts.yaml
#                           and ci/validate/observability.sh (alert rules, their tests, dashboards).
# Used by `make validate` (part of `make test`) and tests/e2e/test_validation.py.
source "$(dirname "${BASH_SOURCE[0]}")/../cluster/lib.sh"
bash "$CLUSTER_DIR/build-binaries.sh"
crds="$(bash "$CLUSTER_DIR/fetch-crds.sh")"
mod_dir() { go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'; }
k8s_src="$(cd "$CLUSTER_DIR/modules/kubernetes" && mod_dir "k8s.io/kubernetes@$KUBERNETES_VERSION")"
kc_src="$(cd "$CLUSTER_DIR/modules/kubeconform" && mod_dir "github.com/yannh/kubeconform@$KUBECONFORM_VERSION")"
schemas="$SHOPMESH_CACHE/schemas/k8s-$KUBERNETES_VERSION-istio-$ISTIO_API_VERSION-promop-$PROMETHEUS_OPERATOR_VERSION-$(sha1sum "$REPO_ROOT/charts/shopmesh/crds/"*.yaml | sha1sum | cut -c1-12)"
if [ ! -f "$schemas/.complete" ]; then
  log "building JSON schemas into $schemas"
  rm -rf "$schemas"
  "$REPO_ROOT/.venv/bin/python" "$REPO_ROOT/ci/validate/build_schemas.py" "$schemas" \
    "$k8s_src/api/openapi-spec/swagger.json" "$kc_src/scripts/openapi2jsonschema.py" \
    "$crds/istio.yaml" "$crds/servicemonitors.yaml" "$crds/prometheusrules.yaml" \
    "$REPO_ROOT/charts/shopmesh/crds/microservices.shopmesh.io.yaml" >&2
  touch "$schemas/.complete"
fi
if [ "$#" -eq 0 ]; then
  rendered="$STATE_DIR/rendered-examples.yaml"
  mkdir -p "$STATE_DIR"
  "$REPO_ROOT/.venv/bin/python" -m shopmesh_operator.render "$REPO_ROOT"/examples/microservices/*.yaml > "$rendered"
  set -- "$rendered" "$REPO_ROOT"/examples/microservices/*.yaml "$REPO_ROOT"/manifests/prometheus/shop-alerts.yaml
  bash "$REPO_ROOT/ci/validate/observability.sh"   # the alert rules and the dashboard
fi
"$KUBECONFORM_BIN/kubeconform" -strict -summary \
  -schema-location "$schemas/{{ .ResourceKind }}-{{ .Group }}-{{ .ResourceAPIVersion }}.json" "$@"
# istioctl must not reach for a cluster: validate and analyze work from the files alone.
export KUBECONFIG=/dev/null
for file in "$@"; do
  "$ISTIOCTL_BIN/istioctl" validate -f "$file"
done
"$ISTIOCTL_BIN/istioctl" analyze --use-kube=false "$@"
