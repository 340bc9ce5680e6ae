#!/usr/bin/env bash
# `make demo`: the local cluster up, the operator running in the background, the
# shop's example Microservices applied, and a short summary of what was created.
source "$(dirname "${BASH_SOURCE[0]}")/cluster/lib.sh"
eval "$(bash "$REPO_ROOT/ci/env.sh")"

bash "$REPO_ROOT/ci/cluster/cluster.sh" up
bash "$REPO_ROOT/ci/operator.sh" start
log "applying the example Microservices (examples/microservices)"
kubectl apply -f "$REPO_ROOT/examples/microservices" >/dev/null
log "waiting for every Microservice to be Ready"
kubectl wait --for=condition=Ready msvc --all -n shop --timeout=180s >/dev/null \
  || die "not every Microservice became Ready; see: kubectl describe msvc -n shop, and $STATE_DIR/logs/operator.log"

selector="app.kubernetes.io/managed-by=shopmesh-operator"
echo
echo "ShopMesh demo is up ($(kubectl version -o json | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -1) API server, $(kubectl get nodes --no-headers | wc -l) KWOK nodes)."
echo
kubectl get msvc -n shop -o wide
echo
echo "Created by the operator in namespace shop:"
for kind in serviceaccounts services deployments pods horizontalpodautoscalers \
  poddisruptionbudgets peerauthentications destinationrules virtualservices \
  authorizationpolicies servicemonitors; do
  printf '  %-24s %s\n' "$kind" "$(kubectl get "$kind" -n shop -l "$selector" --no-headers 2>/dev/null | wc -l)"
done
waiting="$(kubectl get msvc -n shop -o jsonpath='{range .items[*]}{.metadata.name}{": "}{.status.conditions[?(@.type=="OutOfSync")].message}{"\n"}{end}' | grep -v 'every child matches' || true)"
if [ -n "$waiting" ]; then
  echo
  echo "Out of sync (what the operator is waiting for):"
  echo "$waiting" | sed 's/^/  /'
fi
echo
echo "Try it:"
echo "  eval \"\$(make -s env)\"     # the project's kubectl, helm and KUBECONFIG"
echo "  kubectl get msvc -A; kubectl describe msvc payments -n shop"
echo "  make operator-stop; make cluster-down   # when done"
