#!/usr/bin/env bash
# Shared by ci/images/build.sh and ci/images/import.sh: the names of the locally built
# images and the settings buildah and podman need on this kind of machine (runc, explicit
# ulimits; see the comments below). Sourced, not run.
# shellcheck source=../cluster/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../cluster/lib.sh"

IMAGES_DIR="$REPO_ROOT/ci/images"
IMAGES_CACHE="$SHOPMESH_CACHE/images"

# The pod sandbox image: containerd's sandbox_image on the real node, so nothing is pulled.
PAUSE_IMAGE="${PAUSE_IMAGE:-docker.io/shopmesh/pause:3.10}"
# Our Debian base, in place of python:3.11-slim (which would have to be pulled).
DEBIAN_SUITE=bookworm
BASE_IMAGE="localhost/shopmesh/base-python:$DEBIAN_SUITE"
# PostgreSQL, Redis and RabbitMQ for the chart's infra.mode=bundled (debootstrap, no Dockerfile).
INFRA_IMAGE="docker.io/shopmesh/infra:$IMAGE_TAG"
# Every image the one Dockerfile builds (its ARG SERVICE), in build order.
APP_IMAGES=(operator users orders inventory payments notifications order-history gateway)

# app_image <name>: the reference an app image has in buildah's storage and in containerd,
# the name a Microservice's spec.image (shopmesh/<name>:<tag>) resolves to.
app_image() { echo "docker.io/shopmesh/$1:$IMAGE_TAG"; }

# image_ref <name>: pause, base, infra or an app image's reference.
image_ref() {
  case "$1" in
    pause) echo "$PAUSE_IMAGE" ;;
    base) echo "$BASE_IMAGE" ;;
    infra) echo "$INFRA_IMAGE" ;;
    *) [[ " ${APP_IMAGES[*]} " == *" $1 "* ]] || die "unknown image '$1' (pause, base, infra or one of: ${APP_IMAGES[*]})"
       app_image "$1" ;;
  esac
}

# use_containers_conf: points buildah and podman at a containers.conf of our own.
# crun (podman's default when installed) refuses this machine's cgroup v1/v2 hybrid: runc.
# Without explicit ulimits they try to raise nproc/nofile beyond what the VM allows (no
# CAP_SYS_RESOURCE) and fail with "operation not permitted". No network unless asked for:
# podman's default bridge would add iptables rules and turn on ip_forward, which belong to
# the cluster scripts (builds use the host's network, verification none).
CONTAINER_ULIMITS=(nproc=32768:32768 nofile=16384:16384)
use_containers_conf() {
  export CONTAINERS_CONF="$IMAGES_CACHE/containers.conf"
  mkdir -p "$IMAGES_CACHE"
  {
    echo '# Written by ci/images/lib.sh (use_containers_conf) on every run.'
    echo '[containers]'
    printf 'default_ulimits = [%s]\n' "$(printf '"%s", ' "${CONTAINER_ULIMITS[@]}" | sed 's/, $//')"
    echo 'netns = "none"'
    echo '[engine]'
    echo 'runtime = "runc"'
  } >"$CONTAINERS_CONF.tmp.$$"
  mv "$CONTAINERS_CONF.tmp.$$" "$CONTAINERS_CONF"
}

# debian_mirror [apt-dir]: the mirror apt uses for $DEBIAN_SUITE: the first URI of the
# first enabled entry that lists the suite, in apt's order (sources.list, then
# sources.list.d/ by name), deb822 (*.sources) or one-line (*.list). Prints nothing if none.
debian_mirror() {
  local apt="${1:-/etc/apt}" f
  for f in "$apt"/sources.list "$apt"/sources.list.d/*; do
    [ -f "$f" ] || continue
    case "$f" in
      *.sources)
        awk -v suite="$DEBIAN_SUITE" 'BEGIN { RS = "" }
          { types = uris = suites = ""; enabled = " yes "
            n = split($0, lines, "\n")
            for (i = 1; i <= n; i++) {
              if (lines[i] ~ /^[ \t]*#/ || !match(lines[i], /^[A-Za-z-]+:/)) continue
              key = tolower(substr(lines[i], 1, RLENGTH - 1))
              value = " " substr(lines[i], RLENGTH + 1) " "; gsub(/[ \t]+/, " ", value)
              if (key == "types") types = value; else if (key == "uris") uris = value
              else if (key == "suites") suites = value; else if (key == "enabled") enabled = value
            }
            if (types ~ / deb / && index(suites, " " suite " ") && enabled !~ / no /) {
              split(uris, uri, " "); print uri[1]; exit
            } }' "$f" ;;
      *.list)
        sed -E 's/^[ \t]*deb[ \t]+\[[^]]*\]/deb /' "$f" \
          | awk -v suite="$DEBIAN_SUITE" '$1 == "deb" && $3 == suite { print $2; exit }' ;;
      *) ;;
    esac
  done | head -n 1
}
