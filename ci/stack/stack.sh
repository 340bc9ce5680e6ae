#!/usr/bin/env bash
# The local stack of real servers for the shop's integration tests and the demo:
# `stack.sh up|down [--purge]|status|env`.
# PostgreSQL 15, Redis, RabbitMQ, an SMTP sink (ci/stack/smtp_sink.py) and the
# OpenTelemetry collector (Jaeger, ci/stack/collector.sh), each a
# plain local process on 127.0.0.1 started from Debian's packages (no systemd, no
# Docker), with data, logs and pid files under .shopmesh/stack/ in the checkout.
#   up            start what is not running; harmless twice, repairs a half-started stack
#   down          stop everything, keep the data; harmless when nothing runs
#   down --purge  stop everything and delete the data (what `make stack-down` does)
#   status        each server up or down, with its port (exit 1 if one is down)
#   env           shell exports for the stack: eval "$(bash ci/stack/stack.sh env)"
# Ports: SHOPMESH_PG_PORT, SHOPMESH_REDIS_PORT, SHOPMESH_AMQP_PORT,
# SHOPMESH_AMQP_DIST_PORT, SHOPMESH_EPMD_PORT, SHOPMESH_SMTP_PORT, and the collector's
# (SHOPMESH_OTLP_GRPC_PORT, SHOPMESH_OTLP_HTTP_PORT, SHOPMESH_JAEGER_PORT, SHOPMESH_JAEGER_GRPC_PORT).
# Used by the Makefile (stack-up, stack-down, stack-status) and tests/stack/.
source "$(dirname "${BASH_SOURCE[0]}")/../cluster/lib.sh"

STACK_DIR="$STATE_DIR/stack"
LOG_DIR="$STACK_DIR/logs"
RUN_DIR="$STACK_DIR/run"
MAIL_DIR="$STACK_DIR/mail"
PYTHON="$REPO_ROOT/.venv/bin/python"

PG_PORT="${SHOPMESH_PG_PORT:-15432}"
REDIS_PORT="${SHOPMESH_REDIS_PORT:-16379}"
AMQP_PORT="${SHOPMESH_AMQP_PORT:-16672}"
AMQP_DIST_PORT="${SHOPMESH_AMQP_DIST_PORT:-16680}"
EPMD_PORT="${SHOPMESH_EPMD_PORT:-14369}"
SMTP_PORT="${SHOPMESH_SMTP_PORT:-12525}"

PG_BIN="${SHOPMESH_PG_BIN:-/usr/lib/postgresql/15/bin}"
# pg_databases: one database per service, as charts/shopmesh/topology.yaml names them.
pg_databases() {
  (cd "$REPO_ROOT" && "$REPO_ROOT/.venv/bin/python" -m ci.topology databases) \
    || die "could not read the databases from charts/shopmesh/topology.yaml; run: make python"
}
# PostgreSQL's files live in $STACK_DIR/postgres, or, when the postgres user (we run
# as root) cannot traverse to the checkout (e.g. it sits under /root, mode 700), in
# $PG_FALLBACK_BASE/<hash of STACK_DIR>/postgres with $STACK_DIR/postgres a symlink to it.
PG_LINK="$STACK_DIR/postgres"
PG_FALLBACK_BASE=/var/lib/shopmesh-stack
PG_LOG="$LOG_DIR/postgres.log"

REDIS_DIR="$STACK_DIR/redis"
REDIS_PID="$RUN_DIR/redis.pid"
REDIS_LOG="$LOG_DIR/redis.log"

