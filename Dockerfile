# Every ShopMesh image: the operator and the seven services, one uv workspace member each.
# Build from the repository root (.dockerignore keeps the context to manifests and sources):
#   docker build --build-arg SERVICE=orders -t shopmesh/orders:0.1.0 .
# SERVICE: operator | users | orders | inventory | payments | notifications | order-history | gateway
# BASE_IMAGE: an image with python3 (3.11, with its venv module) and a CA bundle; published
# images use python:3.11-slim, local builds (ci/images/build.sh, `make images`) our own
# debootstrapped base, so nothing is pulled.
# The image runs as 65532, the UID the chart and the pods the operator renders use (any
# non-root UID works)
# on a read-only root filesystem, writing nothing but to /tmp. Its start command is
# ci/images/start.sh; `python` on PATH is the application's virtual environment.
ARG BASE_IMAGE=python:3.11-slim

# The workspace split in two, each part at the paths uv.lock names:
#   /manifests  uv.lock and every member's pyproject.toml (uv reads the whole workspace),
#               plus an empty package for each member the image installs, enough for uv
#               to install them editable before their sources are there;
#   /member     the sources of the one member, and of shopmesh-common for a service.
# A change to the sources leaves /manifests, and so the dependency layer, as it was.
FROM ${BASE_IMAGE} AS workspace
ARG SERVICE
COPY pyproject.toml uv.lock /workspace/
COPY operator /workspace/operator
COPY services /workspace/services
RUN set -eu; cd /workspace; \
    case "${SERVICE:?build with --build-arg SERVICE=<name>}" in \
      operator) members="operator" ;; \
      common) echo "shopmesh-common is a library, not an image" >&2; exit 1 ;; \
      *) members="services/common services/$SERVICE" ;; \
    esac; \
    for member in $members; do \
      [ -d "$member/src" ] || { echo "SERVICE=$SERVICE: no workspace member $member" >&2; exit 1; }; \
      mkdir -p "/member/$member" && mv "$member/src" "/member/$member/"; \
    done; \
    rm -rf operator/src services/*/src; \
    for member in $members; do \
      for package in "/member/$member"/src/*/; do \
        package="$member/src/$(basename "$package")"; \
        mkdir -p "$package" && : > "$package/__init__.py"; \
      done; \
    done; \
    mv /workspace /manifests

FROM ${BASE_IMAGE}
ARG SERVICE
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH \
    SHOPMESH_SERVICE=${SERVICE}
WORKDIR /app

# The dependency layer, the member installed editable (the environment points at
# /app/<member>/src): cached for as long as uv.lock and the manifests stay the same.
# uv (pinned) is installed with pip into /tmp and removed in the same step, so it is never
# part of the image; its settings are RUN-only: the system interpreter, bytecode compiled
# now (the root filesystem is read-only at runtime), the system's CA bundle.
COPY --from=workspace /manifests/ /app/
RUN --mount=type=cache,target=/root/.cache \
    python3 -m venv /tmp/uv \
    && /tmp/uv/bin/pip install --quiet --disable-pip-version-check \
       --cert /etc/ssl/certs/ca-certificates.crt uv==0.13.8 \
    && UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_SYSTEM_CERTS=1 \
       /tmp/uv/bin/uv sync --frozen --no-dev --package "shopmesh-${SERVICE}" \
    && rm -rf /tmp/uv /tmp/uv-*.lock

# The sources, over the empty packages; compiled here, as nothing can be written at runtime.
COPY --from=workspace /member/ /app/
RUN python -m compileall -q -j 0 -x '/\.venv/' /app
COPY ci/images/start.sh /usr/local/bin/shopmesh-start

USER 65532:65532
EXPOSE 8080
CMD ["shopmesh-start"]
