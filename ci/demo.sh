#!/usr/bin/env bash
# `make demo`: the shop as real pods on the local cluster's real node, installed with
# `helm install` (ci/cluster/shop-release.sh), then one order's story told through its
# gateway (ci/stack/shop_demo.py). The Makefile has started the stack and the cluster and
# built the images before this runs.
source "$(dirname "${BASH_SOURCE[0]}")/cluster/lib.sh"
eval "$(bash "$REPO_ROOT/ci/env.sh")"

# The chart's operator pods manage the shop; a background operator process would too.
bash "$REPO_ROOT/ci/operator.sh" stop 2>/dev/null || true
bash "$REPO_ROOT/ci/cluster/shop-release.sh" install

# Admin calls (seeding a product, reading the emails) go to a Ready pod of the service by
# its pod IP, with the release's service-token secret, as an operator's tooling would.
pod_url() {
  kubectl get pods -n "$SHOP_NAMESPACE" -l "app.kubernetes.io/name=$1" \
    -o jsonpath='{range .items[?(@.status.containerStatuses[0].ready==true)]}{.status.podIP}{"\n"}{end}' \
    | head -1 | sed 's#.*#http://&:8080#'
}
SHOPMESH_INVENTORY_URL="$(pod_url inventory)"
SHOPMESH_NOTIFICATIONS_URL="$(pod_url notifications)"
SHOPMESH_SERVICE_TOKEN_SECRET="$(kubectl get secret -n "$SHOP_NAMESPACE" -o json \
  | python3 -c 'import base64, json, sys
for s in json.load(sys.stdin)["items"]:
    v = (s.get("data") or {}).get("service-token-secret")
    if v:
        print(base64.b64decode(v).decode()); break')"
export SHOPMESH_INVENTORY_URL SHOPMESH_NOTIFICATIONS_URL SHOPMESH_SERVICE_TOKEN_SECRET
echo
log "one order's story through the gateway at $SHOPMESH_GATEWAY_URL"
"$REPO_ROOT/.venv/bin/python" "$REPO_ROOT/ci/stack/shop_demo.py"
echo
echo "Try it:"
echo "  eval \"\$(make -s env)\"       # kubectl, helm, KUBECONFIG and SHOPMESH_GATEWAY_URL"
echo "  kubectl get msvc -n $SHOP_NAMESPACE; kubectl describe msvc orders -n $SHOP_NAMESPACE"
echo "  curl \$SHOPMESH_GATEWAY_URL/api/products"
echo "  make shop-uninstall; make cluster-down   # when done"
