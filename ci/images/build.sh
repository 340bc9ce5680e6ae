#!/usr/bin/env bash
# Builds ShopMesh's container images without Docker and without any registry, then imports
# them into the real node's containerd (ci/images/import.sh; skipped when it is not running):
#   pause  docker.io/shopmesh/pause:3.10 (containerd's sandbox_image): ci/images/pause.c
#          built with gcc -static, committed from scratch
#   base   localhost/shopmesh/base-python:bookworm: debootstrap --variant=minbase with
#          python3, python3-venv and ca-certificates from the Debian mirror apt already uses
#   infra  docker.io/shopmesh/infra:$IMAGE_TAG: PostgreSQL, Redis and RabbitMQ from Debian's
#          packages (debootstrap), for the chart's infra.mode=bundled
#   apps   docker.io/shopmesh/<name>:$IMAGE_TAG, the operator and the seven services, all
#          from the one Dockerfile at the repository root (buildah bud), on that base
# The base is built once (debootstrap: a few minutes) and kept in buildah's storage, its
# .debs in $SHOPMESH_CACHE/images; an app's dependency layer stays cached until uv.lock or
# a pyproject.toml changes, so a change to the sources rebuilds an image in seconds.
# Build logs: $SHOPMESH_CACHE/images/logs/<name>.log.
# Used by `make images`. Usage: build.sh [--no-import] [name...]  (names: pause, base,
# infra, operator, users, orders, ...; none: all of them). Needs root, buildah, podman, debootstrap, gcc.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMPORT=1
NAMES=()
for arg in "$@"; do
  case "$arg" in
    --no-import) IMPORT=0 ;;
    -h|--help) sed -n '2,16s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) die "unknown option $arg (usage: build.sh [--no-import] [name...])" ;;
    *) image_ref "$arg" >/dev/null; NAMES+=("$arg") ;;
  esac
done
[ "${#NAMES[@]}" -gt 0 ] || NAMES=(pause infra "${APP_IMAGES[@]}")

use_containers_conf
[ "$(id -u)" -eq 0 ] || die "build.sh needs root (buildah's storage, debootstrap); run it with sudo"
for tool in buildah podman gcc debootstrap; do
  command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install buildah podman gcc debootstrap)"
done

# scratch_container <name>: a new working container from scratch under a fixed name, so one
# left behind by an interrupted build is removed by the next.
scratch_container() {
  buildah rm "$1" >/dev/null 2>&1 || true
  buildah from --name "$1" scratch
}

# image_recipe <image>: the recipe label an image was built from, empty if it is missing.
image_recipe() {
  buildah inspect --type image --format '{{index .ImageAnnotations "shopmesh.recipe"}}' "$1" 2>/dev/null || true
}

build_pause() {
  local recipe; recipe="pause.c $(sha256sum <"$IMAGES_DIR/pause.c" | cut -c1-16)"
  [ "$(image_recipe "$PAUSE_IMAGE")" != "$recipe" ] || { log "$PAUSE_IMAGE is up to date"; return 0; }
  log "building $PAUSE_IMAGE"
  local tmp ctr; tmp="$(mktemp -d)"
  gcc -static -Os -s -o "$tmp/pause" "$IMAGES_DIR/pause.c"
  ctr="$(scratch_container shopmesh-pause-build)"
  buildah copy --quiet "$ctr" "$tmp/pause" /pause >/dev/null
  buildah config --entrypoint '["/pause"]' --cmd '' --user 65535:65535 \
    --annotation "shopmesh.recipe=$recipe" "$ctr"
  buildah commit --quiet --rm "$ctr" "$PAUSE_IMAGE" >/dev/null
  rm -rf "$tmp"
}

