"""The chart's ClusterRole grants every call reconcile makes on a child: the
verbs of server-side apply on all of them, and `delete` on the optional kinds
that reconcile removes again when the spec stops asking for them; and the reads
that explain a stuck rollout: pods (listed, and watched by watch.py) and their Events."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from shopmesh_operator import constants as c
from shopmesh_operator.apply import RESOURCES
from shopmesh_operator.reconcile import OPTIONAL_KINDS

CLUSTERROLE = Path(__file__).parents[3] / "charts/shopmesh/templates/clusterrole.yaml"


def _rules() -> list[dict[str, Any]]:
    """The rules of the template, with the Helm directives blanked out."""
    text = re.sub(r"\{\{-?.*?-?\}\}", "", CLUSTERROLE.read_text())
    rules: list[dict[str, Any]] = yaml.safe_load(text)["rules"]
    return rules


def _verbs(api_version: str, kind: str) -> set[str]:
    return _granted(api_version.rpartition("/")[0], RESOURCES[(api_version, kind)])


def _granted(group: str, plural: str) -> set[str]:
    return {
        verb
        for rule in _rules()
        if group in rule["apiGroups"] and plural in rule["resources"]
        for verb in rule["verbs"]
    }


@pytest.mark.parametrize(
    ("api_version", "kind"),
    [pytest.param(*key, id=key[1]) for key in RESOURCES if key[1] != c.KIND],
)
def test_children_can_be_read_and_applied(api_version: str, kind: str) -> None:
    assert {"get", "patch"} <= _verbs(api_version, kind)


@pytest.mark.parametrize(
    ("api_version", "kind"), [pytest.param(*key, id=key[1]) for key in OPTIONAL_KINDS]
)
def test_optional_children_can_be_deleted(api_version: str, kind: str) -> None:
    assert "delete" in _verbs(api_version, kind)


@pytest.mark.parametrize(
    ("plural", "verbs"),
    [
        pytest.param("pods", {"list", "watch"}, id="pods"),
        pytest.param("events", {"list", "create"}, id="events"),
    ],
)
def test_pods_and_their_events_can_be_read(plural: str, verbs: set[str]) -> None:
    assert verbs <= _granted("", plural)
    assert not {"create", "patch", "delete"} & _granted("", "pods")  # read only


def test_replica_sets_can_be_listed_not_written() -> None:
    assert _granted("apps", "replicasets") == {"list"}


def test_the_canary_deployment_can_be_deleted() -> None:
    """A canary release's second Deployment goes when the release ends (canary.py)."""
    assert "delete" in _granted("apps", "deployments")
