"""Unit tests of the simulated provider: fault rolls (seeded Random) and their effects."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from shopmesh_payments.adapters.provider import ProviderAnswer, ProviderError, SimulatedProvider
from shopmesh_payments.domain.faults import Faults, Roll, RollOutcome, roll_faults


class FixedDraws(random.Random):
    """A Random whose draws are given in advance."""

    def __init__(self, *draws: float) -> None:
        super().__init__()
        self._draws = list(draws)

    def random(self) -> float:
        return self._draws.pop(0)


ERROR, DECLINED, APPROVED = RollOutcome.ERROR, RollOutcome.DECLINED, RollOutcome.APPROVED


@pytest.mark.parametrize(
    ("faults", "draws", "roll"),
    [
        pytest.param(Faults(), (0.0, 0.0, 0.0), Roll(APPROVED, False), id="no-faults-never-fail"),
        pytest.param(Faults(error_rate=0.5), (0.49, 0.9, 0.9), Roll(ERROR, False), id="error-hit"),
        pytest.param(Faults(error_rate=0.5), (0.5, 0.9, 0.9), Roll(APPROVED, False), id="err-miss"),
        pytest.param(
            Faults(error_rate=1, decline_rate=1),
            (0.99, 0.0, 0.0),
            Roll(ERROR, False),
            id="error-wins-over-decline",
        ),
        pytest.param(Faults(decline_rate=0.3), (0.9, 0.2, 0.0), Roll(DECLINED, False), id="decl"),
        pytest.param(
            Faults(decline_rate=0.3, hang_rate=1),
            (0.9, 0.2, 0.0),
            Roll(DECLINED, False),
            id="no-hang-on-decline",
        ),
        pytest.param(Faults(hang_rate=0.25), (0.9, 0.9, 0.1), Roll(APPROVED, True), id="hang"),
        pytest.param(Faults(hang_rate=0.25), (0.9, 0.9, 0.3), Roll(APPROVED, False), id="no-hang"),
        pytest.param(
            Faults(error_rate=1, hang_rate=1),
            (0.5, 0.5, 0.0),
            Roll(ERROR, False),
            id="no-hang-on-error",
        ),
    ],
)
def test_roll_table(faults: Faults, draws: tuple[float, float, float], roll: Roll) -> None:
    assert roll_faults(faults, FixedDraws(*draws)) == roll


def test_every_roll_draws_three_numbers_whatever_the_knobs() -> None:
    quiet, noisy = random.Random(42), random.Random(42)
    roll_faults(Faults(), quiet)
    roll_faults(Faults(error_rate=1, decline_rate=1, hang_rate=1), noisy)
    assert quiet.random() == noisy.random()


def test_seeded_rolls_repeat_and_follow_the_rates() -> None:
    faults = Faults(error_rate=0.1, decline_rate=0.2, hang_rate=0.5)
    rng_a, rng_b = random.Random(7), random.Random(7)
    rolls_a = [roll_faults(faults, rng_a) for _ in range(4000)]
    rolls_b = [roll_faults(faults, rng_b) for _ in range(4000)]
    assert rolls_a == rolls_b
    outcomes = Counter(roll.outcome for roll in rolls_a)
    assert 0.08 < outcomes[ERROR] / 4000 < 0.12
    assert 0.16 < outcomes[DECLINED] / 4000 < 0.20  # 0.2 of the 0.9 that did not error
    hangs = sum(roll.hang for roll in rolls_a)
    assert 0.45 < hangs / outcomes[APPROVED] < 0.55


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"decline_rate": -0.1}, id="negative-rate"),
        pytest.param({"error_rate": 1.01}, id="rate-above-1"),
        pytest.param({"hang_rate": 2}, id="hang-rate-2"),
        pytest.param({"latency_ms": -1}, id="negative-latency"),
        pytest.param({"latency_ms": 60_001}, id="latency-above-60s"),
    ],
)
def test_faults_out_of_range_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be within"):
        Faults(**kwargs)  # type: ignore[arg-type]


class Sleeps:
    """A fake sleep that records what it was asked to wait."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.mark.parametrize(
    ("faults", "answer", "sleeps"),
    [
        pytest.param(Faults(), ProviderAnswer(approved=True), [], id="approved-no-latency"),
        pytest.param(
            Faults(latency_ms=1500), ProviderAnswer(approved=True), [1.5], id="latency-first"
        ),
        pytest.param(
            Faults(decline_rate=1, latency_ms=20),
            ProviderAnswer(approved=False, decline_reason="insufficient_funds"),
            [0.02],
            id="declined",
        ),
        pytest.param(
            Faults(hang_rate=1), ProviderAnswer(approved=True, hang=True), [], id="hang-flagged"
        ),
    ],
)
async def test_provider_charge(faults: Faults, answer: ProviderAnswer, sleeps: list[float]) -> None:
    sleep = Sleeps()
    provider = SimulatedProvider(faults, seed=1, sleep=sleep)
    assert await provider.charge(amount_cents=100) == answer
    assert sleep.calls == sleeps


async def test_provider_error_after_latency_and_hang_sleeps_hang_seconds() -> None:
    sleep = Sleeps()
    provider = SimulatedProvider(Faults(error_rate=1, latency_ms=300), hang_seconds=7, sleep=sleep)
    with pytest.raises(ProviderError):
        await provider.charge(amount_cents=100)
    await provider.hang()
    assert sleep.calls == [0.3, 7]


async def test_knobs_change_at_run_time() -> None:
    provider = SimulatedProvider(Faults(error_rate=1), seed=3, sleep=Sleeps())
    with pytest.raises(ProviderError):
        await provider.charge(amount_cents=1)
    provider.set_faults(Faults())
    assert (await provider.charge(amount_cents=1)).approved
    assert provider.faults == Faults()
