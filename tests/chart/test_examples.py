"""examples/microservices/ is generated (`python -m ci.topology examples`): what the chart
renders for namespace shop with ci/shop-external-values.yaml. A hand edit, or a topology or
chart change without regenerating, fails here."""

from __future__ import annotations

from ci.topology import load_topology
from ci.topology.chart import EXAMPLES_DIR, build_examples, stale_examples


def test_the_examples_are_what_the_generator_writes(helm: str) -> None:
    files = build_examples(helm, load_topology())
    assert stale_examples(files) == [], "run: .venv/bin/python -m ci.topology examples"


def test_nothing_else_in_the_examples_but_the_namespace(helm: str) -> None:
    files = build_examples(helm, load_topology())
    present = {path.name for path in EXAMPLES_DIR.glob("*.yaml")}
    assert present == {"00-namespace.yaml", *files}