RMQ_BIN=/usr/lib/rabbitmq/bin
RMQ_DIR="$STACK_DIR/rabbitmq"
RMQ_NODE=shopmesh@localhost
RMQ_PID="$RUN_DIR/rabbitmq.pid"
RMQ_LOG="$LOG_DIR/rabbitmq.log"
RMQ_CONSOLE_LOG="$LOG_DIR/rabbitmq-console.log"
RMQ_TIMEOUT="${SHOPMESH_AMQP_START_TIMEOUT:-120}"
# The same environment for the server and for rabbitmqctl: node name, ports, and
# every file RabbitMQ would otherwise look for under /etc, /var/lib or /var/log.
# The CLI's own distribution ports default to 35672-35682 (in the ephemeral range), so they
# are moved next to the node's; Erlang distribution listens on loopback only.
RMQ_ENV=(
  HOME="$RMQ_DIR/home"
  RABBITMQ_NODENAME="$RMQ_NODE"
  RABBITMQ_DIST_PORT="$AMQP_DIST_PORT"
  ERL_EPMD_PORT="$EPMD_PORT"
  ERL_EPMD_ADDRESS=127.0.0.1
  RABBITMQ_CONF_ENV_FILE="$RMQ_DIR/rabbitmq-env.conf"
  RABBITMQ_CONFIG_FILE="$RMQ_DIR/rabbitmq.conf"
  RABBITMQ_ADVANCED_CONFIG_FILE="$RMQ_DIR/advanced.config"
  RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ_DIR/enabled_plugins"
  RABBITMQ_MNESIA_BASE="$RMQ_DIR/mnesia"
  RABBITMQ_LOG_BASE="$LOG_DIR"
  RABBITMQ_LOGS="$RMQ_LOG"
  RABBITMQ_PID_FILE="$RMQ_PID"
  RABBITMQ_CTL_DIST_PORT_MIN="$((AMQP_DIST_PORT + 1))"
  RABBITMQ_CTL_DIST_PORT_MAX="$((AMQP_DIST_PORT + 10))"
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  ERL_CRASH_DUMP="$LOG_DIR/rabbitmq-erl_crash.dump"
)

# Pods on the real node reach the stack at the host address (ci/cluster/node.sh host-address),
# so every server listens there too, besides loopback; needs root to create the address.
# Set by cmd_up; empty when the address cannot be made (not root): loopback only then.
POD_ADDR=""
resolve_pod_addr() {
  if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && bash "$CLUSTER_DIR/node.sh" host-address 2>/dev/null; then
    POD_ADDR="$HOST_ADDR"
  else
    log "not root: the stack listens on loopback only, pods on the real node cannot reach it"
  fi
}

SMTP_PID="$RUN_DIR/smtp-sink.pid"
SMTP_LOG="$LOG_DIR/smtp-sink.log"

# The OpenTelemetry collector (Jaeger): collector_up, collector_down, collector_status.
source "$(dirname "${BASH_SOURCE[0]}")/collector.sh"

# --- helpers ------------------------------------------------------------------

