#!/usr/bin/env bash
# The local stack's Prometheus: `prometheus.sh up|down|status`, called by ci/stack/stack.sh
# and, after the real node starts, by ci/cluster/node.sh. When the local cluster exists it
# is Prometheus 3 built from its pinned Go module by ci/cluster/build-binaries.sh (`make
# tools`, or here on first use) into $PROMETHEUS_BIN: only the file, HTTP and Kubernetes
# service discoveries and no web UI (the HTTP API answers, the UI pages do not); otherwise
# Debian's prometheus package (2.42, no Kubernetes SD; see PROM_BIN below). Debian's own
# service and /etc/prometheus stay unused. A plain process on 127.0.0.1:19090, no systemd:
#   - configuration: ci/stack/prometheus.yml, written with this checkout's paths to
#     .shopmesh/stack/prometheus/prometheus.yml; scrapes every 2 s;
#   - targets: .shopmesh/stack/prometheus-targets/*.json (file_sd, re-read within 2 s):
#     ci/stack/shop.sh and the shop tests register their processes by writing a file there;
#   - when the local cluster exists (its kubeconfig and PKI): the pods on its real node,
#     found through Kubernetes service discovery (prom_kubernetes_jobs below);
#   - rules: manifests/prometheus/rules/shop.rules.yaml, the shop's alerts (proves they load);
#   - data: .shopmesh/stack/prometheus/data-<major version> (2 days), log: .shopmesh/stack/logs/prometheus.log.
#   up       start it, or, when it runs, rewrite the configuration and reload it (SIGHUP)
#   down     stop it (the data stays; stack.sh down --purge deletes it with the stack)
#   status   one line like stack.sh status's; exit 1 if it does not answer
# Also on the host address pods reach ($HOST_ADDR, when it exists), for the operator's
# canary analysis (SHOPMESH_PROMETHEUS_URL, the chart's analysis.prometheusUrl).
# Port: SHOPMESH_PROMETHEUS_PORT (19090). Binary: SHOPMESH_PROMETHEUS_BIN (another
# Prometheus, promtool beside it; with one built without Kubernetes service discovery,
# such as Debian's, also SHOPMESH_PROMETHEUS_K8S_SD=0, which leaves the Kubernetes jobs out).
source "$(dirname "${BASH_SOURCE[0]}")/../cluster/lib.sh"

STACK_DIR="$STATE_DIR/stack"
PROM_PORT="${SHOPMESH_PROMETHEUS_PORT:-19090}"
# Which Prometheus: the one built from its module (3.16, with Kubernetes service discovery)
# when the local cluster exists, since its pods are found that way; Debian's (2.42, no
# Kubernetes SD) for the loopback stack alone, whose file_sd targets need nothing more.
# Measured 2026-12-03 on this 2-core machine: the integration suite passed with Debian's
# and twice lost requests under load with 3.16 beside it (cause not found yet), so 3.16
# runs only where it is needed. cluster-up calls `prometheus.sh up`, which switches.
cluster_exists() { [ -f "$KUBECONFIG_PATH" ] && [ -f "$KWOK_WORKDIR/clusters/$CLUSTER_NAME/pki/admin.crt" ]; }
if [ -n "${SHOPMESH_PROMETHEUS_BIN:-}" ]; then
  PROM_BIN="$SHOPMESH_PROMETHEUS_BIN"
elif cluster_exists; then
  PROM_BIN="$PROMETHEUS_BIN/prometheus"
else
  PROM_BIN=/usr/bin/prometheus
fi
if [ "$PROM_BIN" = /usr/bin/prometheus ]; then
  PROM_K8S_SD="${SHOPMESH_PROMETHEUS_K8S_SD:-0}"
else
  PROM_K8S_SD="${SHOPMESH_PROMETHEUS_K8S_SD:-1}"
