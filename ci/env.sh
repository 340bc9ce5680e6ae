#!/usr/bin/env bash
# Prints the shell exports that give a user the same tools the tests use:
#   eval "$(make -s env)"
# KUBECONFIG for the local cluster, PATH with the project's kubectl, helm, kwokctl,
# etcd and kubeconform (built by ci/cluster/build-binaries.sh) and the Python venv
# first, and SHOPMESH_GATEWAY_URL: the shop's gateway as `make shop-install` publishes it
# (its NodePort on 127.0.0.1). tests/e2e/conftest.py parses this same output, so there is one source.
source "$(dirname "${BASH_SOURCE[0]}")/cluster/lib.sh"
cat <<EOT
export KUBECONFIG="$KUBECONFIG_PATH"
export PATH="$(shopmesh_path):$REPO_ROOT/.venv/bin:\$PATH"
export SHOPMESH_CLUSTER="$CLUSTER"
export SHOPMESH_STATE="$STATE_DIR"
export KWOK_WORKDIR="$KWOK_WORKDIR"
export SHOPMESH_API_PORT="$API_PORT"
export SHOPMESH_GATEWAY_URL="http://127.0.0.1:$GATEWAY_NODE_PORT"
EOT