# debootstrap_image <ref> <packages> [prepare-function]: an image whose root filesystem is
# debootstrap --variant=minbase $DEBIAN_SUITE with <packages> (comma-separated) from the
# mirror apt already uses; prepare-function <rootfs> may adjust it before it is committed.
# Rebuilt only when the recipe (suite, packages, prepare step) changes.
debootstrap_image() {
  local ref="$1" packages="$2" prepare="${3:-}"
  local recipe="debootstrap minbase $DEBIAN_SUITE $packages${prepare:+ $prepare:$(declare -f "$prepare" | sha256sum | cut -c1-12)}"
  [ "$(image_recipe "$ref")" != "$recipe" ] || { log "$ref is up to date"; return 0; }
  local mirror; mirror="$(debian_mirror)"
  [ -n "$mirror" ] || die "no Debian $DEBIAN_SUITE mirror in /etc/apt/sources.list{,.d}: cannot debootstrap $ref"
  log "building $ref: debootstrap $DEBIAN_SUITE from $mirror (once; a few minutes)"
  local start=$SECONDS root="$IMAGES_CACHE/rootfs.tmp.$$" debs="$IMAGES_CACHE/debootstrap-$DEBIAN_SUITE"
  local build_log="$IMAGES_CACHE/logs/debootstrap-${ref##*/}.log"
  build_log="${build_log//:/-}"
  rm -rf "$root"; mkdir -p "$debs" "$(dirname "$build_log")"
  if ! debootstrap --variant=minbase --include="$packages" --cache-dir="$debs" \
      "$DEBIAN_SUITE" "$root" "$mirror" >"$build_log" 2>&1; then
    tail -n 20 "$build_log" >&2
    rm -rf "$root"
    die "debootstrap failed (full log: $build_log)"
  fi
  [ -z "$prepare" ] || "$prepare" "$root"
  # What an image does not need, and what debootstrap copied from this host (its DNS, name).
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/* \
    "$root"/etc/resolv.conf "$root"/etc/hostname
  local ctr mnt name="${ref##*/}"
  ctr="$(scratch_container "shopmesh-${name//:/-}-build")"
  mnt="$(buildah mount "$ctr")"
  tar -C "$root" --numeric-owner -cf - . | tar -C "$mnt" --numeric-owner -xpf -
  buildah umount "$ctr" >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --annotation "shopmesh.recipe=$recipe" "$ctr"
  buildah commit --quiet --rm "$ctr" "$ref" >/dev/null
  rm -rf "$root"
  log "built $ref in $((SECONDS - start))s"
}

build_base() {
  debootstrap_image "$BASE_IMAGE" python3,python3-venv,python-is-python3,ca-certificates
}

# The bundled infrastructure's servers (the chart's infra.mode=bundled): PostgreSQL, Redis,
# RabbitMQ and an SMTP sink (aiosmtpd) from Debian's packages, one image, each pod running one of them as the
# chart's non-root user (65532, given a name here: initdb and Erlang look it up).
prepare_infra() {
  echo "shopmesh:x:65532:65532:shopmesh:/data:/usr/sbin/nologin" >>"$1/etc/passwd"
  echo "shopmesh:x:65532:" >>"$1/etc/group"
}
build_infra() {
  debootstrap_image "$INFRA_IMAGE" postgresql-15,redis-server,rabbitmq-server,python3-aiosmtpd,ca-certificates prepare_infra
}

# buildah's flags for the Dockerfile. The host's CA bundle stands in for the image's during
# RUN steps only (a bind mount, never committed), so pip and uv reach PyPI the way this host
# does, also behind a TLS-inspecting proxy. The host's network: no CNI network is set up.
BUD_FLAGS=(--layers --network host --file "$REPO_ROOT/Dockerfile" --build-arg "BASE_IMAGE=$BASE_IMAGE")
BUD_FLAGS+=("${CONTAINER_ULIMITS[@]/#/--ulimit=}")
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  BUD_FLAGS+=(--volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
fi

# bud <log-name> <flag>...: buildah bud on the Dockerfile, its output in a log shown on failure.
bud() {
  local log="$IMAGES_CACHE/logs/$1.log"; shift
  mkdir -p "$(dirname "$log")"
  if ! buildah bud "${BUD_FLAGS[@]}" "$@" "$REPO_ROOT" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "buildah bud $* failed (full log: $log)"
  fi
}

# build_app <name>: docker.io/shopmesh/<name>:$IMAGE_TAG from the Dockerfile.
build_app() {
  local name="$1" ref start=$SECONDS
  ref="$(app_image "$name")"
  log "building $ref"
  bud "$name" --build-arg "SERVICE=$name" --tag "$ref"
  log "built $ref in $((SECONDS - start))s"
}

for name in "${NAMES[@]}"; do
  case "$name" in
    pause) build_pause ;;
    base) build_base ;;
    infra) build_infra ;;
    *) [ -n "${BASE_READY:-}" ] || { build_base; BASE_READY=1; }
       build_app "$name" ;;
  esac
done

if [ "$IMPORT" -eq 1 ]; then
  bash "$IMAGES_DIR/import.sh" "${NAMES[@]}"
fi
