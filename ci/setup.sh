#!/usr/bin/env bash
# Installs what `make demo` and `make test` need on a fresh Debian machine:
# checks Go and Python, installs missing Debian packages with apt-get, bootstraps
# a pinned uv into the cache and syncs the Python workspace from uv.lock.
# The Go-built binaries come from ci/cluster/build-binaries.sh. Used by `make setup`.
source "$(dirname "${BASH_SOURCE[0]}")/cluster/lib.sh"

UV_VERSION="${UV_VERSION:-0.13.8}"
UV_HOME="$SHOPMESH_CACHE/uv-$UV_VERSION"
# Debian packages the project needs beyond a stock machine with Go and Python.
DEBIAN_PACKAGES=(git ca-certificates)

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
  $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
    || die "apt-get could not install ${missing[*]}"
}

if command -v dpkg-query >/dev/null; then
  ensure_debian_packages "${DEBIAN_PACKAGES[@]}"
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
