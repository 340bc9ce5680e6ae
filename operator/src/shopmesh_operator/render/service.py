"""The ClusterIP Services in front of a Microservice's pods.

The port is named `http` (with appProtocol) so Istio treats the traffic as HTTP.
With the BlueGreen strategy the `<name>` Service selects the stable track only (the
active version; traffic.py's BlueGreen router moves it to the preview track at the
switch), and a second Service, `<name>-preview`, selects the preview track: the new
version before it is promoted. Used by render/__init__.py.
"""

from __future__ import annotations

from typing import Any

from shopmesh_operator import constants as c
from shopmesh_operator.models import Microservice
from shopmesh_operator.render.metadata import build_metadata, build_selector_labels


def build_service(ms: Microservice) -> dict[str, Any]:
    selector = build_selector_labels(ms)
    if ms.spec.rollout.strategy == "BlueGreen":
        selector = {**selector, c.LABEL_TRACK: c.TRACK_STABLE}
    return _service(ms, ms.metadata.name, selector)


def preview_name(ms: Microservice) -> str:
    return f"{ms.metadata.name}-{c.TRACK_PREVIEW}"


def build_preview_service(ms: Microservice) -> dict[str, Any] | None:
    """The `<name>-preview` Service of the BlueGreen strategy (None for the others)."""
    if ms.spec.rollout.strategy != "BlueGreen":
        return None
    selector = {**build_selector_labels(ms), c.LABEL_TRACK: c.TRACK_PREVIEW}
    return _service(ms, preview_name(ms), selector)


def _service(ms: Microservice, name: str, selector: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": build_metadata(ms, name=name),
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [
                {
                    "name": "http",
                    "port": ms.spec.port,
                    "targetPort": "http",
                    "protocol": "TCP",
                    "appProtocol": "http",
                }
            ],
        },
    }
