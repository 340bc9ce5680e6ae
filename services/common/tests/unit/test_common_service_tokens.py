"""Service tokens as tables: settings from the environment, minting, and every way a token
is refused (expired, wrong audience, wrong algorithm including none, tampered, forged with
another secret, too long-lived, unknown caller) or accepted."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from pydantic import ValidationError

from shopmesh_common.service_auth import (
    Caller,
    HS256TokenSource,
    ServiceAuthSettings,
    ServiceTokenVerifier,
    TokenRejected,
    mint_token,
    token_source_from_env,
)

SECRET = b"s" * 64  # long enough for the HS512 case too
OTHER_SECRET = b"o" * 64


def claims(**overrides: Any) -> dict[str, Any]:
    """Good claims from orders to inventory, with `overrides` (None drops a claim); iat and
    exp are given in seconds from now."""
    base: dict[str, Any] = {
        "iss": "orders",
        "sub": "orders",
        "aud": "inventory",
        "iat": 0,
        "exp": 60,
        "jti": "j1",
    }
    base.update(overrides)
    now = int(time.time())
    for name in ("iat", "exp"):
        if isinstance(base[name], int):
            base[name] += now
    return {name: value for name, value in base.items() if value is not None}


def signed(secret: bytes = SECRET, algorithm: str = "HS256", **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), secret, algorithm=algorithm)


def unsigned() -> str:
    """alg "none": a token anyone can write."""

    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims())}."


def tampered() -> str:
    """A good token whose payload now claims to come from payments."""
    header, _payload, signature = signed().split(".")
    forged = base64.urlsafe_b64encode(json.dumps(claims(iss="payments", sub="payments")).encode())
    return f"{header}.{forged.rstrip(b'=').decode()}.{signature}"


def es256() -> str:
    from cryptography.hazmat.primitives.asymmetric import ec

    return jwt.encode(claims(), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")


@pytest.fixture(autouse=True)
def _no_auth_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SHOPMESH_SERVICE_TOKEN_SECRET",
        "SHOPMESH_SERVICE_TOKEN_TTL_SECONDS",
        "SHOPMESH_ALLOWED_CALLERS",
        "SHOPMESH_REQUIRE_SERVICE_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)


def verifier(*allowed: str) -> ServiceTokenVerifier:
    return ServiceTokenVerifier(SECRET, service="inventory", allowed_callers=frozenset(allowed))


@pytest.mark.parametrize(
    ("token", "allowed", "status", "reason"),
    [
        pytest.param(lambda: signed(), (), None, None, id="good"),
        pytest.param(lambda: signed(), ("orders",), None, None, id="good-allowed-caller"),
        pytest.param(lambda: signed(), ("gateway",), 403, "caller", id="caller-not-allowed"),
        pytest.param(lambda: signed(iat=-120, exp=-60), (), 401, "expired", id="expired"),
        pytest.param(
            lambda: signed(iat=-62, exp=-2),
            (),
            None,
            None,
            id="expired-in-leeway",
        ),
        pytest.param(
            lambda: signed(iat=60, exp=120),
            (),
            401,
            "not-yet-valid",
            id="issued-in-the-future",
        ),
        pytest.param(lambda: signed(aud="payments"), (), 401, "audience", id="wrong-audience"),
        pytest.param(
            lambda: signed(aud=["inventory", "payments"]), (), 401, "audience", id="audience-list"
        ),
        pytest.param(lambda: unsigned(), (), 401, "algorithm", id="alg-none"),
        pytest.param(lambda: signed(algorithm="HS512"), (), 401, "algorithm", id="alg-hs512"),
        pytest.param(lambda: es256(), (), 401, "algorithm", id="alg-es256"),
        pytest.param(lambda: tampered(), (), 401, "signature", id="tampered"),
        pytest.param(lambda: signed(OTHER_SECRET), (), 401, "signature", id="other-secret"),
        pytest.param(lambda: signed(jti=None), (), 401, "claims", id="no-jti"),
        pytest.param(lambda: signed(aud=None), (), 401, "claims", id="no-audience"),
        pytest.param(lambda: signed(exp=None), (), 401, "claims", id="no-exp"),
        pytest.param(lambda: signed(sub="gateway"), (), 401, "claims", id="iss-is-not-sub"),
        pytest.param(lambda: signed(exp=3600), (), 401, "lifetime", id="lives-an-hour"),
        pytest.param(lambda: "not.a.token", (), 401, "invalid", id="garbage"),
        pytest.param(lambda: "", (), 401, "invalid", id="empty"),
    ],
)
def test_verify(
    token: Callable[[], str], allowed: tuple[str, ...], status: int | None, reason: str | None
) -> None:
    if status is None:
        caller = verifier(*allowed).verify(token())
        assert caller.name == "orders"
        return
    with pytest.raises(TokenRejected) as rejected:
        verifier(*allowed).verify(token())
    assert (rejected.value.status, rejected.value.reason) == (status, reason)


def test_a_minted_token_carries_every_claim_and_verifies() -> None:
    token = mint_token(
        secret=SECRET, caller="orders", audience="inventory", ttl_seconds=60, now=time.time()
    )

    decoded = jwt.decode(token, SECRET, algorithms=["HS256"], audience="inventory")

    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    assert decoded["iss"] == decoded["sub"] == "orders"
    assert decoded["exp"] - decoded["iat"] == 60
    assert decoded["jti"]
    assert verifier().verify(token) == Caller(
        name="orders", token_id=decoded["jti"], expires_at=float(decoded["exp"])
    )


def test_the_verifier_remembers_a_good_token_until_it_expires() -> None:
    now = [time.time()]
    checker = ServiceTokenVerifier(
        SECRET, service="inventory", allowed_callers=frozenset({"orders"}), clock=lambda: now[0]
    )
    token = signed()

    first = checker.verify(token)
    assert checker.verify(token) is first  # served from memory, not decoded again

    now[0] = first.expires_at + 10  # expired by the verifier's clock: decoded again
    assert checker.verify(token) is not first


def test_a_remembered_token_is_still_refused_to_a_caller_not_allowed() -> None:
    token = signed()
    assert verifier("orders").verify(token).name == "orders"

    with pytest.raises(TokenRejected) as rejected:
        verifier("gateway").verify(token)

    assert rejected.value.status == 403


@pytest.mark.parametrize(
    ("elapsed", "same_token"),
    [
        pytest.param(0, True, id="fresh"),
        pytest.param(29, True, id="less-than-half-its-life"),
        pytest.param(31, False, id="more-than-half-its-life"),
        pytest.param(120, False, id="expired"),
    ],
)
def test_the_token_source_reuses_a_token_until_half_its_life_is_gone(
    elapsed: float, same_token: bool
) -> None:
    now = [time.time()]
    source = HS256TokenSource(SECRET, caller="orders", ttl_seconds=60, clock=lambda: now[0])
    first = source.token_for("inventory")

    now[0] += elapsed
    again = source.token_for("inventory")

    assert (again == first) is same_token
    assert source.token_for("payments") != again  # one token per audience
    assert jwt.decode(again, SECRET, algorithms=["HS256"], audience="inventory", leeway=200)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({}, {"secret": None, "callers": frozenset()}, id="unset"),
        pytest.param(
            {"SHOPMESH_SERVICE_TOKEN_SECRET": ""}, {"secret": None}, id="empty-secret-is-unset"
        ),
        pytest.param(
            {"SHOPMESH_SERVICE_TOKEN_SECRET": "k" * 32}, {"secret": b"k" * 32}, id="secret"
        ),
        pytest.param(
            {"SHOPMESH_ALLOWED_CALLERS": " orders, gateway ,,"},
            {"callers": frozenset({"orders", "gateway"})},
            id="comma-list",
        ),
        pytest.param({"SHOPMESH_ALLOWED_CALLERS": ""}, {"callers": frozenset()}, id="any-caller"),
        pytest.param(
            {"SHOPMESH_REQUIRE_SERVICE_TOKEN": "false"}, {"required": False}, id="edge-service"
        ),
    ],
)
def test_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: dict[str, object]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    settings = ServiceAuthSettings()

    found = {
        "secret": settings.secret,
        "callers": settings.allowed_callers,
        "required": settings.require_service_token,
    }
    assert {name: found[name] for name in expected} == expected


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({"SHOPMESH_SERVICE_TOKEN_SECRET": "k" * 31}, id="secret-31-bytes"),
        pytest.param({"SHOPMESH_SERVICE_TOKEN_TTL_SECONDS": "3600"}, id="ttl-an-hour"),
        pytest.param({"SHOPMESH_SERVICE_TOKEN_TTL_SECONDS": "1"}, id="ttl-a-second"),
    ],
)
def test_bad_settings_are_refused_without_showing_the_secret(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(ValidationError) as error:
        ServiceAuthSettings()

    assert "k" * 31 not in str(error.value)


@pytest.mark.parametrize(
    ("secret", "has_source"),
    [pytest.param(None, False, id="no-secret"), pytest.param("k" * 32, True, id="secret")],
)
def test_token_source_from_env(
    monkeypatch: pytest.MonkeyPatch, secret: str | None, has_source: bool
) -> None:
    if secret:
        monkeypatch.setenv("SHOPMESH_SERVICE_TOKEN_SECRET", secret)

    source = token_source_from_env("orders")

    assert (source is not None) is has_source
    if source is not None and secret is not None:
        token = source.token_for("inventory")
        decoded = jwt.decode(token, secret, algorithms=["HS256"], audience="inventory")
        assert decoded["sub"] == "orders"
