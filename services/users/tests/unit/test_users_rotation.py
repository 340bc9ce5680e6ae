"""The rotation window: which keys the JWKS publishes and which key signs, at which times."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shopmesh_users.domain.keys import (
    SigningKey,
    current_signing_key,
    generate_signing_key,
    needs_new_key,
    published_keys,
    retire_expired,
    rotate_keys,
)

T0 = datetime(2030, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)  # first rotation (A -> B)
T2 = T1 + timedelta(seconds=100)  # second rotation (B -> C)
OVERLAP = timedelta(seconds=960)  # ttl 900 + 60

A = generate_signing_key(T0)
B = generate_signing_key(T1)
C = generate_signing_key(T2)
NAMES = {A.kid: "A", B.kid: "B", C.kid: "C"}

ONE_KEY = [A]
ROTATED_ONCE = rotate_keys(ONE_KEY, new_key=B, now=T1, overlap=OVERLAP)
ROTATED_TWICE = rotate_keys(ROTATED_ONCE, new_key=C, now=T2, overlap=OVERLAP)


def _names(keys: list[SigningKey]) -> list[str]:
    return [NAMES[k.kid] for k in keys]


def _at(seconds_after_t1: float) -> datetime:
    return T1 + timedelta(seconds=seconds_after_t1)


@pytest.mark.parametrize(
    ("ring", "now", "published", "signer"),
    [
        pytest.param(ONE_KEY, T0, ["A"], "A", id="first-key-at-creation"),
        pytest.param(ONE_KEY, T0 - timedelta(seconds=1), ["A"], None, id="published-before-active"),
        pytest.param(ONE_KEY, _at(10_000), ["A"], "A", id="unrotated-key-never-expires"),
        pytest.param(ROTATED_ONCE, T1, ["A", "B"], "B", id="new-key-signs-at-rotation"),
        pytest.param(ROTATED_ONCE, _at(959), ["A", "B"], "B", id="old-key-in-overlap"),
        pytest.param(ROTATED_ONCE, _at(960), ["B"], "B", id="old-key-gone-at-retire-at"),
        pytest.param(ROTATED_ONCE, _at(5_000), ["B"], "B", id="long-after-rotation"),
        pytest.param(ROTATED_TWICE, T2, ["A", "B", "C"], "C", id="two-rotations-in-overlap"),
        pytest.param(ROTATED_TWICE, _at(960), ["B", "C"], "C", id="first-key-gone-first"),
        pytest.param(ROTATED_TWICE, _at(1_060), ["C"], "C", id="second-key-gone-later"),
    ],
)
def test_rotation_window(
    ring: list[SigningKey], now: datetime, published: list[str], signer: str | None
) -> None:
    assert _names(published_keys(ring, now)) == published
    key = current_signing_key(ring, now)
    assert (NAMES[key.kid] if key else None) == signer


def test_rotation_sets_retire_at_to_now_plus_overlap() -> None:
    retire = {NAMES[k.kid]: k.retire_at for k in ROTATED_ONCE}
    assert retire == {"A": T1 + OVERLAP, "B": None}


def test_a_second_rotation_does_not_extend_a_retiring_key() -> None:
    retire = {NAMES[k.kid]: k.retire_at for k in ROTATED_TWICE}
    assert retire == {"A": T1 + OVERLAP, "B": T2 + OVERLAP, "C": None}


def test_rotation_after_the_overlap_retires_and_forgets_the_old_private_key() -> None:
    later = _at(2_000)
    ring = rotate_keys(
        ROTATED_ONCE, new_key=generate_signing_key(later), now=later, overlap=OVERLAP
    )
    old = next(k for k in ring if k.kid == A.kid)
    assert old.retired
    assert old.private_key is None


@pytest.mark.parametrize(
    ("ring", "expected"),
    [
        pytest.param([], True, id="no-keys-first-start"),
        pytest.param(ONE_KEY, False, id="an-active-key"),
        pytest.param(ROTATED_ONCE, False, id="active-and-retiring"),
        pytest.param([replace(A, retire_at=T1)], True, id="only-a-retiring-key"),
        pytest.param(retire_expired([replace(A, retire_at=T1)], T1), True, id="only-retired"),
    ],
)
def test_needs_new_key(ring: list[SigningKey], expected: bool) -> None:
    assert needs_new_key(ring) is expected
