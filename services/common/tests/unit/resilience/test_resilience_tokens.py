"""Outgoing service tokens: every call to a downstream carries one with aud = the
downstream's name and sub = the calling service, seen by a real HTTP server."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from shopmesh_common.resilience import ClientFactory, DownstreamSettings
from shopmesh_common.service_auth import HS256TokenSource

SECRET = "r" * 32
SERVICE = "resilience-token-tests"
FAST: dict[str, Any] = {"timeout_seconds": 1.0, "retry_attempts": 1}


def authorization(echo: object) -> str | None:
    assert isinstance(echo, dict)
    headers = echo["headers"]
    assert isinstance(headers, dict)
    value = headers.get("authorization")
    return None if value is None else str(value)


def claims(header: str | None, audience: str) -> dict[str, object]:
    assert header is not None
    assert header.startswith("Bearer ")
    decoded: dict[str, object] = jwt.decode(
        header.removeprefix("Bearer "), SECRET, algorithms=["HS256"], audience=audience
    )
    return decoded


@pytest.mark.parametrize(
    ("env_secret", "explicit_source", "signed"),
    [
        pytest.param(None, False, False, id="no-secret-no-token"),
        pytest.param(SECRET, False, True, id="secret-from-the-environment"),
        pytest.param(None, True, True, id="explicit-token-source"),
    ],
)
async def test_each_downstream_gets_a_token_for_itself(
    monkeypatch: pytest.MonkeyPatch,
    server_url: str,
    env_secret: str | None,
    explicit_source: bool,
    signed: bool,
) -> None:
    monkeypatch.delenv("SHOPMESH_SERVICE_TOKEN_SECRET", raising=False)
    if env_secret:
        monkeypatch.setenv("SHOPMESH_SERVICE_TOKEN_SECRET", env_secret)
    source = HS256TokenSource(SECRET.encode(), caller=SERVICE) if explicit_source else None
    downstreams = [
        DownstreamSettings(**(FAST | {"name": name, "base_url": server_url}))
        for name in ("inventory", "payments")
    ]

    async with ClientFactory(SERVICE, downstreams, token_source=source) as factory:
        to_inventory = authorization((await factory["inventory"].request("GET", "/a")).json())
        to_payments = authorization((await factory["payments"].request("POST", "/b")).json())

    if not signed:
        assert to_inventory is None
        assert to_payments is None
        return
    for header, audience in ((to_inventory, "inventory"), (to_payments, "payments")):
        found = claims(header, audience)
        assert (found["aud"], found["iss"], found["sub"]) == (audience, SERVICE, SERVICE)


async def test_the_callers_own_authorization_goes_out_as_it_is(server_url: str) -> None:
    source = HS256TokenSource(SECRET.encode(), caller=SERVICE)
    settings = DownstreamSettings(**(FAST | {"name": "provider", "base_url": server_url}))

    async with ClientFactory(SERVICE, [settings], token_source=source) as factory:
        answer = await factory["provider"].request(
            "GET", "/x", headers={"authorization": "Bearer the-providers-api-key"}
        )

    assert authorization(answer.json()) == "Bearer the-providers-api-key"


async def test_calls_share_the_cached_token(server_url: str) -> None:
    source = HS256TokenSource(SECRET.encode(), caller=SERVICE)
    settings = DownstreamSettings(**(FAST | {"name": "inventory", "base_url": server_url}))

    async with ClientFactory(SERVICE, [settings], token_source=source) as factory:
        first = authorization((await factory["inventory"].request("GET", "/1")).json())
        second = authorization((await factory["inventory"].request("GET", "/2")).json())

    assert first == second
    assert claims(first, "inventory")["sub"] == SERVICE
