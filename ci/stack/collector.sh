#!/usr/bin/env bash
# The local stack's OpenTelemetry collector: Jaeger v2 (ci/stack/jaeger.yaml), a plain
# process on 127.0.0.1 like the other servers. Traces go to Jaeger's in-memory store and
# are read back through its query API; log records go to the collector's JSON log, which
# ci/stack/otel_logs.py searches by trace id.
#   OTLP gRPC 127.0.0.1:14317 (SHOPMESH_OTLP_GRPC_PORT)
#   OTLP HTTP 127.0.0.1:14318 (SHOPMESH_OTLP_HTTP_PORT): what the services export to
#   query API and UI 127.0.0.1:16686 (SHOPMESH_JAEGER_PORT), its gRPC 16685 (SHOPMESH_JAEGER_GRPC_PORT)
#   SHOPMESH_JAEGER_MAX_TRACES (default 20000) traces kept in memory, oldest dropped
# Sourced by ci/stack/stack.sh, which calls collector_up, collector_down and
# collector_status; `bash ci/stack/collector.sh up|down|status` runs one alone. The
# binary is built from the pinned Go module by ci/cluster/build-binaries.sh (`make tools`),
# or here on first use if it is missing.

if [ -z "${STACK_DIR:-}" ]; then
  source "$(dirname "${BASH_SOURCE[0]}")/../cluster/lib.sh"
  STACK_DIR="$STATE_DIR/stack"
  LOG_DIR="$STACK_DIR/logs"
  RUN_DIR="$STACK_DIR/run"
fi

OTLP_GRPC_PORT="${SHOPMESH_OTLP_GRPC_PORT:-14317}"
OTLP_HTTP_PORT="${SHOPMESH_OTLP_HTTP_PORT:-14318}"
JAEGER_PORT="${SHOPMESH_JAEGER_PORT:-16686}"
JAEGER_GRPC_PORT="${SHOPMESH_JAEGER_GRPC_PORT:-16685}"
JAEGER_MAX_TRACES="${SHOPMESH_JAEGER_MAX_TRACES:-20000}"
JAEGER_EXE="$JAEGER_BIN/jaeger"
JAEGER_CONFIG="$REPO_ROOT/ci/stack/jaeger.yaml"
JAEGER_PID="$RUN_DIR/jaeger.pid"
JAEGER_CONSOLE_LOG="$LOG_DIR/jaeger-console.log"
# The collector's own log, JSON lines; the debug exporter writes the log records here.
OTEL_LOG_FILE="$LOG_DIR/otel-collector.jsonl"
# On `up`, a log past this size is moved to <file>.1 (one generation kept).
OTEL_LOG_MAX_BYTES=$((256 * 1024 * 1024))

# collector_http_ok: the query API answers 200 (so storage and the HTTP server are up).
collector_http_ok() {
  local line
  line="$( (exec 3<>"/dev/tcp/127.0.0.1/$JAEGER_PORT" \
    && printf 'GET /api/services HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 \
    && read -r -t 3 l <&3 && echo "$l") 2>/dev/null)" || true
  [[ "$line" == "HTTP/1."?" 200"* ]]
}

collector_ready() { collector_http_ok && (exec 3<>"/dev/tcp/127.0.0.1/$OTLP_HTTP_PORT") 2>/dev/null; }

