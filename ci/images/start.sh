#!/bin/sh
# The start command of every ShopMesh image, the one place it is written: the Dockerfile
# copies this to /usr/local/bin/shopmesh-start as its CMD and sets SHOPMESH_SERVICE from
# its ARG SERVICE. Arguments are passed on (docker run <image> --log-level debug).
# The operator's chart runs `python -m shopmesh_operator` itself (its command wins).
set -eu
service="${SHOPMESH_SERVICE:?SHOPMESH_SERVICE is not set: the image was not built from the ShopMesh Dockerfile}"
case "$service" in
  operator)
    exec python -m shopmesh_operator "$@" ;;
  gateway)
    # The edge: its own routes are public (end-user JWTs, API keys), so it requires no
    # service tokens, yet mints them for its calls when a secret is set. --proxy-headers:
    # behind the ingress, the client IP (per-IP rate limits) comes from X-Forwarded-For as
    # set by the trusted proxies in FORWARDED_ALLOW_IPS.
    export SHOPMESH_REQUIRE_SERVICE_TOKEN="${SHOPMESH_REQUIRE_SERVICE_TOKEN:-false}"
    set -- --proxy-headers "$@" ;;
esac
module="shopmesh_$(printf '%s' "$service" | tr - _)"
exec uvicorn --factory "$module.main:create_app" --host 0.0.0.0 --port 8080 "$@"
