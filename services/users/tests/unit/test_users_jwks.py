"""Public JWKs of the signing keys: their shape, their kid, and the PEM round trip."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shopmesh_users.domain.keys import (
    generate_signing_key,
    load_private_pem,
    private_pem,
    public_jwk,
    thumbprint,
)

KEY = generate_signing_key(datetime.now(UTC))


def _b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        pytest.param("kty", "EC", id="kty"),
        pytest.param("crv", "P-256", id="crv"),
        pytest.param("alg", "ES256", id="alg"),
        pytest.param("use", "sig", id="use"),
        pytest.param("kid", KEY.kid, id="kid"),
    ],
)
def test_jwk_members(member: str, expected: str) -> None:
    assert KEY.public_jwk[member] == expected


def test_jwk_has_only_public_members() -> None:
    assert set(KEY.public_jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert "d" not in KEY.public_jwk


@pytest.mark.parametrize("coordinate", ["x", "y"])
def test_coordinates_are_32_byte_base64url(coordinate: str) -> None:
    value = KEY.public_jwk[coordinate]
    assert "=" not in value
    assert len(_b64decode(value)) == 32


def test_kid_is_the_rfc7638_thumbprint_and_differs_per_key() -> None:
    other = generate_signing_key(datetime.now(UTC))
    assert KEY.kid == thumbprint(KEY.public_jwk)
    assert len(_b64decode(KEY.kid)) == 32
    assert other.kid != KEY.kid


def test_pyjwk_rebuilds_the_public_key() -> None:
    assert KEY.private_key is not None
    rebuilt = jwt.PyJWK(KEY.public_jwk).key
    assert isinstance(rebuilt, ec.EllipticCurvePublicKey)
    assert rebuilt.public_numbers() == KEY.private_key.public_key().public_numbers()


def test_pem_round_trip_keeps_the_key() -> None:
    assert KEY.private_key is not None
    loaded = load_private_pem(private_pem(KEY.private_key))
    assert public_jwk(loaded) == KEY.public_jwk


def test_loading_a_non_ec_pem_fails() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(ValueError, match="not an EC"):
        load_private_pem(pem)
