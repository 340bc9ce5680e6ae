#!/usr/bin/env bash
# The shop's services and its gateway as local processes on the stack: `shop.sh up|down|status`.
# Each service is `uvicorn --factory shopmesh_<name>.main:create_app` on 127.0.0.1 with its
# port from services/README.md (gateway 8100, users 8101 ... order-history 8106) and its own
# database on the stack's PostgreSQL (the gateway creates `gateway` itself if missing);
# logs and pid files under .shopmesh/shop/. Needs `make stack-up`.
# Used by `make shop-up` / `make shop-down` and the demo (ci/stack/shop_demo.py).
# Internal endpoints need a service token (shopmesh_common.service_auth): the shared secret is
# made once in .shopmesh/shop/service-token-secret (mode 600); mint one for curl with
#   .venv/bin/python -m shopmesh_common.service_auth --secret-file .shopmesh/shop/service-token-secret --caller admin --audience inventory
source "$(dirname "${BASH_SOURCE[0]}")/../cluster/lib.sh"

SHOP_DIR="$STATE_DIR/shop"
PYTHON="$REPO_ROOT/.venv/bin/python"
SERVICES=(users:8101 orders:8102 inventory:8103 payments:8104 notifications:8105 order-history:8106 gateway:8100)

service_env() {
  eval "$(bash "$REPO_ROOT/ci/stack/stack.sh" env)"
  export SHOPMESH_INVENTORY_URL=http://127.0.0.1:8103 SHOPMESH_PAYMENTS_URL=http://127.0.0.1:8104 \
    SHOPMESH_USERS_URL=http://127.0.0.1:8101 SHOPMESH_ORDERS_URL=http://127.0.0.1:8102 \
    SHOPMESH_ORDER_HISTORY_URL=http://127.0.0.1:8106
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

# Who may call each service (SHOPMESH_ALLOWED_CALLERS), as services/README.md recommends.
allowed_callers() {
  case "$1" in
    orders) echo gateway ;;
    inventory) echo orders,gateway,admin ;;
    payments) echo orders,admin ;;
    users | notifications | order-history) echo gateway,admin ;;
    *) echo "" ;;  # the gateway: public routes (SHOPMESH_REQUIRE_SERVICE_TOKEN=false)
  esac
}

healthy() { curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$1/health/ready"; }

# The stack's Prometheus scrapes what is listed in its targets directory (ci/stack/prometheus.sh).
PROM_TARGETS_FILE="$STATE_DIR/stack/prometheus-targets/shop-local.json"
register_targets() {
  local entry groups=()
  for entry in "${SERVICES[@]}"; do
    groups+=("{\"targets\": [\"127.0.0.1:${entry##*:}\"], \"labels\": {\"shop\": \"local\", \"process\": \"${entry%%:*}\"}}")
  done
  mkdir -p "$(dirname "$PROM_TARGETS_FILE")"
  (IFS=,; echo "[${groups[*]}]") >"$PROM_TARGETS_FILE.tmp" && mv "$PROM_TARGETS_FILE.tmp" "$PROM_TARGETS_FILE"
}

cmd_up() {
  bash "$REPO_ROOT/ci/stack/stack.sh" status >/dev/null || die "the stack is not up: run make stack-up"
  mkdir -p "$SHOP_DIR/logs"
  service_env
  local entry name port pidfile
  for entry in "${SERVICES[@]}"; do
    name="${entry%%:*}"; port="${entry##*:}"; pidfile="$SHOP_DIR/$name.pid"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then continue; fi
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && die "port $port (for $name) is taken"
    log "starting $name on 127.0.0.1:$port"
    SHOPMESH_ALLOWED_CALLERS="$(allowed_callers "$name")" \
      SHOPMESH_REQUIRE_SERVICE_TOKEN="$([ "$name" = gateway ] && echo false || echo true)" \
      setsid nohup "$PYTHON" -m uvicorn --factory "shopmesh_${name//-/_}.main:create_app" \
      --host 127.0.0.1 --port "$port" >"$SHOP_DIR/logs/$name.log" 2>&1 &
    echo $! >"$pidfile"
  done
  for entry in "${SERVICES[@]}"; do
    name="${entry%%:*}"; port="${entry##*:}"
    for _ in $(seq 1 150); do healthy "$port" && break; sleep 0.2; done
    healthy "$port" || die "$name did not become ready; see $SHOP_DIR/logs/$name.log"
  done
  register_targets
  log "the shop is up (logs in $SHOP_DIR/logs)"
}

cmd_down() {
  local entry name pidfile
  rm -f "$PROM_TARGETS_FILE"
  for entry in "${SERVICES[@]}"; do
    name="${entry%%:*}"; pidfile="$SHOP_DIR/$name.pid"
    [ -f "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

cmd_status() {
  local entry name port rc=0
  for entry in "${SERVICES[@]}"; do
    name="${entry%%:*}"; port="${entry##*:}"
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
