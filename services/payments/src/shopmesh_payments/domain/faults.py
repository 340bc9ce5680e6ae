"""The simulated provider's fault knobs and the roll that applies them to one charge.

`Faults` are the four knobs (rates 0..1, latency 0..60000 ms); `roll_faults` draws three
numbers from a `random.Random` for every charge, whatever the knobs, so a seeded generator
gives the same sequence of outcomes for the same knobs (tests, reproducible demos). An
error wins over a decline; a hang only matters for an approved charge. Used by
adapters.provider and the settings.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

MAX_LATENCY_MS = 60_000


@dataclass(frozen=True)
class Faults:
    """How often the provider declines, errors or hangs, and how slow it is."""

    decline_rate: float = 0.0
    error_rate: float = 0.0
    hang_rate: float = 0.0
    latency_ms: int = 0

    def __post_init__(self) -> None:
        for name in ("decline_rate", "error_rate", "hang_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be within 0..1, got {rate}")
        if not 0 <= self.latency_ms <= MAX_LATENCY_MS:
            raise ValueError(
                f"latency_ms must be within 0..{MAX_LATENCY_MS}, got {self.latency_ms}"
            )


class RollOutcome(StrEnum):
    """What the provider answers."""

    ERROR = "error"  # 503: nothing happened, the caller may retry
    DECLINED = "declined"  # 402: a final answer
    APPROVED = "approved"  # 201: charged


@dataclass(frozen=True)
class Roll:
    """The result of the dice for one charge."""

    outcome: RollOutcome
    hang: bool  # approved, but the answer is held back (only meaningful when approved)


def roll_faults(faults: Faults, rng: random.Random) -> Roll:
    """Roll error, decline and hang for one charge (always three draws)."""
    error_draw, decline_draw, hang_draw = rng.random(), rng.random(), rng.random()
    if error_draw < faults.error_rate:
        outcome = RollOutcome.ERROR
    elif decline_draw < faults.decline_rate:
        outcome = RollOutcome.DECLINED
    else:
        outcome = RollOutcome.APPROVED
    return Roll(outcome, hang=outcome is RollOutcome.APPROVED and hang_draw < faults.hang_rate)
