"""Check Grafana dashboards and Prometheus rules against the metrics the shop exports.

    check_dashboard.py [--rules RULES.yaml]... [DASHBOARD.json]...

A dashboard must load as JSON shaped like a Grafana dashboard (uid, title, schemaVersion,
panels with unique ids, a type, a title and a grid position on the 24-column grid, no two
overlapping; targets with a refId and an expression; every `$variable` defined), and each of
its PromQL expressions must parse: `promtool check rules` on a throw-away file that records
every expression, Grafana's variables replaced by sample values. For dashboards and rules
alike, every metric an expression reads must be a series some service exports (a recording
rule's output counts too).

"Exported" is read, not listed by hand: every module of `shopmesh_common` and of each service
package (`services/*/src/shopmesh_*`, migrations excepted) is imported, which registers
their metrics in prometheus_client's default registry, and each registered family is
expanded into the series names Prometheus scrapes from it (a counter `x` is `x_total` and
`x_created`, a histogram `x_bucket`, `x_count`, `x_sum` and `x_created`, ...). So
`foo_bucket` passes only when `foo` is a histogram.

The metric names are taken out of PromQL by a small tokenizer below rather than by a parser
library: there is no PromQL parser for Python in the project's reach (Prometheus's own is
Go, and building it would cost minutes of CI), and promtool already checks the syntax, so
the tokenizer only needs to find the names of the selectors: it drops strings, label
matchers, ranges, grouping label lists and Grafana variables, then keeps every identifier
that is neither a keyword nor called like a function.

Used by ci/validate/observability.sh (make validate).
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]

# --- PromQL: the metric names an expression reads -----------------------------------------

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GRAFANA_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_IDENTIFIER = re.compile(r"(?<![\w.:$])[A-Za-z_:][\w:]*")
_KEYWORDS = frozenset(
    {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
    | {"and", "or", "unless", "atan2", "inf", "nan"}
)


def metric_names(expr: str) -> set[str]:
    """The metric names `expr` selects (Grafana variables allowed anywhere)."""
    text = _STRINGS.sub(" ", expr)
    text = _GRAFANA_VARIABLE.sub(" ", text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name = match.group()
        called = text[match.end() :].lstrip().startswith("(")
        if not called and name.lower() not in _KEYWORDS:
            names.add(name)
    return names


def grafana_variables(text: str) -> set[str]:
    """The Grafana variables (`$x`, `${x}`, `${x:fmt}`, `[[x]]`) used in `text`."""
    return {next(g for g in m.groups() if g) for m in _GRAFANA_VARIABLE.finditer(text)}


def template_query_exprs(query: str) -> list[str]:
    """The PromQL inside a Grafana Prometheus variable query, if any."""
    label_values = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", query, re.DOTALL)
    if label_values:
        return [label_values.group(1)]
    query_result = re.fullmatch(r"\s*query_result\((.*)\)\s*", query, re.DOTALL)
    if query_result:
        return [query_result.group(1)]
    return []  # label_values(label), label_names(), metrics(regex): no metric read


# --- what the services export --------------------------------------------------------------

_SERIES_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}


def service_packages() -> list[str]:
    """`shopmesh_common` and every service's package, as laid out under services/."""
    return sorted(path.parent.name for path in REPO.glob("services/*/src/shopmesh_*/__init__.py"))


def import_everything(packages: list[str]) -> None:
    """Import each package and all its modules (migrations run Alembic on import: skipped)."""
    for name in packages:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, prefix=f"{name}."):
            if ".migrations" in module.name or module.name.endswith(".__main__"):
                continue
            importlib.import_module(module.name)


def exported_series() -> set[str]:
    """Every series name the imported modules' metrics expose when scraped."""
    from prometheus_client import REGISTRY

    names: set[str] = set()
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in _SERIES_SUFFIXES[family.type])
        names.update(sample.name for sample in family.samples)
    return names


# --- dashboards ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Expression:
    """One PromQL expression and where it was found, for messages."""

    where: str
    expr: str


