"""Table tests for `render.peer_authentication`: the mTLS mode of spec.mesh.mtls
(STRICT by default) for exactly this service's pods."""

from __future__ import annotations

from typing import Any

import pytest

from shopmesh_operator.render import build_peer_authentication

from .microservices import SELECTOR, make_microservice


@pytest.mark.parametrize(
    ("spec", "mode"),
    [
        pytest.param({}, "STRICT", id="default-strict"),
        pytest.param({"mesh": {"mtls": "STRICT"}}, "STRICT", id="strict"),
        pytest.param({"mesh": {"mtls": "PERMISSIVE"}}, "PERMISSIVE", id="permissive"),
        pytest.param({"mesh": {"mtls": "DISABLE"}}, "DISABLE", id="disable"),
    ],
)
def test_peer_authentication(spec: dict[str, Any], mode: str) -> None:
    policy = build_peer_authentication(make_microservice(**spec))
    assert (policy["apiVersion"], policy["kind"]) == ("security.istio.io/v1", "PeerAuthentication")
    assert policy["spec"] == {"selector": {"matchLabels": SELECTOR}, "mtls": {"mode": mode}}