collector_pid() {
  local pid
  [ -s "$JAEGER_PID" ] || return 1
  pid="$(head -n1 "$JAEGER_PID" | tr -dc 0-9)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

collector_up() {
  local pid i
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  if pid="$(collector_pid)"; then
    for ((i = 0; i < 50; i++)); do collector_ready && break; sleep 0.2; done
    if collector_ready; then
      log "the collector (Jaeger $JAEGER_VERSION) is already running: OTLP 127.0.0.1:$OTLP_HTTP_PORT, UI/API 127.0.0.1:$JAEGER_PORT"
      return 0
    fi
    log "the collector (pid $pid) does not answer: restarting it"
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$JAEGER_PID"
  if [ ! -x "$JAEGER_EXE" ]; then
    log "the collector is not built yet: building Jaeger $JAEGER_VERSION from its Go module"
    bash "$CLUSTER_DIR/build-binaries.sh" jaeger || die "could not build Jaeger; see the messages above"
  fi
  local port
  for port in "$OTLP_GRPC_PORT:SHOPMESH_OTLP_GRPC_PORT" "$OTLP_HTTP_PORT:SHOPMESH_OTLP_HTTP_PORT" \
    "$JAEGER_PORT:SHOPMESH_JAEGER_PORT" "$JAEGER_GRPC_PORT:SHOPMESH_JAEGER_GRPC_PORT"; do
    require_free_port "the collector" "${port%%:*}" "${port##*:}"
  done
  if [ -f "$OTEL_LOG_FILE" ] && [ "$(stat -c %s "$OTEL_LOG_FILE")" -gt "$OTEL_LOG_MAX_BYTES" ]; then
    mv -f "$OTEL_LOG_FILE" "$OTEL_LOG_FILE.1"
  fi
  log "starting the collector (Jaeger $JAEGER_VERSION): OTLP 127.0.0.1:$OTLP_GRPC_PORT (gRPC) and :$OTLP_HTTP_PORT (HTTP), UI/API http://127.0.0.1:$JAEGER_PORT"
  # OTEL_* from the caller's shell are meant for the services, not for the collector.
  (cd "$STACK_DIR" && exec setsid nohup env -u OTEL_EXPORTER_OTLP_ENDPOINT -u OTEL_SERVICE_NAME \
    SHOPMESH_OTLP_GRPC_PORT="$OTLP_GRPC_PORT" SHOPMESH_OTLP_HTTP_PORT="$OTLP_HTTP_PORT" \
    SHOPMESH_JAEGER_QUERY_PORT="$JAEGER_PORT" SHOPMESH_JAEGER_QUERY_GRPC_PORT="$JAEGER_GRPC_PORT" \
    SHOPMESH_JAEGER_MAX_TRACES="$JAEGER_MAX_TRACES" SHOPMESH_OTEL_LOG_FILE="$OTEL_LOG_FILE" \
    SHOPMESH_OTLP_POD_ENDPOINT="${POD_ADDR:-}:$OTLP_HTTP_PORT" \
    "$JAEGER_EXE" --config "$JAEGER_CONFIG" ${POD_ADDR:+--config "$REPO_ROOT/ci/stack/jaeger-pods.yaml"} \
    >>"$JAEGER_CONSOLE_LOG" 2>&1 </dev/null) &
  echo $! > "$JAEGER_PID"
  for ((i = 0; i < 150; i++)); do
    collector_ready && return 0
    collector_pid >/dev/null || break
    sleep 0.2
  done
  [ -f "$OTEL_LOG_FILE" ] && tail -n 5 "$OTEL_LOG_FILE" >&2
  fail_with_log "$JAEGER_CONSOLE_LOG" "the collector did not start (its JSON log: $OTEL_LOG_FILE)"
}

collector_down() {
  local pid i
  if pid="$(collector_pid)"; then
    kill "$pid" 2>/dev/null || true
    for ((i = 0; i < 75; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "the collector (pid $pid) did not stop in 15s: killing it"
      kill -9 "$pid" 2>/dev/null || true
    fi
    log "the collector stopped"
  fi
  rm -f "$JAEGER_PID"
}

# collector_status: one row like the other servers'; fails when it is down.
collector_status() {
  local state="down"
  collector_pid >/dev/null && collector_ready && state="up"
  printf '%-10s %-5s 127.0.0.1:%-6s %s\n' collector "$state" "$OTLP_HTTP_PORT" \
    "Jaeger $JAEGER_VERSION: OTLP gRPC :$OTLP_GRPC_PORT; UI/API http://127.0.0.1:$JAEGER_PORT; logs $OTEL_LOG_FILE"
  [ "$state" = up ]
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  # Run alone: the helpers it shares with stack.sh.
  port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
  require_free_port() {
    port_open "$2" || return 0
    die "port $2 (for $1) is already taken by another process; stop it or set $3 to a free port"
  }
  fail_with_log() {
    [ -f "$1" ] && tail -n 20 "$1" >&2
    die "$2; full log: $1"
  }
  case "${1:-}" in
    up) collector_up ;;
    down) collector_down ;;
    status) collector_status ;;
    *) die "usage: collector.sh up|down|status" ;;
  esac
fi
