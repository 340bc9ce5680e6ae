"""The expiry sweeper: releases RESERVED reservations whose time ran out (stock back).

`sweep_expired` releases every overdue reservation in batches (one transaction per batch,
rows taken with SKIP LOCKED so it never waits for a request working on the same order);
`run_sweeper` calls it every `interval` seconds as a `Background` task started by main.
"""

from __future__ import annotations

import asyncio
import logging

from shopmesh_common.db import Database

from ..adapters import repository as repo
from ..domain.reservations import Action
from ..metrics import Outcome, count
from .reservations import apply_action

log = logging.getLogger(__name__)


async def sweep_expired(db: Database, *, batch: int = 100) -> int:
    """Release every reservation past its expiry; returns how many."""
    released = 0
    while True:
        async with db.transaction() as conn:
            due = await repo.lock_due_reservations(conn, limit=batch)
            await apply_action(conn, due, Action.EXPIRE)
        count(Outcome.EXPIRED, len(due))
        released += len(due)
        if len(due) < batch:
            if released:
                log.info("released %d expired reservation(s)", released)
            return released


async def run_sweeper(db: Database, *, interval: float, batch: int = 100) -> None:
    """Sweep forever, every `interval` seconds (a crash is restarted by Background)."""
    while True:
        await sweep_expired(db, batch=batch)
        await asyncio.sleep(interval)
