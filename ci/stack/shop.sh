#!/usr/bin/env bash
# The shop's six services as local processes on the stack: `shop.sh up|down|status`.
# Each service is `uvicorn --factory shopmesh_<name>.main:create_app` on 127.0.0.1 with its
# port from services/README.md (users 8101 ... order-history 8106) and its own database on
# the stack's PostgreSQL; logs and pid files under .shopmesh/shop/. Needs `make stack-up`.
# Used by `make shop-up` / `make shop-down` and the demo (ci/stack/shop_demo.py).
source "$(dirname "${BASH_SOURCE[0]}")/../cluster/lib.sh"

SHOP_DIR="$STATE_DIR/shop"
PYTHON="$REPO_ROOT/.venv/bin/python"
SERVICES=(users:8101 orders:8102 inventory:8103 payments:8104 notifications:8105 order-history:8106)

service_env() {
  eval "$(bash "$REPO_ROOT/ci/stack/stack.sh" env)"
  export SHOPMESH_INVENTORY_URL=http://127.0.0.1:8103 SHOPMESH_PAYMENTS_URL=http://127.0.0.1:8104 \
    SHOPMESH_USERS_URL=http://127.0.0.1:8101
}

healthy() { curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$1/health/ready"; }

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
    setsid nohup "$PYTHON" -m uvicorn --factory "shopmesh_${name//-/_}.main:create_app" \
      --host 127.0.0.1 --port "$port" >"$SHOP_DIR/logs/$name.log" 2>&1 &
    echo $! >"$pidfile"
  done
  for entry in "${SERVICES[@]}"; do
    name="${entry%%:*}"; port="${entry##*:}"
    for _ in $(seq 1 150); do healthy "$port" && break; sleep 0.2; done
    healthy "$port" || die "$name did not become ready; see $SHOP_DIR/logs/$name.log"
  done
  log "the shop is up (logs in $SHOP_DIR/logs)"
}

cmd_down() {
  local entry name pidfile
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