def _panels(panels: list[Any]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # a collapsed row keeps its panels


def _check_grid(panels: list[dict[str, Any]], problems: list[str]) -> None:
    taken: dict[tuple[int, int], str] = {}
    for panel in panels:
        grid = panel.get("gridPos")
        name = f"panel {panel.get('id')} {panel.get('title')!r}"
        if not isinstance(grid, dict) or not all(
            isinstance(grid.get(k), int) for k in ("h", "w", "x", "y")
        ):
            problems.append(f"{name}: gridPos needs integer h, w, x and y")
            continue
        if grid["w"] < 1 or grid["h"] < 1 or grid["x"] < 0 or grid["x"] + grid["w"] > 24:
            problems.append(f"{name}: gridPos {grid} is off the 24-column grid")
            continue
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                if (x, y) in taken:
                    problems.append(f"{name} overlaps {taken[(x, y)]}")
                    break
                taken[(x, y)] = name
            else:
                continue
            break


def dashboard_expressions(doc: Any, problems: list[str]) -> list[Expression]:
    """The dashboard's PromQL expressions; what is wrong with its shape goes to `problems`."""
    if not isinstance(doc, dict):
        problems.append("not a JSON object")
        return []
    for key, kind in (("uid", str), ("title", str), ("schemaVersion", int), ("panels", list)):
        if not isinstance(doc.get(key), kind):
            problems.append(f"top-level {key!r} must be a {kind.__name__}")
    if problems:
        return []
    variables = doc.get("templating", {}).get("list", [])
    defined = {v.get("name") for v in variables}
    found: list[Expression] = []
    for variable in variables:
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else query
        if variable.get("type") == "query" and isinstance(text, str):
            found += [
                Expression(f"variable ${variable.get('name')}", e)
                for e in template_query_exprs(text)
            ]
    panels = list(_panels(doc["panels"]))
    if not panels:
        problems.append("no panels")
    ids = [p.get("id") for p in panels]
    for dup in sorted({i for i in ids if ids.count(i) > 1}, key=str):
        problems.append(f"panel id {dup} is used more than once")
    _check_grid(panels, problems)
    for panel in panels:
        name = f"panel {panel.get('id')} {panel.get('title')!r}"
        if not isinstance(panel.get("id"), int) or not panel.get("title") or not panel.get("type"):
            problems.append(f"{name}: needs an integer id, a title and a type")
        if panel.get("type") in ("row", "text"):
            continue
        targets = panel.get("targets")
        if not isinstance(targets, list) or not targets:
            problems.append(f"{name}: no targets")
            continue
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs) or not all(refs):
            problems.append(f"{name}: each target needs its own refId")
        for target in targets:
            expr = target.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                problems.append(f"{name} target {target.get('refId')}: no expr")
                continue
            found.append(Expression(f"{name} target {target.get('refId')}", expr))
    used = set().union(*(grafana_variables(json.dumps(p)) for p in panels))
    for variable in sorted(used - defined):
        if not variable.startswith("__"):  # Grafana's own: $__rate_interval, $__range, ...
            problems.append(f"${variable} is used but not defined in templating")
    return found


def check_syntax(expressions: list[Expression], promtool: str) -> list[str]:
    """promtool's verdict on each expression, Grafana variables replaced by sample values."""
    rules = [
        {
            "record": f"check:expr_{n}",
            "expr": _GRAFANA_VARIABLE.sub(
                lambda m: "5m" if (m.group(1) or m.group(2) or "").startswith("__") else "x",
                e.expr,
            ),
        }
        for n, e in enumerate(expressions)
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as file:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, file)
        file.flush()
        result = subprocess.run(
            [promtool, "check", "rules", file.name], capture_output=True, text=True, check=False
        )
    if result.returncode == 0:
        return []
    verdict = re.sub(
        r"check:expr_(\d+)",
        lambda m: expressions[int(m.group(1))].where,
        f"{result.stdout}{result.stderr}".replace(file.name, "(dashboard expressions)"),
    )
    return [f"promtool refuses an expression: {verdict.strip()}"]


# --- rules ---------------------------------------------------------------------------------


def rule_expressions(doc: Any) -> tuple[list[Expression], set[str]]:
    """The rules' expressions and the series their recording rules create."""
    found: list[Expression] = []
    recorded: set[str] = set()
    for group in (doc or {}).get("groups", []):
        for rule in group.get("rules", []):
            name = rule.get("alert") or rule.get("record")
            found.append(Expression(f"group {group.get('name')} rule {name}", str(rule["expr"])))
            if "record" in rule:
                recorded.add(rule["record"])
    return found, recorded


# --- the check -----------------------------------------------------------------------------


def unexported(expressions: list[Expression], known: set[str]) -> list[str]:
    return [
        f"{e.where} reads {name}, which no service exports"
        for e in expressions
        for name in sorted(metric_names(e.expr) - known)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dashboards", nargs="*", type=Path, help="Grafana dashboard JSON files")
    parser.add_argument("--rules", action="append", type=Path, default=[], help="rules file")
    parser.add_argument("--promtool", default=shutil.which("promtool") or "promtool")
    args = parser.parse_args(argv)
    import_everything(service_packages())
    known = exported_series()
    loaded = {path: yaml.safe_load(path.read_text()) for path in args.rules}
    rules = {path: rule_expressions(doc) for path, doc in loaded.items()}
    for _expressions, recorded in rules.values():
        known |= recorded
    failed = False
    for path, (expressions, _recorded) in rules.items():
        problems = unexported(expressions, known)
        failed |= report(path, problems, expressions)
    for path in args.dashboards:
        problems = []
        try:
            doc = json.loads(path.read_text())
        except ValueError as exc:
            failed |= report(path, [f"not valid JSON: {exc}"], [])
            continue
        expressions = dashboard_expressions(doc, problems)
        if expressions:
            problems += check_syntax(expressions, args.promtool)
        problems += unexported(expressions, known)
        failed |= report(path, problems, expressions)
    return 1 if failed else 0


def report(path: Path, problems: list[str], expressions: list[Expression]) -> bool:
    """Print the verdict on one file; True when it failed."""
    if problems:
        for problem in problems:
            print(f"{path}: {problem}", file=sys.stderr)
        return True
    metrics = set().union(*(metric_names(e.expr) for e in expressions))
    print(f"{path}: {len(expressions)} expressions, {len(metrics)} metrics, all exported")
    return False


if __name__ == "__main__":
    sys.exit(main())
