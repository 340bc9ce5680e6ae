#!/usr/bin/env bash
# Runs the operator from the working tree against the local cluster:
#   operator.sh run     in the foreground (make operator)
#   operator.sh start   in the background, log in .shopmesh/logs/operator.log (make demo)
#   operator.sh stop    stops the background one (make operator-stop; make e2e does it first)
source "$(dirname "${BASH_SOURCE[0]}")/cluster/lib.sh"
export KUBECONFIG="$KUBECONFIG_PATH"
PID_FILE="$STATE_DIR/operator.pid"
LOG_FILE="$STATE_DIR/logs/operator.log"
PYTHON="$REPO_ROOT/.venv/bin/python"

running() { [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

[ -x "$PYTHON" ] || die "the Python environment is missing; run: make setup"
case "${1:-}" in
  run)
    [ -f "$KUBECONFIG" ] || die "no local cluster; run: make cluster-up"
    ! running || die "a background operator is running (pid $(cat "$PID_FILE")); stop it first: make operator-stop"
    exec "$PYTHON" -m shopmesh_operator ;;
  start)
    [ -f "$KUBECONFIG" ] || die "no local cluster; run: make cluster-up"
    if running; then log "operator already running (pid $(cat "$PID_FILE"))"; exit 0; fi
    mkdir -p "$(dirname "$LOG_FILE")"
    nohup "$PYTHON" -m shopmesh_operator >>"$LOG_FILE" 2>&1 &
    echo $! > "$PID_FILE"
    sleep 1
    running || die "the operator exited at once; see $LOG_FILE"
    log "operator running in the background (pid $(cat "$PID_FILE"), log $LOG_FILE)" ;;
  stop)
    if running; then
      kill "$(cat "$PID_FILE")"
      for _ in $(seq 50); do running || break; sleep 0.2; done
      log "operator stopped"
    fi
    rm -f "$PID_FILE" ;;
  *) die "usage: operator.sh run|start|stop" ;;
esac
