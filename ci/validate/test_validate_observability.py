"""Tests of ci/validate/check_dashboard.py and prometheus_rule.py: the PromQL name tokenizer,
the dashboard shape checks, the exported-series registry and both scripts' verdicts on
broken input. Run by ci/validate/observability.sh (make validate); no servers needed."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


check = load("check_dashboard")
prometheus_rule = load("prometheus_rule")


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        pytest.param("up", {"up"}, id="bare"),
        pytest.param('a_total{x="y", z=~"$service"}', {"a_total"}, id="matchers-and-variable"),
        pytest.param(
            "sum by (service, le) (rate(h_bucket[$__rate_interval]))", {"h_bucket"}, id="by"
        ),
        pytest.param("sum(rate(c_total[5m])) without (instance)", {"c_total"}, id="without-after"),
        pytest.param(
            "a / on (x) group_left (y, z) b", {"a", "b"}, id="on-group-left-labels-are-not-metrics"
        ),
        pytest.param("a and b or c unless d", {"a", "b", "c", "d"}, id="set-operators"),
        pytest.param("a > bool 1e-3 and b offset 5m", {"a", "b"}, id="numbers-durations"),
        pytest.param("x > 0x1f or y == Inf or z != NaN", {"x", "y", "z"}, id="hex-inf-nan"),
        pytest.param(
            'label_replace(a, "dst", "$1", "src", "(.*)")', {"a"}, id="strings-not-metrics"
        ),
        pytest.param("max_over_time(d[10m:1m]) @ start()", {"d"}, id="subquery-at"),
        pytest.param("histogram_quantile(0.99, sum(rate(x_bucket[5m])) by (le))", {"x_bucket"}),
        pytest.param("ns:rule:rate5m * 2", {"ns:rule:rate5m"}, id="recorded-name"),
        pytest.param("vector(1)", set(), id="no-metric"),
    ],
)
def test_metric_names(expr: str, names: set[str]) -> None:
    assert check.metric_names(expr) == names


@pytest.mark.parametrize(
    ("query", "exprs"),
    [
        ("label_values(shopmesh_http_requests_total, service)", ["shopmesh_http_requests_total"]),
        ('label_values(a{b="c"}, d)', ['a{b="c"}']),
        ("query_result(topk(3, x))", ["topk(3, x)"]),
        ("label_values(service)", []),
        ("metrics(shopmesh_.*)", []),
    ],
)
def test_template_query_exprs(query: str, exprs: list[str]) -> None:
    assert check.template_query_exprs(query) == exprs


def panel(pid: int, x: int = 0, y: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "type": "timeseries",
        "title": f"p{pid}",
        "gridPos": {"h": 4, "w": 12, "x": x, "y": y},
        "targets": [{"refId": "A", "expr": "up"}],
        **extra,
    }


def dashboard(*panels: dict[str, Any], variables: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "uid": "u",
        "title": "t",
        "schemaVersion": 39,
        "templating": {"list": [{"name": v, "type": "custom"} for v in variables]},
        "panels": list(panels),
    }


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        pytest.param(dashboard(panel(1), panel(2, x=12)), None, id="valid"),
        pytest.param([], "not a JSON object", id="not-an-object"),
        pytest.param({"title": "t"}, "'uid'", id="no-uid"),
        pytest.param(dashboard(panel(1), panel(1, x=12)), "id 1 is used more", id="dup-id"),
        pytest.param(dashboard(panel(1), panel(2, x=6)), "overlaps", id="overlap"),
        pytest.param(dashboard(panel(1, x=20)), "off the 24-column grid", id="off-grid"),
        pytest.param(dashboard(panel(1, targets=[])), "no targets", id="no-targets"),
        pytest.param(
            dashboard(panel(1, targets=[{"refId": "A", "expr": ""}])), "no expr", id="empty-expr"
        ),
        pytest.param(
            dashboard(panel(1, targets=[{"refId": "A", "expr": 'up{a="$nope"}'}])),
            "$nope is used but not defined",
            id="undefined-variable",
        ),
        pytest.param(
            dashboard(
                panel(1, targets=[{"refId": "A", "expr": 'up{a="$svc"}[$__rate_interval]'}]),
                variables=("svc",),
            ),
            None,
            id="defined-and-builtin-variables",
        ),
    ],
)
def test_dashboard_shape(doc: Any, problem: str | None) -> None:
    problems: list[str] = []
    check.dashboard_expressions(doc, problems)
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_exported_series_come_from_the_services_registry() -> None:
    check.import_everything(check.service_packages())
    series = check.exported_series()
    assert "shopmesh_common" in check.service_packages()
    assert {
        "shopmesh_orders_placed_total",  # orders' placing module, imported by the walk
        "shopmesh_dead_letters",
        "shopmesh_http_request_duration_seconds_bucket",
        "shopmesh_breaker_state",
    } <= series
    # A gauge has no buckets, a histogram no _total: suffixes follow the family's type.
    assert "shopmesh_breaker_state_bucket" not in series
    assert "shopmesh_http_request_duration_seconds_total" not in series


@pytest.mark.parametrize(
    ("expr", "failure"),
    [
        pytest.param("sum(rate(shopmesh_http_requests_total[5m]))", None, id="exported"),
        pytest.param("rate(shopmesh_no_such_thing_total[5m])", "no service exports", id="unknown"),
        pytest.param("sum(rate(x[5m]) by (le)", "promtool refuses", id="syntax"),
    ],
)
def test_main_on_a_dashboard(tmp_path: Path, expr: str, failure: str | None, capsys: Any) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps(dashboard(panel(1, targets=[{"refId": "A", "expr": expr}]))))
    code = check.main([str(path)])
    err = capsys.readouterr().err
    assert (code, failure is None or failure in err) == (0 if failure is None else 1, True), err


def test_main_on_rules_with_an_unknown_metric(tmp_path: Path, capsys: Any) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text(
        "groups:\n- name: g\n  rules:\n"
        "  - record: shop:errors:rate5m\n    expr: rate(shopmesh_http_requests_total[5m])\n"
        "  - alert: A\n    expr: shop:errors:rate5m > 1\n"  # a recorded series is known
        "  - alert: B\n    expr: shopmesh_typo_total > 1\n"
    )
    assert check.main(["--rules", str(rules)]) == 1
    err = capsys.readouterr().err
    assert "rule B reads shopmesh_typo_total" in err
    assert "rule A" not in err


def test_prometheus_rule_carries_the_plain_groups() -> None:
    source = (
        "# comment\ngroups:\n  - name: g\n    rules:\n"
        "      - alert: A\n        expr: |\n          up\n            == 0\n"
    )
    rendered = prometheus_rule.render_prometheus_rule(source)
    prometheus_rule.check_same_groups(source, rendered)
    assert "kind: PrometheusRule" in rendered
    assert "  groups:\n    - name: g\n" in rendered
    with pytest.raises(ValueError, match="groups"):
        prometheus_rule.render_prometheus_rule("rules: []\n")
