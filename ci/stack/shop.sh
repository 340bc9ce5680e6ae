#!/usr/bin/env bash
# The shop's services and its gateway as local processes on the stack: `shop.sh up|down|status`.
# Each service is `uvicorn --factory <package>.main:create_app` on 127.0.0.1 with its own
# database on the stack's PostgreSQL (the gateway creates `gateway` itself if missing); its
# package, port (gateway 8100, users 8101 ... order-history 8106), upstream URLs and allowed
# callers come from charts/shopmesh/topology.yaml through `python -m ci.topology`.
# Logs and pid files under .shopmesh/shop/. Needs `make stack-up`.
# Used by `make shop-up` / `make shop-down` and the demo (ci/stack/shop_demo.py).
# Internal endpoints need a service token (shopmesh_common.service_auth): the shared secret is
# made once in .shopmesh/shop/service-token-secret (mode 600); mint one for curl with
#   .venv/bin/python -m shopmesh_common.service_auth --secret-file .shopmesh/shop/service-token-secret --caller admin --audience inventory
source "$(dirname "${BASH_SOURCE[0]}")/../cluster/lib.sh"

SHOP_DIR="$STATE_DIR/shop"
PYTHON="$REPO_ROOT/.venv/bin/python"

topology() { (cd "$REPO_ROOT" && "$PYTHON" -m ci.topology "$@"); }

# "name port package" of every service, each after the ones it calls.
SERVICES=()
load_services() {
  local lines
  lines="$(topology local-services)" || die "cannot read charts/shopmesh/topology.yaml (make python?)"
  mapfile -t SERVICES <<<"$lines"
}

service_env() {
  eval "$(bash "$REPO_ROOT/ci/stack/stack.sh" env)"
  ensure_service_token_secret
  SHOPMESH_SERVICE_TOKEN_SECRET="$(cat "$SHOP_DIR/service-token-secret")"
  export SHOPMESH_SERVICE_TOKEN_SECRET
}

# One secret signs every service token (shopmesh_common.service_auth): made once, mode 600.
ensure_service_token_secret() {
  local file="$SHOP_DIR/service-token-secret"
  if [ ! -s "$file" ]; then
    (umask 077 && "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(48))' >"$file.tmp")
    mv "$file.tmp" "$file"
  fi
  chmod 600 "$file"
}

healthy() { curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$1/health/ready"; }

# The stack's Prometheus scrapes what is listed in its targets directory (ci/stack/prometheus.sh).
PROM_TARGETS_FILE="$STATE_DIR/stack/prometheus-targets/shop-local.json"
register_targets() {
  local entry name port groups=()
  for entry in "${SERVICES[@]}"; do
    read -r name port _ <<<"$entry"
    groups+=("{\"targets\": [\"127.0.0.1:$port\"], \"labels\": {\"shop\": \"local\", \"process\": \"$name\"}}")
  done
  mkdir -p "$(dirname "$PROM_TARGETS_FILE")"
  (IFS=,; echo "[${groups[*]}]") >"$PROM_TARGETS_FILE.tmp" && mv "$PROM_TARGETS_FILE.tmp" "$PROM_TARGETS_FILE"
}

cmd_up() {
  bash "$REPO_ROOT/ci/stack/stack.sh" status >/dev/null || die "the stack is not up: run make stack-up"
  mkdir -p "$SHOP_DIR/logs"
  load_services
  service_env
  local entry name port pidfile lines package
  local -a vars
  for entry in "${SERVICES[@]}"; do
    read -r name port package <<<"$entry"; pidfile="$SHOP_DIR/$name.pid"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then continue; fi
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && die "port $port (for $name) is taken"
    # Its upstreams' URLs, SHOPMESH_REQUIRE_SERVICE_TOKEN and SHOPMESH_ALLOWED_CALLERS.
    lines="$(topology local-env "$name")" || die "no local environment for $name"
    mapfile -t vars <<<"$lines"
    log "starting $name on 127.0.0.1:$port"
    env "${vars[@]}" setsid nohup "$PYTHON" -m uvicorn --factory "$package.main:create_app" \
      --host 127.0.0.1 --port "$port" >"$SHOP_DIR/logs/$name.log" 2>&1 &
    echo $! >"$pidfile"
  done
  for entry in "${SERVICES[@]}"; do
    read -r name port _ <<<"$entry"
    for _ in $(seq 1 150); do healthy "$port" && break; sleep 0.2; done
    healthy "$port" || die "$name did not become ready; see $SHOP_DIR/logs/$name.log"
  done
  register_targets
  log "the shop is up (logs in $SHOP_DIR/logs)"
}

# Every pid file, not the topology's list: stopping works without the venv, and stops a
# service that left the topology since it was started.
cmd_down() {
  local pidfile
  rm -f "$PROM_TARGETS_FILE"
  for pidfile in "$SHOP_DIR"/*.pid; do
    [ -f "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

cmd_status() {
  local entry name port rc=0
  load_services
  for entry in "${SERVICES[@]}"; do
    read -r name port _ <<<"$entry"
    if healthy "$port"; then printf '%-14s up    http://127.0.0.1:%s\n' "$name" "$port"
    else printf '%-14s down  http://127.0.0.1:%s\n' "$name" "$port"; rc=1; fi
  done
  return $rc
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) die "usage: $0 up|down|status" ;;
esac
