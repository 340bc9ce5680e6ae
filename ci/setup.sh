#!/usr/bin/env bash
# Installs what `make demo`, `make test` and `make stack-up` need on a fresh Debian machine:
# checks Go and Python, installs missing Debian packages with apt-get, bootstraps
# a pinned uv into the cache and syncs the Python workspace from uv.lock.
# The Go-built binaries come from ci/cluster/build-binaries.sh. Used by `make setup`.
source "$(dirname "${BASH_SOURCE[0]}")/cluster/lib.sh"

UV_VERSION="${UV_VERSION:-0.13.8}"
UV_HOME="$SHOPMESH_CACHE/uv-$UV_VERSION"
# Debian packages the project needs beyond a stock machine with Go and Python;
# the last four are the local stack's servers (ci/stack/stack.sh, make stack-up);
# prometheus also brings promtool, which make validate uses on the alert rules. The
# second line is the real node (ci/cluster/node.sh: containerd, runc, CNI plugins in
# /usr/lib/cni, iptables, conntrack) and the image builds (ci/images/build.sh: buildah,
# podman, debootstrap for the base image).
DEBIAN_PACKAGES=(git ca-certificates postgresql-15 redis-server rabbitmq-server prometheus
  containerd runc containernetworking-plugins iptables conntrack buildah podman debootstrap)
# Debian's maintainer scripts start the services they install. The stack runs its
# own servers on other ports, so while apt-get runs, a temporary policy-rc.d (only
# if the machine has none) tells invoke-rc.d to start nothing. A system server that
# starts anyway does no harm: its ports are not the stack's.
POLICY_RC=/usr/sbin/policy-rc.d
POLICY_RC_OURS=""
POLICY_RC_SUDO=""
remove_policy_rc() {
  [ -z "$POLICY_RC_OURS" ] || $POLICY_RC_SUDO rm -f "$POLICY_RC"
  POLICY_RC_OURS=""
}

# ensure_debian_packages <package>...: installs those not installed yet.
ensure_debian_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get to install them"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  log "installing Debian packages: ${missing[*]}"
  if [ ! -e "$POLICY_RC" ]; then
    trap remove_policy_rc EXIT
    printf '#!/bin/sh\n# Temporary, from ShopMesh ci/setup.sh: start no service during apt-get.\nexit 101\n' \
      | $sudo tee "$POLICY_RC" >/dev/null && $sudo chmod 755 "$POLICY_RC" \
      && POLICY_RC_OURS=1 && POLICY_RC_SUDO="$sudo"
  fi
  local rc=0
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
    || rc=$?
  remove_policy_rc
  [ "$rc" = 0 ] || die "apt-get could not install ${missing[*]}"
}

# disable_debian_prometheus: Debian enables its own Prometheus (/etc/prometheus, :9090) and
# the node exporter it recommends; the stack runs its own (ci/stack/prometheus.sh), so a
# Prometheus this script installed is not left to start at the next boot.
disable_debian_prometheus() {
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  command -v systemctl >/dev/null || return 0
  $sudo systemctl disable --quiet prometheus.service prometheus-node-exporter.service 2>/dev/null || true
  [ ! -d /run/systemd/system ] || $sudo systemctl stop prometheus.service prometheus-node-exporter.service 2>/dev/null || true
}

# `setup.sh --bench-tools`: only the load generator and the peer proxy of `make bench-gateway`.
if [ "${1:-}" = "--bench-tools" ]; then
  ensure_debian_packages nginx wrk
  exit 0
fi

if command -v dpkg-query >/dev/null; then
  had_prometheus="$(dpkg-query -W -f='${Status}' prometheus 2>/dev/null || true)"
  ensure_debian_packages "${DEBIAN_PACKAGES[@]}"
  [[ "$had_prometheus" == *"install ok installed"* ]] || disable_debian_prometheus
  # Debian's own python3 needs python3-venv to make virtual environments.
  python3 -c 'import ensurepip' 2>/dev/null || ensure_debian_packages python3-venv
fi

command -v go >/dev/null || die "Go >= 1.24 is required (https://go.dev/doc/install); it builds the local cluster"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "Python >= 3.11 is required; found $(python3 --version 2>&1)"

if [ ! -x "$UV_HOME/bin/uv" ]; then
  log "installing uv $UV_VERSION into $UV_HOME"
  python3 -m venv "$UV_HOME" && "$UV_HOME/bin/pip" install -q "uv==$UV_VERSION" \
    || die "could not install uv from the Python package index"
fi
export UV_PYTHON_DOWNLOADS=never
(cd "$REPO_ROOT" && "$UV_HOME/bin/uv" sync --all-packages --frozen --quiet) \
  || die "uv sync failed (is the Python package index reachable?)"
