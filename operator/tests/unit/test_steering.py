"""The steering annotation: commands read once, and a change to it wakes the operator."""

from __future__ import annotations

import kopf
import pytest

from shopmesh_operator import constants as c
from shopmesh_operator.steering import ANNOTATION, Command, pending_command, read_command


def test_kopf_sees_a_change_of_the_annotation() -> None:
    """kopf leaves annotations under its storage prefix (ours: shopmesh.io/) out of what
    it compares, so a command there would never trigger the update handler."""
    storage = kopf.AnnotationsDiffBaseStorage(prefix=c.GROUP, key="last-handled-configuration")
    annotations = {f"{c.GROUP}/kopf-managed": "yes", ANNOTATION: Command("a", "pause").encode()}
    body = kopf.Body({"metadata": {"name": "cart", "annotations": annotations}, "spec": {}})

    essence = storage.build(body=body)

    assert essence["metadata"]["annotations"][ANNOTATION] == annotations[ANNOTATION]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"id": "a1", "verb": "promote", "full": true}', Command("a1", "promote", full=True)),
        ('{"id": "a1", "verb": "abort"}', Command("a1", "abort")),
        ('{"id": "a1", "verb": "explode"}', None),
        ('{"verb": "abort"}', None),
        ("not json", None),
        ("[1, 2]", None),
        ("", None),
    ],
)
def test_read_command(raw: str, expected: Command | None) -> None:
    assert read_command({ANNOTATION: raw}) == expected


def test_a_command_carried_out_is_not_pending() -> None:
    annotations = {ANNOTATION: Command("a1", "abort").encode()}
    assert pending_command(annotations, steered="a1") is None
    assert pending_command(annotations, steered="z9") == Command("a1", "abort")
