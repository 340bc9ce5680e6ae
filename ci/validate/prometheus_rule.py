"""Generate (or check) manifests/prometheus/shop-alerts.yaml from the plain rule groups.

The plain groups in manifests/prometheus/rules/shop.rules.yaml are the source of truth:
Prometheus and `promtool test rules` read them as they are. The PrometheusRule
(monitoring.coreos.com/v1) that `kubectl apply` needs carries the same groups under `spec`,
so it is written from that file as text (re-indented under `spec:`, comments and block
scalars kept as written) rather than re-dumped by a YAML library, which would fold the
multi-line expressions into one-line strings.

    prometheus_rule.py --write   rewrite the PrometheusRule
    prometheus_rule.py --check   exit 1 with a diff when it is not what --write would write

Used by ci/validate/observability.sh (make validate) and by whoever edits the rules.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "manifests/prometheus/rules/shop.rules.yaml"
TARGET = REPO / "manifests/prometheus/shop-alerts.yaml"

HEADER = """\
# GENERATED from manifests/prometheus/rules/shop.rules.yaml by ci/validate/prometheus_rule.py:
# edit that file, then run `.venv/bin/python ci/validate/prometheus_rule.py --write`
# (make validate fails while the two differ).
# The shop's alerts for the Prometheus Operator: kubectl apply -f this file. A Prometheus
# picks it up when its ruleSelector / ruleNamespaceSelector match these labels and namespace.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: shop-alerts
  namespace: shop
  labels:
    app.kubernetes.io/name: shop-alerts
    app.kubernetes.io/part-of: shopmesh
spec:
"""


def render_prometheus_rule(source_text: str) -> str:
    """The PrometheusRule text for the plain rule groups in `source_text`."""
    lines = source_text.splitlines()
    try:
        start = next(n for n, line in enumerate(lines) if line.startswith("groups:"))
    except StopIteration:
        raise ValueError("the rules file has no top-level 'groups:'") from None
    body = [f"  {line}" if line.strip() else "" for line in lines[start:]]
    return HEADER + "\n".join(body) + "\n"


def check_same_groups(source_text: str, rendered: str) -> None:
    """Fail unless the rendered object's spec is exactly the source's groups, as data."""
    plain: Any = yaml.safe_load(source_text)
    rule: Any = yaml.safe_load(rendered)
    if set(plain) != {"groups"} or rule["spec"] != plain:
        raise ValueError("the PrometheusRule's spec does not equal the plain rule groups")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the PrometheusRule")
    mode.add_argument("--check", action="store_true", help="fail if it is out of date")
    args = parser.parse_args(argv)
    source_text = SOURCE.read_text()
    rendered = render_prometheus_rule(source_text)
    check_same_groups(source_text, rendered)
    if args.write:
        TARGET.write_text(rendered)
        print(f"wrote {TARGET.relative_to(REPO)}")
        return 0
    current = TARGET.read_text() if TARGET.exists() else ""
    if current == rendered:
        print(f"{TARGET.relative_to(REPO)} matches {SOURCE.relative_to(REPO)}")
        return 0
    sys.stdout.writelines(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            rendered.splitlines(keepends=True),
            fromfile=f"{TARGET.relative_to(REPO)} (checked in)",
            tofile=f"{TARGET.relative_to(REPO)} (from {SOURCE.relative_to(REPO)})",
        )
    )
    print(
        f"error: {TARGET.relative_to(REPO)} is out of date; run "
        ".venv/bin/python ci/validate/prometheus_rule.py --write",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
