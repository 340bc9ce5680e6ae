"""Drives order sagas: call the next step, persist the new state, repeat until terminal.

`SagaRunner.run(order_id)` is level-triggered: it reads the order, asks the pure saga
(`domain.saga.advance`) what the participant's answer means, and stores the result with
`repository.save_transition` together with the outcome event in the outbox — one
transaction per step, so a crash at any point resumes from the last stored step (every
step is idempotent on the participant's side). Between retries of an uncertain step it
sleeps with exponential backoff and keeps its lease.

`SagaRunner.recover()` runs in the background: it claims sagas whose lease ran out (their
runner died) and runs them, so a restarted orders process, or another replica, finishes
every unfinished saga. No order stays PENDING forever: forward steps have deadlines, and
compensations are retried until they succeed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from prometheus_client import Counter, Gauge

from shopmesh_common.db import Database
from shopmesh_common.outbox import add_event

from ..adapters import repository
from ..adapters.participants import Participants
from ..domain.model import Order, outcome_event
from ..domain.saga import Status, Step, StepResult, advance
from ..settings import Settings

log = logging.getLogger(__name__)

ORDERS_FINISHED = Counter(
    "shopmesh_orders_finished_total",
    "Orders that reached CONFIRMED or FAILED",
    ["service", "status", "reason"],
)
SAGA_COMPENSATIONS = Counter(
    "shopmesh_saga_compensations_total",
    "Sagas that started compensating, by reason",
    ["service", "reason"],
)
SAGAS_RUNNING = Gauge("shopmesh_sagas_running", "Sagas being driven by this process", ["service"])


def _now() -> datetime:
    return datetime.now(UTC)


class SagaRunner:
    """Runs sagas for one orders process."""

    def __init__(self, *, db: Database, participants: Participants, settings: Settings) -> None:
        self._db = db
        self._participants = participants
        self._settings = settings
        self._service = settings.service_name
        self._lease = timedelta(seconds=settings.lease_seconds)
        self._step_timeout = timedelta(seconds=settings.step_timeout_seconds)
        self._slots = asyncio.Semaphore(settings.max_concurrent_sagas)
        self._running: dict[uuid.UUID, asyncio.Task[None]] = {}

    def start(self, order_id: uuid.UUID) -> None:
        """Run the saga of `order_id` in the background (once per process)."""
        if order_id in self._running:
            return
        task = asyncio.create_task(self._guarded(order_id), name=f"saga-{order_id}")
        self._running[order_id] = task
        task.add_done_callback(lambda _t: self._running.pop(order_id, None))

    async def _guarded(self, order_id: uuid.UUID) -> None:
        async with self._slots:
            SAGAS_RUNNING.labels(self._service).inc()
            token = None
            try:
                if not trace.get_current_span().get_span_context().is_valid:
                    # Resumed by recovery (no request around): continue the order's trace.
                    async with self._db.connection() as conn:
                        carrier = await repository.trace_context(conn, order_id)
                    token = otel_context.attach(propagate.extract(carrier))
                await self.run(order_id)
            except Exception:
                # The lease runs out and recovery retries it; nothing is lost.
                log.exception("saga %s stopped; recovery will resume it", order_id)
            finally:
                if token is not None:
                    otel_context.detach(token)
                SAGAS_RUNNING.labels(self._service).dec()

    async def run(self, order_id: uuid.UUID) -> None:
        """Drive one saga until it is terminal (or another runner owns it)."""
        backoff = self._settings.retry_backoff_seconds
        while True:
            async with self._db.connection() as conn:
                order = await repository.get(conn, order_id)
            if order is None or order.saga.terminal:
                return
            step = order.saga.next_step
            assert step is not None
            result, learned = await self._participants.call(step, order)
            new_saga = advance(order.saga, result, now=_now(), step_timeout=self._step_timeout)
            if new_saga is order.saga:  # uncertain and still in time: retry after a pause
                async with self._db.connection() as conn:
                    await repository.renew_lease(conn, order_id, self._lease)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._settings.retry_backoff_max_seconds)
                continue
            backoff = self._settings.retry_backoff_seconds
            updated = replace(learned, saga=new_saga)
            if not await self._store(updated, step=step, result=result):
                log.info("saga %s moved on elsewhere; leaving it", order_id)
                return
            if new_saga.status is Status.COMPENSATING and order.status is not Status.COMPENSATING:
                SAGA_COMPENSATIONS.labels(self._service, new_saga.reason or "unknown").inc()
            if new_saga.terminal:
                reason = new_saga.reason or "none"
                ORDERS_FINISHED.labels(self._service, new_saga.status.value, reason).inc()

    async def _store(self, order: Order, *, step: Step, result: StepResult) -> bool:
        """One transaction: the new saga state, its step log line and the outcome event."""
        async with self._db.transaction() as conn:
            saved = await repository.save_transition(
                conn,
                order,
                step=step,
                outcome=result.outcome.value,
                detail=result.reason,
                lease=self._lease,
            )
            event = outcome_event(order) if saved else None
            if event is not None:
                await add_event(conn, event, service=self._service)
        return saved

    async def recover(self) -> None:
        """Forever: resume sagas whose runner is gone (crash, kill -9, lost replica)."""
        while True:
            try:
                async with self._db.transaction() as conn:
                    stale = await repository.claim_stale(conn, lease=self._lease, limit=100)
                for order_id in stale:
                    self.start(order_id)
                if stale:
                    log.info("resuming %d unfinished sagas", len(stale))
            except Exception as exc:
                log.warning("saga recovery failed this round: %s", exc)
            await asyncio.sleep(self._settings.recovery_interval_seconds)

    async def stop(self) -> None:
        """Cancel running sagas (their leases run out; recovery resumes them)."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