fi
PROM_DIR="$STACK_DIR/prometheus"
PROM_CONFIG="$PROM_DIR/prometheus.yml"
# One data directory per binary: 2.42 cannot be trusted to read what 3.16 wrote.
prom_data() {
  echo "$PROM_DIR/data-$("$PROM_BIN" --version 2>/dev/null | sed -n 's/^prometheus, version \([0-9]*\).*/\1/p' | head -1)"
}
PROM_TARGETS="$STACK_DIR/prometheus-targets"
PROM_RULES="$REPO_ROOT/manifests/prometheus/rules/shop.rules.yaml"
PROM_PID="$STACK_DIR/run/prometheus.pid"
PROM_LOG="$STACK_DIR/logs/prometheus.log"
PROM_URL="http://127.0.0.1:$PROM_PORT"

prom_pid() {
  local pid
  [ -s "$PROM_PID" ] || return 1
  pid="$(tr -dc 0-9 < "$PROM_PID")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

prom_ready() { curl -fs -o /dev/null --max-time 2 "$PROM_URL/-/ready"; }

# prom_write_config: the configuration with this checkout's paths, checked by promtool
# (which also loads the rules) before Prometheus sees it.
prom_write_config() {
  mkdir -p "$(prom_data)" "$PROM_TARGETS" "$(dirname "$PROM_PID")" "$(dirname "$PROM_LOG")"
  sed -e "s|@RULES_FILE@|$PROM_RULES|" -e "s|@TARGETS_DIR@|$PROM_TARGETS|" \
    -e "s|@LISTEN_ADDRESS@|127.0.0.1:$PROM_PORT|" "$REPO_ROOT/ci/stack/prometheus.yml" > "$PROM_CONFIG.new"
  [ "$PROM_K8S_SD" = 0 ] || prom_kubernetes_jobs >> "$PROM_CONFIG.new"
  local promtool
  promtool="$(dirname "$PROM_BIN")/promtool"
  if [ -x "$promtool" ] && ! "$promtool" check config "$PROM_CONFIG.new" > "$PROM_DIR/check.log" 2>&1; then
    cat "$PROM_DIR/check.log" >&2
    ! grep -q 'field kubernetes_sd_configs not found' "$PROM_DIR/check.log" \
      || die "$PROM_BIN has no Kubernetes service discovery: unset SHOPMESH_PROMETHEUS_BIN, or set SHOPMESH_PROMETHEUS_K8S_SD=0"
    die "the Prometheus configuration or the alert rules do not load ($PROM_RULES)"
  fi
  mv "$PROM_CONFIG.new" "$PROM_CONFIG"
}

# prom_kubernetes_jobs: when the local cluster exists (its kubeconfig and PKI), two scrape
# jobs that find pods through Kubernetes service discovery against its API server (through
# the kubeconfig kubectl uses, so whatever port the cluster was started on) and keep only
# the running pods on the real node ($NODE_NAME): the host reaches their IPs directly
# (ci/cluster/node.sh); pods on KWOK's fake nodes have addresses nothing answers on.
#   kubernetes-pods    every Microservice's pods (label app.kubernetes.io/managed-by=
#                      shopmesh-operator), container port `http` (the one the operator
#                      renders and its ServiceMonitor scrapes), /metrics;
#   kubernetes-addons  kube-system's pods: CoreDNS (port `metrics`, 9153) and metrics-server
#                      (port `https`, 10250: the cluster's admin certificate authenticates;
#                      its serving certificate is self-signed, so it is not verified).
# Series carry namespace, pod and service (the pod's app.kubernetes.io/name; k8s-app for
# the add-ons). honor_labels: every shop service labels its own metrics with `service`,
# the same value as its pods' app.kubernetes.io/name, so that value stays `service`
# (instead of turning into exported_service); series without one (process_*, python_*)
# get the pod's. ci/cluster/node.sh calls `prometheus.sh up` after the node starts, so a
# stack started before the cluster picks the jobs up; while the cluster is down they find
# nothing and Prometheus' log says why.
prom_kubernetes_jobs() {
  local pki="$KWOK_WORKDIR/clusters/$CLUSTER_NAME/pki"
  [ -f "$KUBECONFIG_PATH" ] && [ -f "$pki/admin.crt" ] && [ -f "$pki/admin.key" ] || return 0
  # A copy of the credentials under a name keyed by their content: a cluster created again
  # has new certificates, and only a changed configuration makes a reload restart the
  # discovery (same paths would keep the old CA and fail with "certificate signed by unknown
  # authority").
  local sum creds
  sum="$(cat "$KUBECONFIG_PATH" "$pki/admin.crt" "$pki/admin.key" | sha256sum | cut -c1-12)"
  creds="$PROM_DIR/cluster-$sum"
  if [ ! -d "$creds" ]; then
    rm -rf "$PROM_DIR"/cluster-*
    mkdir -p "$creds.tmp" && chmod 700 "$creds.tmp"
    cp "$KUBECONFIG_PATH" "$creds.tmp/kubeconfig.yaml"
    cp "$pki/admin.crt" "$pki/admin.key" "$creds.tmp/"
    mv "$creds.tmp" "$creds"
  fi
  # Both jobs keep only running pods on the real node (KWOK's pods have addresses nothing answers on).
  local running_on_the_node
  running_on_the_node="$(cat <<EOF
      - source_labels: [__meta_kubernetes_pod_node_name]
        regex: '$NODE_NAME'
        action: keep
      - source_labels: [__meta_kubernetes_pod_phase]
        regex: Running
        action: keep
EOF
)"
  cat <<EOF
  - job_name: kubernetes-pods
    honor_labels: true
    kubernetes_sd_configs:
      - role: pod
        kubeconfig_file: '$creds/kubeconfig.yaml'
    relabel_configs:
$running_on_the_node
      - source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_managed_by]
        regex: shopmesh-operator
        action: keep
      - source_labels: [__meta_kubernetes_pod_container_port_name]
        regex: http
        action: keep
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
      - source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_name]
        target_label: service
      - source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_version]
        target_label: version
  - job_name: kubernetes-addons
    kubernetes_sd_configs:
      - role: pod
        kubeconfig_file: '$creds/kubeconfig.yaml'
        namespaces: {names: [kube-system]}
    tls_config: {cert_file: '$creds/admin.crt', key_file: '$creds/admin.key', insecure_skip_verify: true}
    relabel_configs:
$running_on_the_node
      - source_labels: [__meta_kubernetes_pod_container_port_name]
        regex: metrics|https
        action: keep
      - source_labels: [__meta_kubernetes_pod_container_port_name]
        regex: https
        target_label: __scheme__
        replacement: https
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
      - source_labels: [__meta_kubernetes_pod_label_k8s_app]
        target_label: service
EOF
}

# Pods on the real node (the operator's canary analysis) reach Prometheus at the host
# address, when that address exists (ci/cluster/node.sh host-address, made by stack.sh as
# root). Only the built Prometheus listens there: Debian's 2.42 takes one
# --web.listen-address and refuses to start with two, and it runs only without a cluster.
prom_host_listen() {
  [ "$PROM_BIN" != /usr/bin/prometheus ] || return 0
  command -v ip >/dev/null || return 0
  if [[ "$(ip -4 -o addr show 2>/dev/null)" == *" $HOST_ADDR/"* ]]; then
    echo "$HOST_ADDR:$PROM_PORT"
  fi
}

prom_up() {
  if [ ! -x "$PROM_BIN" ]; then
    [ -z "${SHOPMESH_PROMETHEUS_BIN:-}" ] \
      || die "SHOPMESH_PROMETHEUS_BIN=$PROM_BIN is not an executable; unset it to use the one built from the pinned module"
    log "Prometheus is not built yet: building it from its Go module $PROMETHEUS_VERSION (about 10 minutes the first time; make tools does it too)"
    bash "$CLUSTER_DIR/build-binaries.sh" prometheus || die "could not build Prometheus; see the messages above"
    [ -x "$PROM_BIN" ] || die "Prometheus is not built ($PROM_BIN); run: make tools"
  fi
  prom_write_config
  local pid i exe
  # One started from another binary (Debian's, before this one was built) cannot load
  # this configuration: restart it rather than reload it.
  if pid="$(prom_pid)" && exe="$(readlink "/proc/$pid/exe")" && [ "$exe" != "$(readlink -f "$PROM_BIN")" ]; then
    log "Prometheus (pid $pid) runs $exe, not $PROM_BIN: restarting it"
    prom_down
    pid=""
  fi
  local HOST_LISTEN
  HOST_LISTEN="$(prom_host_listen)"
  # One started before the host address existed does not listen there: restart it.
  if [ -n "$HOST_LISTEN" ] && pid="$(prom_pid)" && ! (exec 3<>"/dev/tcp/${HOST_LISTEN/://}") 2>/dev/null; then
    log "Prometheus (pid $pid) does not listen on $HOST_LISTEN yet: restarting it"
    prom_down
    pid=""
  fi
  if pid="$(prom_pid)" && prom_ready; then
    kill -HUP "$pid"
    log "Prometheus is already running on 127.0.0.1:$PROM_PORT; configuration and rules reloaded"
    return 0
  fi
  if [ -n "${pid:-}" ]; then
    log "Prometheus (pid $pid) does not answer: restarting it"
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PROM_PID"
  if (exec 3<>"/dev/tcp/127.0.0.1/$PROM_PORT") 2>/dev/null; then
    die "port $PROM_PORT (for Prometheus) is already taken by another process; stop it or set SHOPMESH_PROMETHEUS_PORT to a free port"
  fi
  log "starting Prometheus on 127.0.0.1:$PROM_PORT${HOST_LISTEN:+ and $HOST_LISTEN} (targets: $PROM_TARGETS/*.json)"
  (cd "$PROM_DIR" && exec setsid nohup "$PROM_BIN" \
    --config.file="$PROM_CONFIG" \
    --storage.tsdb.path="$(prom_data)" \
    --storage.tsdb.retention.time=2d \
    --web.listen-address="127.0.0.1:$PROM_PORT" \
    ${HOST_LISTEN:+--web.listen-address="$HOST_LISTEN"} \
    >>"$PROM_LOG" 2>&1 </dev/null) &
  echo $! > "$PROM_PID"
  for ((i = 0; i < 300; i++)); do
    prom_ready && return 0
    prom_pid >/dev/null || break
    sleep 0.2
  done
  tail -n 20 "$PROM_LOG" >&2
  die "Prometheus did not become ready on 127.0.0.1:$PROM_PORT; full log: $PROM_LOG"
}

prom_down() {
  local pid i
  pid="$(prom_pid)" || { rm -f "$PROM_PID"; return 0; }
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "Prometheus (pid $pid) did not stop in 30s: killing it"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$PROM_PID"
  log "Prometheus stopped"
}

prom_status() {
  local state=down files
  prom_pid >/dev/null && prom_ready && state=up
  files=("$PROM_TARGETS"/*.json)
  [ -e "${files[0]}" ] || files=()
  local pods=""
  ! grep -q '^  - job_name: kubernetes-pods$' "$PROM_CONFIG" 2>/dev/null || pods=" and the pods on $NODE_NAME"
  printf '%-10s %-5s 127.0.0.1:%-6s %s\n' prometheus "$state" "$PROM_PORT" \
    "scrapes $PROM_TARGETS/*.json (${#files[@]} files)$pods every 2s; rules: manifests/prometheus/rules"
  [ "$state" = up ]
}

case "${1:-}" in
  up) prom_up ;;
  down) prom_down ;;
  status) prom_status ;;
  *) die "usage: prometheus.sh up|down|status" ;;
esac
