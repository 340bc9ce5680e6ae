#!/usr/bin/env bash
# Moves locally built images from buildah's storage into the real node's containerd (the
# k8s.io namespace kubelet uses), under the names pods ask for: docker.io/shopmesh/<name>:<tag>
# and the pause image. No registry is involved: podman save writes an archive and
# `ctr images import` reads it. Called by ci/images/build.sh after a build, and usable alone,
# e.g. after the node's containerd was (re)started with an empty store:
#   import.sh [name...]   (pause, infra, operator, users, ...; none: pause, infra and every app)
#   import.sh --tag <tag> <name>   gives an imported image a second tag in containerd: a
#                                  second "version" of the same build, for release tests and demos
# Images containerd already has (same image ID) are skipped. Without containerd's socket
# ($CONTAINERD_SOCK) it logs that and does nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SECOND_TAG=""
if [ "${1:-}" = "--tag" ]; then
  [ "$#" -eq 3 ] || die "usage: import.sh --tag <tag> <name>"
  SECOND_TAG="$2"; shift 2
fi
NAMES=("$@")
[ "${#NAMES[@]}" -gt 0 ] || NAMES=(pause infra "${APP_IMAGES[@]}")
for name in "${NAMES[@]}"; do image_ref "$name" >/dev/null; done   # dies on an unknown name

if [ ! -S "$CONTAINERD_SOCK" ]; then
  log "containerd is not running ($CONTAINERD_SOCK is missing): images not imported; run $0 once it is"
  exit 0
fi

CTR=(ctr --address "$CONTAINERD_SOCK" -n k8s.io)

if [ -n "$SECOND_TAG" ]; then
  ref="$(image_ref "${NAMES[0]}")"
  "${CTR[@]}" images tag --force "$ref" "${ref%:*}:$SECOND_TAG" >/dev/null \
    || die "containerd has no $ref to tag: run $0 ${NAMES[0]} first"
  log "containerd: ${ref%:*}:$SECOND_TAG is $ref"
  exit 0
fi

# containerd_image_id <ref>: the config digest (what podman calls the image ID) of the
# image containerd has under that name; empty if it has none.
containerd_image_id() {
  local manifest
  manifest="$("${CTR[@]}" images ls "name==$1" | awk 'NR == 2 { print $3 }')"
  [ -n "$manifest" ] || return 0
  "${CTR[@]}" content get "$manifest" | grep -o '"config":{[^}]*}' | grep -o 'sha256:[0-9a-f]*' || true
}

use_containers_conf
refs=()
for name in "${NAMES[@]}"; do
  [ "$name" != base ] || continue   # only ever a parent of the app images
  ref="$(image_ref "$name")"
  id="$(podman image inspect --format '{{.Id}}' "$ref" 2>/dev/null)" \
    || die "$ref is not built: run ci/images/build.sh $name"
  # Unchanged since the last import: nothing to do.
  [ "$(containerd_image_id "$ref")" != "sha256:$id" ] || continue
  refs+=("$ref")
done
[ "${#refs[@]}" -gt 0 ] || { log "containerd has every image already"; exit 0; }

# One archive for all of them, so the layers they share (the base) are written once; its
# RepoTags are the full references, which ctr takes as the images' names. Uncompressed:
# gzip would cost more time than the smaller archive saves.
archive="$(mktemp --tmpdir shopmesh-images.XXXXXX.tar)"
trap 'rm -f "$archive"' EXIT
start=$SECONDS
podman save --quiet --multi-image-archive --format docker-archive --output "$archive" "${refs[@]}"
"${CTR[@]}" images import "$archive" >/dev/null
for ref in "${refs[@]}"; do
  "${CTR[@]}" images ls -q "name==$ref" | grep -qxF "$ref" \
    || die "containerd does not list $ref after importing it"
done
log "imported ${#refs[@]} image(s) into containerd in $((SECONDS - start))s: ${refs[*]}"
