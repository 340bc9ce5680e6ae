#!/usr/bin/env bash
# The local cluster: `cluster.sh up|down|status`.
#   CLUSTER=kwok (default): a real kube-apiserver, etcd, controller-manager and
#     scheduler built from Go modules, run by kwokctl's binary runtime, one real node
#     (kubelet + containerd + runc, ci/cluster/node.sh) where the shop runs as pods, and
#     KWOK faking three more nodes (tainted; for scale tests). No Docker needed.
#   CLUSTER=kind: a kind cluster, where Docker exists (laptops, the published CI).
# Either way it installs the pinned upstream Istio and Prometheus Operator CRDs
# and ShopMesh's own CRD, and writes the kubeconfig to .shopmesh/kubeconfig.yaml.
# Used by the Makefile (cluster-up, cluster-down, cluster-status, demo, test).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PATH="$(shopmesh_path):$PATH"
export KUBECONFIG="$KUBECONFIG_PATH"
NODES="${SHOPMESH_NODES:-3}"
# The API server's default service range (10.0.0.0/24) runs out at ~250 Services;
# the scale benchmark creates over a thousand.
SERVICE_CIDR="${SHOPMESH_SERVICE_CIDR:-10.96.0.0/16}"
PODS_PER_NODE="${SHOPMESH_PODS_PER_NODE:-1000}"
SHOPMESH_CRDS="$REPO_ROOT/charts/shopmesh/crds"

