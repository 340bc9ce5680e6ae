#!/usr/bin/env bash
# The real node of the local cluster: `node.sh host-address|up|down|status|memory`.
# One kubelet with our own containerd and runc, a CNI bridge, kube-proxy (iptables mode) and
# CoreDNS plus metrics-server as pods, beside the KWOK nodes (which stay for scale tests and
# are tainted so real workloads never land there). Nothing is pulled: images are built
# locally (ci/images/build.sh and build_scratch_image below) and imported into containerd.
# The facts behind each setting: shared/notes/real-node.md.
#   host-address  create the dummy interface $HOST_IFACE with $HOST_ADDR (pods reach the host
#                 there: the API server, the local stack); cluster.sh and stack.sh call it
#   up            start what is not running (harmless twice), then apply the node add-ons
#   down          stop everything, remove the bridge, iptables rules and mounts, restore the
#                 host-wide sysctls kubelet and kube-proxy changed
#   status        one line per part; `memory` prints the resident memory of each part
# Used by ci/cluster/cluster.sh (up, down, status) and the Makefile.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PATH="$(shopmesh_path):$PATH"
export KUBECONFIG="$KUBECONFIG_PATH"

NODE_DIR="$STATE_DIR/node"
NODE_LOGS="$STATE_DIR/logs"
KUBELET_ROOT="${SHOPMESH_KUBELET_ROOT:-/var/lib/shopmesh/kubelet}"
CNI_STATE="/var/lib/shopmesh/cni"
CNI_CONF_DIR="$NODE_DIR/cni"
BRIDGE="${SHOPMESH_BRIDGE:-shopmesh-br0}"
DNS_IP="${SHOPMESH_DNS_IP:-10.96.0.10}"
PAUSE_IMAGE="docker.io/shopmesh/pause:3.10"
SYSCTL_SAVED="$NODE_DIR/sysctl.saved"
# Host-wide settings that kubelet (overcommit, panic) and kube-proxy (route_localnet) change,
# and ip_forward, which pods need: recorded before the first start, restored by `down`.
SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops net.ipv4.ip_forward
  net.ipv4.conf.all.route_localnet)