# pid_from <pidfile>: prints the pid in the file if that process is alive.
pid_from() {
  local pid
  [ -s "$1" ] || return 1
  pid="$(head -n1 "$1" 2>/dev/null | tr -dc 0-9)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# require_free_port <what> <port> <env var>: dies with who holds the port, if anyone.
require_free_port() {
  port_open "$2" || return 0
  local who=""
  command -v ss >/dev/null && who="$(ss -Hltnp "sport = :$2" 2>/dev/null | awk '{print $4, $6}' | head -3 | paste -sd ' ')"
  die "port $2 (for $1) is already taken by another process${who:+: $who}; stop it or set $3 to a free port"
}

# wait_gone <pid> <seconds>: waits for the process to exit; fails if it does not.
wait_gone() {
  local i
  for ((i = 0; i < $2 * 5; i++)); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.2; done
  return 1
}

# stop_pid <pid> <name> [seconds]: TERM, wait, then KILL.
stop_pid() {
  local pid="$1"
  kill "$pid" 2>/dev/null || return 0
  wait_gone "$pid" "${3:-30}" && return 0
  log "$2 (pid $pid) did not stop in ${3:-30}s: killing it"
  kill -9 "$pid" 2>/dev/null || true
}

# fail_with_log <log> <message>: shows the end of a server's log, then dies.
fail_with_log() {
  [ -f "$1" ] && tail -n 20 "$1" >&2
  die "$2; full log: $1"
}

# --- PostgreSQL ---------------------------------------------------------------

# pgx <command>...: runs a PostgreSQL program; as the postgres user when we are root
# (initdb, pg_ctl and postgres refuse to run as root).
pgx() {
  if [ "$EUID" = 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# pg_resolve: sets PG_ROOT, PG_DATA and PG_SOCK if PostgreSQL's directory exists.
pg_resolve() {
  [ -e "$PG_LINK" ] || [ -L "$PG_LINK" ] || return 1
  PG_ROOT="$(readlink -m "$PG_LINK")"
  PG_DATA="$PG_ROOT/data"
  PG_SOCK="$PG_ROOT/run"
}

# pg_prepare: creates PostgreSQL's directory (or the fallback) and checks that the
# postgres user can reach it.
pg_prepare() {
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL 15 is not installed ($PG_BIN); run: make setup (apt-get install postgresql-15)"
  if [ "$EUID" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "there is no 'postgres' user to run PostgreSQL as; reinstall postgresql-15"
  fi
  if ! pg_resolve; then
    if [ "$EUID" = 0 ] && ! runuser -u postgres -- test -x "$STACK_DIR"; then
      local fallback
      fallback="$PG_FALLBACK_BASE/$(printf '%s' "$STACK_DIR" | sha256sum | cut -c1-12)/postgres"
      log "the postgres user cannot traverse to $STACK_DIR (a parent directory is not searchable): PostgreSQL's data goes to $fallback"
      mkdir -p "$fallback" && chmod 755 "$PG_FALLBACK_BASE" "$(dirname "$fallback")"
      ln -sfn "$fallback" "$PG_LINK"
    else
      mkdir -p "$PG_LINK"
    fi
    pg_resolve
  fi
  mkdir -p "$PG_ROOT" "$PG_SOCK"
  if [ "$EUID" = 0 ]; then
    chown postgres:postgres "$PG_ROOT" "$PG_SOCK"
    runuser -u postgres -- test -w "$PG_ROOT" \
      || die "the postgres user cannot reach $PG_ROOT (a parent directory is not searchable); run 'bash ci/stack/stack.sh down --purge' to move it to $PG_FALLBACK_BASE, or make the parents searchable (chmod o+x)"
  fi
  chmod 700 "$PG_ROOT" "$PG_SOCK"
}

pg_running() {
  pg_resolve && [ -f "$PG_DATA/PG_VERSION" ] && pgx "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

pg_write_config() {
  local conf="$PG_DATA/shopmesh.conf"
  cat > "$conf" <<EOF
# Written by ci/stack/stack.sh on every 'up': the local stack's settings (tests on a
# small machine). Included from postgresql.conf.
listen_addresses = '127.0.0.1${POD_ADDR:+,$POD_ADDR}'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
unix_socket_permissions = 0700
max_connections = 300
shared_buffers = 128MB
# Real commits: the tests measure them.
fsync = on
synchronous_commit = on
password_encryption = scram-sha-256
EOF
  [ "$EUID" != 0 ] || chown postgres:postgres "$conf"
  # Pods (the shop on the real node) connect from the pod network, with a password.
  local hba="$PG_DATA/pg_hba.conf"
  grep -q "^host all all $POD_CIDR " "$hba" \
    || echo "host all all $POD_CIDR scram-sha-256" >> "$hba"
  grep -q "^include_if_exists = 'shopmesh.conf'" "$PG_DATA/postgresql.conf" \
    || echo "include_if_exists = 'shopmesh.conf'" >> "$PG_DATA/postgresql.conf"
}

pg_provision() {
  local list sql
  list="$(pg_databases | sed "s/.*/'&'/" | paste -sd, -),"
  sql="DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shopmesh') THEN CREATE ROLE shopmesh; END IF;
END \$\$;
ALTER ROLE shopmesh WITH SUPERUSER LOGIN PASSWORD 'shopmesh';
SELECT format('CREATE DATABASE %I OWNER shopmesh', d) FROM unnest(ARRAY[${list%,}]) AS d
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d) \\gexec"
  pgx "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d postgres \
    <<<"$sql" >/dev/null || die "could not create the shopmesh role and databases in PostgreSQL"
}

pg_up() {
  pg_prepare
  if pg_running; then
    log "PostgreSQL is already running on 127.0.0.1:$PG_PORT"
  else
    require_free_port PostgreSQL "$PG_PORT" SHOPMESH_PG_PORT
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
      rm -rf "$PG_DATA"   # a half-done initdb
      log "initialising PostgreSQL in $PG_DATA"
      pgx "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C --no-instructions >>"$PG_LOG" 2>&1 \
        || fail_with_log "$PG_LOG" "initdb failed"
    fi
    pg_write_config
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    # The log is opened here (as root if we are) and inherited by the server.
    pgx "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -t 60 start >>"$PG_LOG" 2>&1 \
      || fail_with_log "$PG_LOG" "PostgreSQL did not start"
  fi
  pg_provision
}

pg_down() {
  pg_running || return 0
  pgx "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -t 60 -m fast stop >>"$PG_LOG" 2>&1 \
    || die "PostgreSQL did not stop; see $PG_LOG"
  log "PostgreSQL stopped"
}

# --- Redis --------------------------------------------------------------------

redis_ping() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

redis_up() {
  command -v redis-server >/dev/null || die "redis-server is not installed; run: make setup (apt-get install redis-server)"
  local pid i
  if pid="$(pid_from "$REDIS_PID")"; then
    for ((i = 0; i < 50; i++)); do redis_ping && break; sleep 0.2; done
    if redis_ping; then log "Redis is already running on 127.0.0.1:$REDIS_PORT"; return 0; fi
    log "Redis (pid $pid) does not answer: restarting it"
    stop_pid "$pid" Redis 10
  fi
  rm -f "$REDIS_PID"
  require_free_port Redis "$REDIS_PORT" SHOPMESH_REDIS_PORT
  mkdir -p "$REDIS_DIR"
  cat > "$REDIS_DIR/redis.conf" <<EOF
# Written by ci/stack/stack.sh on every 'up'.
bind 127.0.0.1${POD_ADDR:+ $POD_ADDR}
port $REDIS_PORT
protected-mode no
daemonize yes
pidfile $REDIS_PID
logfile $REDIS_LOG
dir $REDIS_DIR
appendonly no
EOF
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  redis-server "$REDIS_DIR/redis.conf" >>"$REDIS_LOG" 2>&1 || fail_with_log "$REDIS_LOG" "Redis did not start"
  for ((i = 0; i < 100; i++)); do redis_ping && return 0; sleep 0.1; done
  fail_with_log "$REDIS_LOG" "Redis does not answer PING on 127.0.0.1:$REDIS_PORT"
}

redis_down() {
  local pid
  pid="$(pid_from "$REDIS_PID")" || return 0
  stop_pid "$pid" Redis 30
  rm -f "$REDIS_PID"
  log "Redis stopped"
}

# --- RabbitMQ -----------------------------------------------------------------

# rmq <program> <args>...: a RabbitMQ script with the node's environment. We run
# /usr/lib/rabbitmq/bin/* directly: /usr/sbin/rabbitmq-* would switch to the
# rabbitmq user and its files under /var/lib/rabbitmq.
rmq() {
  local prog="$1"; shift
  env "${RMQ_ENV[@]}" "$RMQ_BIN/$prog" "$@"
}
rmqctl() { rmq rabbitmqctl -q -n "$RMQ_NODE" "$@"; }

epmd_running() { ERL_EPMD_PORT="$EPMD_PORT" epmd -port "$EPMD_PORT" -names >/dev/null 2>&1; }

rmq_write_config() {
  mkdir -p "$RMQ_DIR/home" "$RMQ_DIR/mnesia"
  : > "$RMQ_DIR/rabbitmq-env.conf"    # instead of /etc/rabbitmq/rabbitmq-env.conf
  echo '[].' > "$RMQ_DIR/enabled_plugins"
  cat > "$RMQ_DIR/rabbitmq.conf" <<EOF
# Written by ci/stack/stack.sh on every 'up'. Node name, address and ports come
# from the environment (see RMQ_ENV there). A new node creates shopmesh, never guest.
default_user = shopmesh
default_pass = shopmesh
default_user_tags.administrator = true
default_permissions.configure = .*
default_permissions.read = .*
default_permissions.write = .*
log.console = false
log.file.level = info
listeners.tcp.1 = 127.0.0.1:$AMQP_PORT
${POD_ADDR:+listeners.tcp.2 = $POD_ADDR:$AMQP_PORT}
EOF
}

# rmq_provision: user shopmesh (administrator, all permissions on /), no guest.
rmq_provision() {
  local users
  users="$(rmqctl list_users --no-table-headers)" || die "rabbitmqctl cannot list users; see $RMQ_LOG"
  if awk '{print $1}' <<<"$users" | grep -qx shopmesh; then
    rmqctl authenticate_user shopmesh shopmesh >/dev/null 2>&1 || rmqctl change_password shopmesh shopmesh >/dev/null
  else
    rmqctl add_user shopmesh shopmesh >/dev/null
  fi
  grep -Eq '^shopmesh[[:space:]]+\[administrator\]$' <<<"$users" || rmqctl set_user_tags shopmesh administrator >/dev/null
  rmqctl list_permissions -p / --no-table-headers | grep -Eq '^shopmesh[[:space:]]+\.\*[[:space:]]+\.\*[[:space:]]+\.\*$' \
    || rmqctl set_permissions -p / shopmesh '.*' '.*' '.*' >/dev/null
  if awk '{print $1}' <<<"$users" | grep -qx guest; then
    rmqctl delete_user guest >/dev/null && log "RabbitMQ: deleted the guest user"
  fi
}

rmq_up() {
  [ -x "$RMQ_BIN/rabbitmq-server" ] || die "RabbitMQ is not installed ($RMQ_BIN); run: make setup (apt-get install rabbitmq-server)"
  command -v epmd >/dev/null || die "epmd (Erlang) is missing; reinstall rabbitmq-server"
  rmq_write_config
  local pid starter=""
  if pid="$(pid_from "$RMQ_PID")"; then
    log "RabbitMQ is already running (pid $pid); waiting for it to be ready"
  else
    rm -f "$RMQ_PID"
    require_free_port "RabbitMQ AMQP" "$AMQP_PORT" SHOPMESH_AMQP_PORT
    require_free_port "RabbitMQ's Erlang distribution" "$AMQP_DIST_PORT" SHOPMESH_AMQP_DIST_PORT
    if ! epmd_running; then
      require_free_port "RabbitMQ's epmd" "$EPMD_PORT" SHOPMESH_EPMD_PORT
      ERL_EPMD_ADDRESS=127.0.0.1 epmd -address 127.0.0.1 -port "$EPMD_PORT" -daemon \
        || die "could not start epmd on 127.0.0.1:$EPMD_PORT"
    fi
    log "starting RabbitMQ node $RMQ_NODE on 127.0.0.1:$AMQP_PORT"
    (cd "$RMQ_DIR" && exec setsid nohup env "${RMQ_ENV[@]}" "$RMQ_BIN/rabbitmq-server" >>"$RMQ_CONSOLE_LOG" 2>&1 </dev/null) &
    starter=$!
  fi
  # await_startup fails at once while the node is not registered yet: retry it.
  local deadline=$((SECONDS + RMQ_TIMEOUT)) ready=""
  while ((SECONDS < deadline)); do
    if [ -n "$starter" ] && ! kill -0 "$starter" 2>/dev/null; then
      [ -f "$RMQ_LOG" ] && tail -n 20 "$RMQ_LOG" >&2
      fail_with_log "$RMQ_CONSOLE_LOG" "RabbitMQ exited during start-up (its node log: $RMQ_LOG)"
    fi
    rmqctl await_startup --timeout 5 >/dev/null 2>&1 && { ready=1; break; }
    sleep 1
  done
  [ -n "$ready" ] || fail_with_log "$RMQ_LOG" "RabbitMQ was not ready within ${RMQ_TIMEOUT}s (console: $RMQ_CONSOLE_LOG)"
  port_open "$AMQP_PORT" || fail_with_log "$RMQ_LOG" "RabbitMQ started but does not listen on 127.0.0.1:$AMQP_PORT"
  rmq_provision
}

rmq_down() {
  local pid
  if pid="$(pid_from "$RMQ_PID")"; then
    rmqctl stop >/dev/null 2>&1 || true
    wait_gone "$pid" 60 || stop_pid "$pid" RabbitMQ 10
    log "RabbitMQ stopped"
  fi
  rm -f "$RMQ_PID"
  if epmd_running; then
    ERL_EPMD_PORT="$EPMD_PORT" epmd -port "$EPMD_PORT" -kill >/dev/null 2>&1 || log "could not stop epmd on port $EPMD_PORT (a node still registered?)"
  fi
}

# --- SMTP sink ----------------------------------------------------------------

smtp_banner() {
  local line
  line="$( (exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT" && read -r -t 3 l <&3 && echo QUIT >&3 && echo "$l") 2>/dev/null)" || true
  [[ "$line" == 220* ]]
}

smtp_up() {
  [ -x "$PYTHON" ] || die "the Python environment is missing; run: make setup"
  local pid i
  if pid="$(pid_from "$SMTP_PID")" && smtp_banner; then
    log "the SMTP sink is already running on 127.0.0.1:$SMTP_PORT"; return 0
  fi
  [ -z "${pid:-}" ] || stop_pid "$pid" "SMTP sink" 10
  rm -f "$SMTP_PID"
  require_free_port "the SMTP sink" "$SMTP_PORT" SHOPMESH_SMTP_PORT
  log "starting the SMTP sink on 127.0.0.1:$SMTP_PORT (Maildir $MAIL_DIR)"
  setsid nohup "$PYTHON" "$REPO_ROOT/ci/stack/smtp_sink.py" --host 127.0.0.1 ${POD_ADDR:+--host "$POD_ADDR"} --port "$SMTP_PORT" \
    --maildir "$MAIL_DIR" >>"$SMTP_LOG" 2>&1 </dev/null &
  echo $! > "$SMTP_PID"
  for ((i = 0; i < 100; i++)); do
    smtp_banner && return 0
    pid_from "$SMTP_PID" >/dev/null || break
    sleep 0.1
  done
  fail_with_log "$SMTP_LOG" "the SMTP sink did not start"
}

smtp_down() {
  local pid
  pid="$(pid_from "$SMTP_PID")" || { rm -f "$SMTP_PID"; return 0; }
  stop_pid "$pid" "SMTP sink" 10
  rm -f "$SMTP_PID"
  log "SMTP sink stopped"
}

# --- commands -----------------------------------------------------------------

print_env() {
  printf 'export %s=%q\n' \
    SHOPMESH_POSTGRES_URL "postgresql://shopmesh:shopmesh@127.0.0.1:$PG_PORT" \
    SHOPMESH_REDIS_URL "redis://127.0.0.1:$REDIS_PORT/0" \
    SHOPMESH_AMQP_URL "amqp://shopmesh:shopmesh@127.0.0.1:$AMQP_PORT/" \
    SHOPMESH_SMTP_HOST 127.0.0.1 \
    SHOPMESH_SMTP_PORT "$SMTP_PORT" \
    SHOPMESH_MAILDIR "$MAIL_DIR" \
    OTEL_EXPORTER_OTLP_ENDPOINT "http://127.0.0.1:$OTLP_HTTP_PORT" \
    OTEL_EXPORTER_OTLP_PROTOCOL http/protobuf \
    SHOPMESH_JAEGER_URL "http://127.0.0.1:$JAEGER_PORT" \
    SHOPMESH_OTEL_LOG_FILE "$OTEL_LOG_FILE" \
    SHOPMESH_PROMETHEUS_URL "http://127.0.0.1:${SHOPMESH_PROMETHEUS_PORT:-19090}"
}

cmd_up() {
  [ -x "$PYTHON" ] || die "the Python environment is missing (the SMTP sink needs it); run: make setup"
  mkdir -p "$LOG_DIR" "$RUN_DIR" "$MAIL_DIR"
  resolve_pod_addr
  pg_up
  redis_up
  rmq_up
  smtp_up
  collector_up
  bash "$REPO_ROOT/ci/stack/prometheus.sh" up
  print_env > "$STACK_DIR/env.sh"
  log "stack ready: PostgreSQL :$PG_PORT, Redis :$REDIS_PORT, RabbitMQ :$AMQP_PORT, SMTP :$SMTP_PORT (exports: $STACK_DIR/env.sh)"
}

cmd_down() {
  local purge=""
  case "${1:-}" in
    --purge) purge=1 ;;
    "") ;;
    *) die "usage: stack.sh down [--purge]" ;;
  esac
  bash "$REPO_ROOT/ci/stack/prometheus.sh" down
  collector_down
  smtp_down
  rmq_down
  redis_down
  pg_down
  if [ -n "$purge" ]; then
    if pg_resolve && [ -L "$PG_LINK" ]; then
      rm -rf "$PG_ROOT"
      rmdir "$(dirname "$PG_ROOT")" "$PG_FALLBACK_BASE" 2>/dev/null || true
    fi
    rm -rf "$STACK_DIR"
    log "stack data deleted ($STACK_DIR)"
  fi
}

