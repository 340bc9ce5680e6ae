"""The simulated payment provider: latency, errors, declines and hangs on demand.

One `SimulatedProvider` per process (on app.state) holds the current `Faults`; `PUT
/admin/faults` swaps them at run time (per replica: each pod has its own knobs). A charge
sleeps `latency_ms`, then raises `ProviderError` (nothing happened: retry), or answers
declined or approved; an approved answer may carry `hang`, which the service layer honours
with `hang()` *after* recording the charge: the money moved but the caller never hears it.
Refunds always succeed (compensation must be able to finish). Used by service_layer.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..domain.charges import DECLINE_REASON
from ..domain.faults import Faults, RollOutcome, roll_faults

Sleep = Callable[[float], Awaitable[None]]


class ProviderError(Exception):
    """The provider failed before doing anything (a transient error)."""


@dataclass(frozen=True)
class ProviderAnswer:
    """The provider's final answer to a charge."""

    approved: bool
    decline_reason: str | None = None
    hang: bool = False


class SimulatedProvider:
    """A payment provider that fails as often as its knobs say."""

    def __init__(
        self,
        faults: Faults,
        *,
        hang_seconds: float = 30.0,
        seed: int | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._faults = faults
        self._hang_seconds = hang_seconds
        self._rng = random.Random(seed)
        self._sleep = sleep

    @property
    def faults(self) -> Faults:
        """The knobs in force."""
        return self._faults

    def set_faults(self, faults: Faults) -> None:
        """Change the knobs; charges already rolling keep the old ones."""
        self._faults = faults

    async def charge(self, *, amount_cents: int) -> ProviderAnswer:
        """Charge `amount_cents`: approved, declined, or ProviderError."""
        faults = self._faults
        roll = roll_faults(faults, self._rng)  # before the sleep: outcomes follow call order
        if faults.latency_ms:
            await self._sleep(faults.latency_ms / 1000)
        if roll.outcome is RollOutcome.ERROR:
            raise ProviderError(f"the payment provider failed to charge {amount_cents} cents")
        if roll.outcome is RollOutcome.DECLINED:
            return ProviderAnswer(approved=False, decline_reason=DECLINE_REASON)
        return ProviderAnswer(approved=True, hang=roll.hang)

    async def refund(self, *, amount_cents: int) -> None:
        """Give `amount_cents` back (never fails here)."""

    async def hang(self) -> None:
        """Hold the answer of a charge that went through (the "lost response" fault)."""
        await self._sleep(self._hang_seconds)
