# Every entry point of ShopMesh. `make help` lists them.
# A fresh machine needs only `make demo` or `make test`: each installs what it needs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CLUSTER ?= kwok
export CLUSTER
UV_VERSION := 0.13.8
SHOPMESH_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/shopmesh
UV := $(SHOPMESH_CACHE)/uv-$(UV_VERSION)/bin/uv
export UV_PYTHON_DOWNLOADS := never
PYTEST := .venv/bin/pytest
ENV := eval "$$(bash ci/env.sh)"
STACK_ENV := eval "$$(bash ci/stack/stack.sh env)"

.PHONY: help
help: ## List every target
	@awk 'BEGIN {FS = ":.*## "; print "Usage: make <target>  (CLUSTER=kwok|kind)\n"} \
	  /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

## --- set-up -------------------------------------------------------------
.PHONY: setup python tools crds
setup: python tools ## Install everything: Debian packages, Python workspace, Go-built tools
python: ## Install the Python workspace (uv, from uv.lock)
	@bash ci/setup.sh
tools: ## Build kube-apiserver, etcd, kubectl, KWOK, helm, ... from pinned Go modules (cached)
	@bash ci/cluster/build-binaries.sh
crds: ## Fetch the pinned upstream Istio and Prometheus Operator CRDs (cached)
	@bash ci/cluster/fetch-crds.sh

## --- the local cluster --------------------------------------------------
.PHONY: cluster-up cluster-down cluster-status env
cluster-up: tools ## Start the local cluster (KWOK, or CLUSTER=kind) with all CRDs; harmless twice
	@bash ci/cluster/cluster.sh up
cluster-down: ## Stop and delete the local cluster
	@bash ci/operator.sh stop 2>/dev/null || true
	@bash ci/cluster/cluster.sh down
cluster-status: ## Show whether the local cluster is up and what it holds
	@bash ci/cluster/cluster.sh status
env: ## Print shell exports (kubectl, helm, KUBECONFIG, the kubectl shopmesh plugin): eval "$(make -s env)"
	@bash ci/env.sh
.PHONY: images
images: ## Build the pause, operator and service images with buildah (no Docker, no registry); import them into the node's containerd
	@bash ci/images/build.sh

## --- the local stack ----------------------------------------------------
.PHONY: stack-up stack-down stack-status
stack-up: python ## Start PostgreSQL, Redis, RabbitMQ, an SMTP sink, Prometheus and Jaeger on 127.0.0.1; harmless twice
	@bash ci/stack/stack.sh up
stack-down: ## Stop the local stack and delete its data (stack.sh down keeps it)
	@bash ci/stack/stack.sh down --purge
stack-status: ## Show which servers of the local stack are up, and their ports
	@bash ci/stack/stack.sh status

## --- run ----------------------------------------------------------------
.PHONY: operator operator-start operator-stop demo
operator: python cluster-up ## Run the operator in the foreground against the local cluster
	@bash ci/operator.sh run
operator-start: python cluster-up ## Run the operator in the background (log in .shopmesh/logs)
	@bash ci/operator.sh start
operator-stop: ## Stop the background operator
	@bash ci/operator.sh stop
demo: setup stack-up cluster-up images ## The shop as real pods on the local cluster (helm install), then an order's story through its gateway
	@bash ci/demo.sh

## --- the shop ------------------------------------------------------------
.PHONY: shop-install shop-uninstall shop-up shop-down shop-status demo-shop
shop-install: setup stack-up cluster-up images ## helm install the operator and the shop as real pods (namespace shop; gateway on 127.0.0.1:30080)
	@bash ci/cluster/shop-release.sh install
shop-uninstall: ## helm uninstall the shop and delete its namespace
	@bash ci/cluster/shop-release.sh uninstall
shop-up: stack-up ## Run the gateway and the six shop services on 127.0.0.1:8100-8106 (logs in .shopmesh/shop)
	@bash ci/stack/shop.sh up
shop-down: ## Stop the shop services
	@bash ci/stack/shop.sh down
shop-status: ## Which shop services answer /health/ready
	@bash ci/stack/shop.sh status
demo-shop: shop-up ## The shop as loopback processes, and an order's story: idempotent retry, a failing saga, the email, the read model
	@.venv/bin/python ci/stack/shop_demo.py

## --- test ---------------------------------------------------------------
.PHONY: test unit integration e2e lint fmt validate
test: setup lint unit validate integration e2e ## Everything CI runs: lint, unit, validation, integration on the stack, e2e on the cluster
unit: python ## Unit tests (no cluster, no servers)
	$(PYTEST) operator/tests/unit services/*/tests/unit tests/topology tests/chart ci/images/tests/test_dockerfile.py -q
integration: python stack-up ## The shop on the real stack: services, saga invariants, crashes, dead letters
	$(STACK_ENV); $(PYTEST) tests/stack services/*/tests/integration tests/shop -q
e2e: setup stack-up cluster-up images operator-stop ## End-to-end tests: the operator on KWOK nodes, the shop as real pods on the real node
	$(ENV); $(PYTEST) tests/e2e ci/images/tests/test_built_images.py -q
validate: python tools ## kubeconform -strict on every rendered child of the examples (offline, pinned schemas)
	@bash ci/validate/validate.sh
lint: python ## ruff and mypy
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy operator/src services/*/src
fmt: python ## Format the code with ruff
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

## --- benchmarks ---------------------------------------------------------
.PHONY: bench bench-shop bench-gateway bench-release
bench: setup cluster-up operator-stop ## Operator latency, scale, memory and idle writes, as ratios
	$(ENV); .venv/bin/python bench/operator_scale.py
bench-gateway: python stack-up ## Gateway (JWT + rate limit) vs nginx plain proxy vs direct: req/s and added p50/p99
	@bash ci/setup.sh --bench-tools
	$(STACK_ENV); .venv/bin/python bench/gateway_vs_nginx.py
bench-release: setup stack-up cluster-up images operator-stop ## Releases on real pods: a bad canary's abort, an operator restart mid-release, per analysis interval
	$(ENV); .venv/bin/python bench/release_timing.py
bench-shop: python stack-up ## Orders/s through the saga vs pgbench TPS; outbox relay lag p50/p99
	$(STACK_ENV); .venv/bin/python bench/shop_orders.py

.PHONY: clean
clean: cluster-down shop-down stack-down ## Delete the cluster and local state (the tool cache stays)
	rm -rf .shopmesh .venv .pytest_cache .mypy_cache .ruff_cache