cmd_status() {
  local down=0 pg="down" redis="down" rmq="down" smtp="down" s
  pg_running && pgx "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && pg="up"
  pid_from "$REDIS_PID" >/dev/null && redis_ping && redis="up"
  pid_from "$RMQ_PID" >/dev/null && port_open "$AMQP_PORT" && rmq="up"
  pid_from "$SMTP_PID" >/dev/null && smtp_banner && smtp="up"
  printf '%-10s %-5s 127.0.0.1:%-6s %s\n' \
    postgres "$pg" "$PG_PORT" "PostgreSQL 15, databases: $(pg_databases | paste -sd' ' -)" \
    redis "$redis" "$REDIS_PORT" "appendonly no, data in $REDIS_DIR" \
    rabbitmq "$rmq" "$AMQP_PORT" "node $RMQ_NODE (epmd :$EPMD_PORT, distribution :$AMQP_DIST_PORT)" \
    smtp-sink "$smtp" "$SMTP_PORT" "Maildir $MAIL_DIR"
  collector_status || down=1
  bash "$REPO_ROOT/ci/stack/prometheus.sh" status || down=1
  for s in "$pg" "$redis" "$rmq" "$smtp"; do [ "$s" = up ] || down=1; done
  [ "$down" = 0 ] || { echo "(start it: make stack-up; logs in $LOG_DIR)"; exit 1; }
}

case "${1:-}" in
  up) cmd_up ;;
  down) shift; cmd_down "$@" ;;
  status) cmd_status ;;
  env) print_env ;;
  *) die "usage: stack.sh up|down [--purge]|status|env" ;;
esac