api_healthy() {
  [ -f "$KUBECONFIG_PATH" ] && kubectl get --raw /readyz --request-timeout=5s >/dev/null 2>&1
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

kwok_cluster_exists() {
  kwokctl get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"
}

# Writes our stage set: KWOK's default fast node and pod stages, with pod-ready
# told to skip pods labelled shopmesh.io/kwok-unready, plus stages-extra.yaml.
write_stages() {
  local kwok_src out="$STATE_DIR/kwok-stages.yaml" pki="$KWOK_WORKDIR/clusters/$CLUSTER_NAME/pki"
  kwok_src="$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
  [ -d "$kwok_src/kustomize/stage" ] || die "cannot find KWOK $KWOK_VERSION sources in the Go module cache"
  local st="$kwok_src/kustomize/stage"
  {
    cat "$st/node/fast/node-initialize.yaml"; echo "---"
    cat "$st/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml"; echo "---"
    sed '/^    matchExpressions:$/a\    - key: '"'"'.metadata.labels["shopmesh.io/kwok-unready"]'"'"'\n      operator: '"'"'DoesNotExist'"'"'' \
      "$st/pod/fast/pod-ready.yaml"; echo "---"
    cat "$st/pod/fast/pod-complete.yaml"; echo "---"
    cat "$st/pod/fast/pod-delete.yaml"; echo "---"
    cat "$CLUSTER_DIR/stages-extra.yaml"; echo "---"
    # The API server's certificate must name the addresses pods use to reach it: the
    # `kubernetes` Service's IP and the host address it advertises (see node.sh).
    printf 'apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokctlConfiguration\n'
    printf 'options:\n  kubeApiserverCertSANs: ["%s", "%s"]\n' "$(kubernetes_service_ip)" "$HOST_ADDR"
    # Extra flags per component (kwokctl 0.8's --extra-args mis-indexes several components).
    printf 'componentsPatches:\n'
    printf -- '- name: kube-apiserver\n  extraArgs:\n'
    printf '  - {key: %s, value: "%s"}\n' 'advertise-address' "$HOST_ADDR"
    # kubectl logs/exec: reach the kubelet at its node's address (no DNS name for the node).
    printf '  - {key: %s, value: "%s"}\n' 'kubelet-preferred-address-types' "InternalIP,Hostname"
    printf '  - {key: %s, value: "%s"}\n' 'enable-admission-plugins' "PodNodeSelector,PodTolerationRestriction"
    printf '  - {key: %s, value: "%s"}\n' 'kubelet-client-certificate' "$pki/admin.crt"
    printf '  - {key: %s, value: "%s"}\n' 'kubelet-client-key' "$pki/admin.key"
    printf '  - {key: %s, value: "%s"}\n' 'requestheader-client-ca-file' "$pki/ca.crt"
    printf '  - {key: %s, value: "%s"}\n' 'requestheader-allowed-names' "kwok-admin"
    printf '  - {key: %s, value: "%s"}\n' 'requestheader-username-headers' "X-Remote-User"
    printf '  - {key: %s, value: "%s"}\n' 'requestheader-group-headers' "X-Remote-Group"
    printf '  - {key: %s, value: "%s"}\n' 'requestheader-extra-headers-prefix' "X-Remote-Extra-"
    printf '  - {key: %s, value: "%s"}\n' 'enable-aggregator-routing' "true"
    printf '  - {key: %s, value: "%s"}\n' 'service-cluster-ip-range' "$SERVICE_CIDR"
    printf -- '- name: kube-controller-manager\n  extraArgs:\n'
    printf '  - {key: %s, value: "%s"}\n' 'horizontal-pod-autoscaler-sync-period' "5s"
    printf '  - {key: %s, value: "%s"}\n' 'horizontal-pod-autoscaler-downscale-stabilization' "20s"
    printf '  - {key: %s, value: "%s"}\n' 'service-cluster-ip-range' "$SERVICE_CIDR"
    printf -- '- name: kwok-controller\n  extraArgs:\n'
    printf '  - {key: %s, value: "%s"}\n' 'manage-all-nodes' "false"
    printf '  - {key: %s, value: "%s"}\n' 'manage-nodes-with-annotation-selector' "kwok.x-k8s.io/node=fake"
  } > "$out"
  grep -q 'shopmesh.io/kwok-unready"\]'"'"'$' "$out" || die "could not patch KWOK's pod-ready stage"
  echo "$out"
}

# The first address of the service range: the `kubernetes` Service.
kubernetes_service_ip() {
  python3 -c 'import ipaddress, sys; print(ipaddress.ip_network(sys.argv[1])[1])' "$SERVICE_CIDR"
}

# A cluster made before the real node existed advertises 127.0.0.1, which pods cannot reach.
advertises_host_address() {
  kubectl get endpoints kubernetes -n default -o jsonpath='{.subsets[0].addresses[0].ip}' 2>/dev/null \
    | grep -qx "$HOST_ADDR"
}

up_kwok() {
  bash "$CLUSTER_DIR/node.sh" host-address
  if kwok_cluster_exists && api_healthy && ! advertises_host_address; then
    log "cluster '$CLUSTER_NAME' predates the real node (advertises another address): creating it anew"
    bash "$CLUSTER_DIR/node.sh" down
    bash "$CLUSTER_DIR/node.sh" host-address
    kwokctl delete cluster --name "$CLUSTER_NAME" >/dev/null 2>&1 || rm -rf "$KWOK_WORKDIR/clusters/$CLUSTER_NAME"
  fi
  if kwok_cluster_exists && api_healthy; then
    log "cluster '$CLUSTER_NAME' is already up"
  else
    if kwok_cluster_exists; then
      log "cluster '$CLUSTER_NAME' exists but is not healthy (half-started?): starting it again"
      if ! kwokctl start cluster --name "$CLUSTER_NAME" --timeout 90s --wait 90s >/dev/null 2>&1 || ! api_healthy; then
        log "restart failed: deleting the broken cluster and creating it anew"
        kwokctl delete cluster --name "$CLUSTER_NAME" >/dev/null 2>&1 || rm -rf "$KWOK_WORKDIR/clusters/$CLUSTER_NAME"
      fi
    fi
    if ! api_healthy; then
      if port_in_use "$API_PORT"; then
        die "port $API_PORT is in use by another process; stop it or set SHOPMESH_API_PORT to a free port"
      fi
      local stages; stages="$(write_stages)"
      local pki="$KWOK_WORKDIR/clusters/$CLUSTER_NAME/pki"
      log "creating KWOK cluster '$CLUSTER_NAME' (kube-apiserver $KUBERNETES_VERSION on 127.0.0.1:$API_PORT)"
      # Beyond kwokctl's defaults: the API server advertises the host address and names it
      # in its certificate (pods reach it there), admits namespace-wide node selectors and
      # tolerations (the operator's suites pin their pods to KWOK nodes), reaches kubelets
      # and metrics-server with client certificates; the HPA controller acts within seconds
      # (20 s down-scale stabilization instead of 5 min, so a test sees a scale-in); the KWOK
      # controller manages only its own fake nodes, never the real one.
      kwokctl create cluster --name "$CLUSTER_NAME" --runtime binary \
        --kube-apiserver-port "$API_PORT" \
        --kube-apiserver-binary "$K8S_BIN/kube-apiserver" \
        --kube-controller-manager-binary "$K8S_BIN/kube-controller-manager" \
        --kube-scheduler-binary "$K8S_BIN/kube-scheduler" \
        --kwok-controller-binary "$KWOK_BIN/kwok" \
        --etcd-binary "$ETCD_BIN/etcd" \
        --kube-admission \
        --config "$stages" \
        --kubeconfig "" --timeout 3m --wait 2m >"$STATE_DIR/logs/kwokctl.log" 2>&1 \
        || { tail -20 "$STATE_DIR/logs/kwokctl.log" >&2
             die "kwokctl could not create the cluster; full log: $STATE_DIR/logs/kwokctl.log; component logs: KWOK_WORKDIR=$KWOK_WORKDIR kwokctl logs kube-apiserver --name $CLUSTER_NAME"; }
    fi
  fi
  kwokctl get kubeconfig --name "$CLUSTER_NAME" > "$KUBECONFIG_PATH.tmp" && mv "$KUBECONFIG_PATH.tmp" "$KUBECONFIG_PATH"
  local have; have="$(kubectl get nodes -l type=kwok -o name 2>/dev/null | wc -l)"
  if [ "$have" -lt "$NODES" ]; then
    log "scaling fake nodes to $NODES"
    # KWOK's default node takes 110 pods and 32 CPUs; the scale benchmark needs thousands.
    kwokctl scale node --name "$CLUSTER_NAME" --replicas "$NODES" \
      --param ".allocatable.pods=$PODS_PER_NODE" --param ".allocatable.cpu=$PODS_PER_NODE" \
      >>"$STATE_DIR/logs/kwokctl.log" 2>&1 \
      || die "could not create the fake nodes; see $STATE_DIR/logs/kwokctl.log"
  fi
  # Fake nodes run nothing: real workloads must never land there. Scale tests and the
  # operator's KWOK suites tolerate the taint (namespace default tolerations).
  kubectl taint nodes -l type=kwok "$KWOK_TAINT" --overwrite >/dev/null
  bash "$CLUSTER_DIR/node.sh" up
}

up_kind() {
  build_kind
  if ! "$KIND_BIN/kind" get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
    log "creating kind cluster '$CLUSTER_NAME'"
    "$KIND_BIN/kind" create cluster --name "$CLUSTER_NAME" --config "$REPO_ROOT/ci/kind/cluster.yaml" \
      --image "kindest/node:$KUBERNETES_VERSION" --kubeconfig "$KUBECONFIG_PATH" --wait 3m
  else
    "$KIND_BIN/kind" get kubeconfig --name "$CLUSTER_NAME" > "$KUBECONFIG_PATH"
    log "kind cluster '$CLUSTER_NAME' is already up"
  fi
}

build_kind() {
  command -v docker >/dev/null && docker info >/dev/null 2>&1 \
    || die "CLUSTER=kind needs a running Docker engine; use the default CLUSTER=kwok here"
  if [ ! -x "$KIND_BIN/kind" ]; then
    log "building kind $KIND_VERSION"
    GOBIN="$KIND_BIN" CGO_ENABLED=0 go install "sigs.k8s.io/kind@$KIND_VERSION"
  fi
}

install_crds() {
  local crds; crds="$(bash "$CLUSTER_DIR/fetch-crds.sh")"
  log "installing CRDs: Istio $ISTIO_API_VERSION, Prometheus Operator $PROMETHEUS_OPERATOR_VERSION, ShopMesh"
  kubectl apply --server-side --force-conflicts --field-manager=shopmesh-cluster -f "$crds" -f "$SHOPMESH_CRDS" 2>&1 >/dev/null \
    | { grep -v 'unrecognized format' || true; }
  kubectl wait --for=condition=Established --timeout=60s crd --all >/dev/null
}

cmd_up() {
  mkdir -p "$STATE_DIR/logs"
  bash "$CLUSTER_DIR/build-binaries.sh"
  case "$CLUSTER" in
    kwok) up_kwok ;;
    kind) up_kind ;;
    *) die "unknown CLUSTER=$CLUSTER (use kwok or kind)" ;;
  esac
  install_crds
  kubectl wait --for=condition=Ready node --all --timeout=120s >/dev/null \
    || die "nodes did not become Ready; see: kubectl get nodes"
  log "cluster ready: $(kubectl get nodes --no-headers | wc -l) nodes; KUBECONFIG=$KUBECONFIG_PATH"
}