need_root() { [ "$(id -u)" = 0 ] || die "the real node needs root (kubelet, containerd, iptables)"; }
pid_of() { local f="$NODE_DIR/$1.pid"; [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"; }
ctr_() { ctr --address "$CONTAINERD_SOCK" -n k8s.io "$@"; }

cmd_host_address() {
  need_root
  if ! ip link show "$HOST_IFACE" >/dev/null 2>&1; then
    ip link add "$HOST_IFACE" type bridge || die "cannot create the interface $HOST_IFACE"
  fi
  # Read first, then match: `ip ... | grep -q` fails under pipefail when grep stops reading
  # early (SIGPIPE), and the address would then be added twice ("already assigned").
  local addrs
  addrs="$(ip -4 -o addr show dev "$HOST_IFACE")"
  [[ "$addrs" == *" $HOST_ADDR/"* ]] || ip addr add "$HOST_ADDR/32" dev "$HOST_IFACE"
  ip link set "$HOST_IFACE" up
}

save_sysctls() {
  [ -s "$SYSCTL_SAVED" ] && return 0
  local key
  for key in "${SYSCTLS[@]}"; do echo "$key=$(sysctl -n "$key")"; done >"$SYSCTL_SAVED.tmp"
  mv "$SYSCTL_SAVED.tmp" "$SYSCTL_SAVED"
}

restore_sysctls() {
  [ -s "$SYSCTL_SAVED" ] || return 0
  local line
  while IFS= read -r line; do sysctl -qw "$line" >/dev/null || log "could not restore $line"; done <"$SYSCTL_SAVED"
  rm -f "$SYSCTL_SAVED"
}

# write_if_changed <path>: stdin into <path>, only when it differs. kube-proxy exits when its
# configuration file is rewritten, even with the same content; a daemon whose file did
# change is restarted by start_daemon (CHANGED lists the files written this run).
CHANGED=()
write_if_changed() {
  local path="$1" tmp
  tmp="$(mktemp "$path.XXXXXX")"
  cat >"$tmp"
  if cmp -s "$tmp" "$path"; then rm -f "$tmp"; return 0; fi
  mv -f "$tmp" "$path"
  CHANGED+=("$path")
}

write_containerd_config() {
  mkdir -p "$NODE_DIR" "$CNI_CONF_DIR" "$CONTAINERD_ROOT" "$CONTAINERD_STATE"
  # Registry mirrors point at the discard port, which refuses: nothing is ever pulled.
  write_if_changed "$NODE_DIR/containerd.toml" <<EOF
version = 2
root = "$CONTAINERD_ROOT"
state = "$CONTAINERD_STATE"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$CONTAINERD_SOCK"
[ttrpc]
  address = "$CONTAINERD_SOCK.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "$(command -v runc)"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CNI_CONF_DIR"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
    endpoint = ["http://127.0.0.1:9"]
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."*"]
    endpoint = ["http://127.0.0.1:9"]
EOF
  # Our own CNI directory: podman writes its own network into /etc/cni/net.d.
  write_if_changed "$CNI_CONF_DIR/10-shopmesh.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "shopmesh",
  "plugins": [
    {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$CNI_STATE", "ranges": [[{"subnet": "$POD_CIDR"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}},
    {"type": "loopback"}
  ]
}
EOF
}

write_kubelet_config() {
  local pki="$KWOK_WORKDIR/clusters/$CLUSTER_NAME/pki"
  [ -f "$pki/ca.crt" ] || die "no cluster PKI in $pki; start the control plane first (cluster.sh up)"
  # kubelet and kube-proxy talk to the API server with the cluster's admin credentials
  # (a local, single-user cluster), at the address pods use too.
  sed "s#server: https://127.0.0.1:$API_PORT#server: https://$HOST_ADDR:$API_PORT#" \
    "$KUBECONFIG_PATH" | write_if_changed "$NODE_DIR/kubeconfig.yaml"
  write_if_changed "$NODE_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $HOST_ADDR
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
# cgroup v1 + a v2 "unified" mount, no systemd cgroup manager, no swap limit support here.
failCgroupV1: false
cgroupDriver: cgroupfs
failSwapOn: false
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
clusterDNS: [$DNS_IP]
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
# Locally imported images cannot be pulled again: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
imageMinimumGCAge: 8760h
evictionHard: {memory.available: 200Mi, nodefs.available: 2%, imagefs.available: 2%}
serializeImagePulls: false
maxPods: 110
podCIDR: $POD_CIDR
registerNode: true
shutdownGracePeriod: 0s
EOF
  write_if_changed "$NODE_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
clientConnection: {kubeconfig: $NODE_DIR/kubeconfig.yaml}
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
# NodePorts answer on loopback (kube-proxy sets route_localnet for it) and on the host address.
nodePortAddresses: [127.0.0.0/8, $HOST_ADDR/32]
# Leave the conntrack table size alone: this VM may not let us change it.
conntrack: {maxPerCore: 0, min: 0}
EOF
}

# start_daemon <name> <command>...: runs it in the background with a pid file and a log;
# restarts it when one of its files (a path among its arguments) was changed this run.
start_daemon() {
  local name="$1" arg changed; shift
  if pid_of "$name" >/dev/null; then
    for arg in "$@"; do
      for changed in "${CHANGED[@]}"; do
        [ "$arg" = "$changed" ] && { log "restarting $name: $changed changed"; kill_pidfile "$name"; break 2; }
      done
    done
    pid_of "$name" >/dev/null && return 0
  fi
  log "starting $name"
  setsid nohup "$@" >>"$NODE_LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$NODE_DIR/$name.pid"
}

# wait_for <what> <seconds> <command>...: polls the command until it succeeds.
wait_for() {
  local what="$1" seconds="$2" i; shift 2
  for ((i = 0; i < seconds * 4; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  die "$what did not come up in ${seconds}s; see $NODE_LOGS/"
}

# build_scratch_image <name> <binary> <args>...: an image holding one static binary, built
# with buildah from scratch and imported into containerd as docker.io/shopmesh/<name>:<tag>.
build_scratch_image() {
  local name="$1" binary="$2"; shift 2
  local ref="docker.io/shopmesh/$name:$IMAGE_VERSION_TAG"
  ctr_ images ls -q | grep -qx "$ref" && return 0
  log "building image $ref from $binary"
  local ctr_id args_json="" a tar="$NODE_DIR/$name.oci.tar"
  for a in "$@"; do args_json+="${args_json:+,}\"$a\""; done
  ctr_id="$(buildah from scratch)"
  buildah copy --quiet "$ctr_id" "$binary" "/$name" >/dev/null
  buildah config --entrypoint "[\"/$name\"]" --cmd "[$args_json]" --user 65532:65532 "$ctr_id"
  buildah commit --quiet --rm "$ctr_id" "$ref" >/dev/null
  rm -f "$tar"
  buildah push --quiet "$ref" "oci-archive:$tar:$ref" >/dev/null
  ctr_ images import --no-unpack=false "$tar" >/dev/null
  rm -f "$tar"
}

apply_addons() {
  IMAGE_VERSION_TAG="$COREDNS_VERSION" build_scratch_image coredns "$COREDNS_BIN/coredns"
  IMAGE_VERSION_TAG="$METRICS_SERVER_VERSION" build_scratch_image metrics-server "$METRICS_SERVER_BIN/metrics-server"
  sed -e "s#@DNS_IP@#$DNS_IP#g" -e "s#@COREDNS_VERSION@#$COREDNS_VERSION#g" \
    -e "s#@METRICS_SERVER_VERSION@#$METRICS_SERVER_VERSION#g" \
    "$CLUSTER_DIR/node-addons.yaml" \
    | kubectl apply --server-side --force-conflicts --field-manager=shopmesh-cluster -f - >/dev/null
}

cmd_up() {
  need_root
  for tool in containerd runc iptables conntrack buildah; do
    command -v "$tool" >/dev/null || die "$tool is missing; run: make setup"
  done
  mkdir -p "$NODE_DIR" "$NODE_LOGS" "$KUBELET_ROOT" "$CNI_STATE"
  cmd_host_address
  save_sysctls
  sysctl -qw net.ipv4.ip_forward=1
  modprobe br_netfilter 2>/dev/null || true
  write_containerd_config
  start_daemon containerd containerd --config "$NODE_DIR/containerd.toml"
  wait_for containerd 30 ctr --address "$CONTAINERD_SOCK" version
  bash "$REPO_ROOT/ci/images/build.sh" pause
  write_kubelet_config
  start_daemon kubelet "$K8S_NODE_BIN/kubelet" --config "$NODE_DIR/kubelet.yaml" \
    --kubeconfig "$NODE_DIR/kubeconfig.yaml" --hostname-override "$NODE_NAME" \
    --node-ip "$HOST_ADDR" --root-dir "$KUBELET_ROOT" --cert-dir "$NODE_DIR/kubelet-pki" \
    --node-labels "shopmesh.io/node=real"
  start_daemon kube-proxy "$K8S_NODE_BIN/kube-proxy" --config "$NODE_DIR/kube-proxy.yaml"
  wait_for kube-proxy 30 curl -fsS --noproxy '*' http://127.0.0.1:10256/healthz
  wait_for "node $NODE_NAME" 90 kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
  apply_addons
  kubectl -n kube-system rollout status deployment/coredns --timeout=120s >/dev/null \
    || die "CoreDNS did not become ready; see: kubectl -n kube-system describe pods -l k8s-app=kube-dns"
  # A stack started before the cluster learns to scrape the pods (ci/stack/prometheus.sh).
  if bash "$REPO_ROOT/ci/stack/prometheus.sh" status >/dev/null 2>&1; then
    bash "$REPO_ROOT/ci/stack/prometheus.sh" up
  fi
  log "real node $NODE_NAME ready ($HOST_ADDR; pods in $POD_CIDR)"
}

# kill_pidfile <name> [seconds]: TERM, wait, then KILL.
kill_pidfile() {
  local pid; pid="$(pid_of "$1")" || { rm -f "$NODE_DIR/$1.pid"; return 0; }
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((${2:-15} * 5))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$NODE_DIR/$1.pid"
}

cmd_down() {
  [ "$(id -u)" = 0 ] || return 0
  kill_pidfile kubelet
  if [ -S "$CONTAINERD_SOCK" ]; then
    # Every container's shim belongs to our containerd: stop the pods' processes with it.
    local t
    for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s KILL "$t" >/dev/null 2>&1 || true; done
  fi
  pkill -9 -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK" 2>/dev/null || true
  kill_pidfile kube-proxy
  [ -x "$K8S_NODE_BIN/kube-proxy" ] && "$K8S_NODE_BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
  kill_pidfile containerd
  # Mounts left by pods (volumes, overlay rootfs, netns): deepest first.
  { grep -E " ($KUBELET_ROOT|$CONTAINERD_STATE|$CONTAINERD_ROOT)[/ ]" /proc/mounts || true; } | awk '{print $2}' \
    | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  ip link del "$BRIDGE" 2>/dev/null || true
  # The host address stays while the local stack still listens on it (make stack-down drops it).
  if ! ss -Hltn 2>/dev/null | awk '{print $4}' | grep -q "^$HOST_ADDR:"; then
    ip link del "$HOST_IFACE" 2>/dev/null || true
  fi
  # The bridge plugin's masquerade chains (CNI-*) for our pod range.
  { iptables -t nat -S POSTROUTING 2>/dev/null | grep -- "-s $POD_CIDR" || true; } | sed 's/^-A /-D /' \
    | while read -r rule; do eval "iptables -t nat $rule" 2>/dev/null || true; done
  rm -rf "$CNI_STATE" "$KUBELET_ROOT/pods" "$NODE_DIR/kubelet-pki"
  restore_sysctls
}

cmd_status() {
  local part
  for part in containerd kubelet kube-proxy; do
    if pid_of "$part" >/dev/null; then printf '  %-11s up (pid %s)\n' "$part" "$(pid_of "$part")"
    else printf '  %-11s down\n' "$part"; fi
  done
}

# memory: resident memory (MB) of the control plane, the node and the pods on it.
cmd_memory() {
  rss_mb() { ps -o rss= -p "$1" 2>/dev/null | awk '{s+=$1} END {printf "%d", s/1024}'; }
  local total=0 mb name pid
  tree_mb() { # <pid>: the process and its children
    local kids; kids="$(pgrep -P "$1" | paste -sd, -)"
    ps -o rss= -p "$1${kids:+,$kids}" 2>/dev/null | awk '{s+=$1} END {printf "%d", s/1024}'
  }
  for name in etcd kube-apiserver kube-controller-manager kube-scheduler kwok-controller; do
    pid="$(pgrep -f "$KWOK_WORKDIR/clusters/$CLUSTER_NAME.*/$name |/$name .*$CLUSTER_NAME" | head -1 || true)"
    [ -n "$pid" ] || pid="$(pgrep -x "$name" | head -1 || true)"
    [ -n "$pid" ] || continue
    mb="$(rss_mb "$pid")"; total=$((total + mb)); printf '  %-24s %5s MB\n' "$name" "$mb"
  done
  for name in containerd kubelet kube-proxy; do
    pid="$(pid_of "$name")" || continue
    mb="$(rss_mb "$pid")"; total=$((total + mb)); printf '  %-24s %5s MB\n' "$name" "$mb"
  done
  local shims; shims="$(pgrep -d, -f "containerd-shim-runc-v2 .*-address $CONTAINERD_SOCK" || true)"
  if [ -n "$shims" ]; then
    # Each shim's process tree: the shim and the containers it runs.
    local kids; kids="$(for s in ${shims//,/ }; do pgrep -P "$s"; done | paste -sd, -)"
    mb="$(ps -o rss= -p "$shims${kids:+,$kids}" | awk '{s+=$1} END {printf "%d", s/1024}')"
    total=$((total + mb)); printf '  %-24s %5s MB\n' "pods (and their shims)" "$mb"
  fi
  # The local stack (ci/stack/stack.sh), when it runs: each server and its children.
  local stack_dir="$STATE_DIR/stack" pidfile
  for pidfile in "$stack_dir/postgres/data/postmaster.pid" "$stack_dir"/run/*.pid; do
    [ -s "$pidfile" ] || continue
    pid="$(head -n1 "$pidfile" | tr -dc 0-9)"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || continue
    name="$(basename "$pidfile" .pid)"; [ "$name" = postmaster ] && name=postgresql
    mb="$(tree_mb "$pid")"; total=$((total + mb)); printf '  %-24s %5s MB\n' "stack: $name" "$mb"
  done
  printf '  %-24s %5s MB\n' "total" "$total"
}

case "${1:-}" in
  host-address) cmd_host_address ;;
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  memory) cmd_memory ;;
  *) die "usage: node.sh host-address|up|down|status|memory" ;;
esac
