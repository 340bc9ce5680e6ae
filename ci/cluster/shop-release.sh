#!/usr/bin/env bash
# The shop as real pods on the local cluster's real node, installed the way users install
# it: `helm upgrade --install` of charts/shopmesh with the shop enabled, against the host's
# stack (charts/shopmesh/ci/shop-external-values.yaml). Called by `make shop-install`,
# `make shop-uninstall` and `make demo`.
#   shop-release.sh install     install or upgrade; wait until every Microservice is Ready
#                               and the gateway answers on its NodePort
#   shop-release.sh uninstall   helm uninstall and delete the namespace
#   shop-release.sh status      the release, its Microservices and pods
# Release, namespace and NodePort: SHOP_RELEASE, SHOP_NAMESPACE, GATEWAY_NODE_PORT in lib.sh.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
eval "$(bash "$REPO_ROOT/ci/env.sh")"

GATEWAY_URL="http://127.0.0.1:$GATEWAY_NODE_PORT"

cmd_install() {
  log "helm upgrade --install $SHOP_RELEASE (namespace $SHOP_NAMESPACE): the operator and the shop"
  # The namespace holds real pods: no KWOK toleration.
  kubectl create namespace "$SHOP_NAMESPACE" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
  helm upgrade --install "$SHOP_RELEASE" "$REPO_ROOT/charts/shopmesh" \
    --namespace "$SHOP_NAMESPACE" \
    -f "$REPO_ROOT/charts/shopmesh/ci/shop-external-values.yaml" \
    --set "watchNamespaces={$SHOP_NAMESPACE}" \
    --set "peering.name=$SHOP_RELEASE" \
    --set "gateway.nodePort.port=$GATEWAY_NODE_PORT" \
    --wait --timeout 5m >/dev/null
  log "waiting for every Microservice to be Ready"
  kubectl wait --for=condition=Ready msvc --all -n "$SHOP_NAMESPACE" --timeout=300s >/dev/null \
    || die "not every Microservice became Ready; see: kubectl describe msvc -n $SHOP_NAMESPACE"
  log "waiting for the gateway on $GATEWAY_URL"
  local i
  for ((i = 0; i < 240; i++)); do
    curl -fsS --noproxy '*' -o /dev/null "$GATEWAY_URL/health/ready" 2>/dev/null && break
    sleep 0.5
  done
  curl -fsS --noproxy '*' -o /dev/null "$GATEWAY_URL/health/ready" \
    || die "the gateway does not answer on $GATEWAY_URL; see: make cluster-status"
  cmd_status
}

cmd_uninstall() {
  helm uninstall "$SHOP_RELEASE" --namespace "$SHOP_NAMESPACE" --wait 2>/dev/null || true
  kubectl delete namespace "$SHOP_NAMESPACE" --ignore-not-found --timeout=120s >/dev/null
  log "shop uninstalled"
}

cmd_status() {
  helm status "$SHOP_RELEASE" --namespace "$SHOP_NAMESPACE" 2>/dev/null | sed -n '1,6p' \
    || { echo "no release $SHOP_RELEASE in $SHOP_NAMESPACE (make shop-install)"; return 0; }
  echo
  kubectl get msvc -n "$SHOP_NAMESPACE" -o wide
  echo
  kubectl get pods -n "$SHOP_NAMESPACE" -o wide
  echo
  echo "gateway: $GATEWAY_URL  (eval \"\$(make -s env)\" exports it as SHOPMESH_GATEWAY_URL)"
}

case "${1:-}" in
  install) cmd_install ;;
  uninstall) cmd_uninstall ;;
  status) cmd_status ;;
  *) die "usage: shop-release.sh install|uninstall|status" ;;
esac