cmd_down() {
  case "$CLUSTER" in
    kwok)
      bash "$CLUSTER_DIR/node.sh" down
      if [ -x "$KWOK_BIN/kwokctl" ] && kwok_cluster_exists; then
        kwokctl delete cluster --name "$CLUSTER_NAME" >/dev/null && log "cluster '$CLUSTER_NAME' deleted"
      else
        log "no cluster '$CLUSTER_NAME' to delete"
      fi ;;
    kind) "$KIND_BIN/kind" delete cluster --name "$CLUSTER_NAME" ;;
  esac
  rm -f "$KUBECONFIG_PATH"
}

cmd_status() {
  if ! api_healthy; then
    echo "cluster '$CLUSTER_NAME' ($CLUSTER): DOWN (run: make cluster-up)"; exit 1
  fi
  echo "cluster '$CLUSTER_NAME' ($CLUSTER): UP"
  echo "  KUBECONFIG=$KUBECONFIG_PATH"
  echo "  server:    $(kubectl version -o json | sed -n 's/.*"gitVersion": "\(.*\)",/\1/p' | tail -1)"
  echo "  nodes:     $(kubectl get nodes --no-headers | awk '{print $1"="$2}' | tr '\n' ' ')"
  echo "  CRDs:      $(kubectl get crd --no-headers | wc -l) installed ($(kubectl get crd -o name | grep -c 'istio.io') Istio, $(kubectl get crd -o name | grep -c 'monitoring.coreos.com') Prometheus Operator, $(kubectl get crd -o name | grep -c 'shopmesh.io') ShopMesh)"
  echo "  msvc:      $(kubectl get msvc -A --no-headers 2>/dev/null | wc -l) Microservices"
  if [ "$CLUSTER" = kwok ]; then
    echo "  real node: $NODE_NAME ($HOST_ADDR)"
    bash "$CLUSTER_DIR/node.sh" status
    echo "  pods on the real node:"
    kubectl get pods -A --field-selector "spec.nodeName=$NODE_NAME" --no-headers \
      -o custom-columns='NS:.metadata.namespace,NAME:.metadata.name,READY:.status.containerStatuses[*].ready,PHASE:.status.phase' \
      | sed 's/^/    /'
    echo "  memory at rest (resident):"
    bash "$CLUSTER_DIR/node.sh" memory
  fi
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) die "usage: cluster.sh up|down|status  (CLUSTER=kwok|kind)" ;;
esac
