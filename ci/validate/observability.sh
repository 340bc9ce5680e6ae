#!/usr/bin/env bash
# The shop's alerts and dashboard, checked offline (no server needed):
#   - promtool check rules and promtool test rules (a case that fires and one that does
#     not for every alert) on manifests/prometheus/rules/shop.rules.yaml;
#   - manifests/prometheus/shop-alerts.yaml (the PrometheusRule) generated from it, unchanged
#     (kubeconform checks it against the Prometheus Operator CRD in validate.sh);
#   - ci/validate/check_dashboard.py: dashboards/*.json load as Grafana dashboards, their
#     PromQL parses, and every metric the dashboards and the rules read is exported by the
#     services (read from their prometheus_client registry, not from a list);
#   - the tests of those two scripts.
# Used by ci/validate/validate.sh (make validate). promtool is the one built beside the
# stack's Prometheus from its pinned module (ci/cluster/build-binaries.sh, `make tools`).
source "$(dirname "${BASH_SOURCE[0]}")/../cluster/lib.sh"
PYTHON="$REPO_ROOT/.venv/bin/python"
RULES="$REPO_ROOT/manifests/prometheus/rules/shop.rules.yaml"
PROMTOOL="${SHOPMESH_PROMTOOL:-$PROMETHEUS_BIN/promtool}"
[ -x "$PROMTOOL" ] || die "promtool is missing ($PROMTOOL); run: make tools"

log "alert rules: promtool check rules, promtool test rules"
"$PROMTOOL" check rules "$RULES"
"$PROMTOOL" test rules "$REPO_ROOT"/manifests/prometheus/tests/*.test.yaml
log "alert rules: the PrometheusRule matches the rule groups"
"$PYTHON" "$REPO_ROOT/ci/validate/prometheus_rule.py" --check
log "dashboards and rules: every metric they read is exported by the services"
"$PYTHON" "$REPO_ROOT/ci/validate/check_dashboard.py" --promtool "$PROMTOOL" --rules "$RULES" \
  "$REPO_ROOT"/dashboards/*.json
"$REPO_ROOT/.venv/bin/pytest" -q -p no:cacheprovider "$REPO_ROOT/ci/validate/test_validate_observability.py"
