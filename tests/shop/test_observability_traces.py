"""One order, one trace: from the gateway through orders' saga, the outbox and RabbitMQ to
the email, read back from the stack's collector (Jaeger's query API), and the order's log
lines from several services found by that trace id in the collector's logs output
(ci/stack/otel_logs.py).

The shop runs as real processes (shop_processes.py) exporting over OTLP/HTTP to the
collector started by `make stack-up`; the customer signs up, logs in and orders through
the gateway's public API, and quotes the answer's X-Trace-Id.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from shop_helpers import TEST_RETRY_DELAYS, delete_queues, seed, service_client
from shop_processes import PACKAGES, REPO, Shop

pytestmark = pytest.mark.integration

JAEGER_URL = os.environ.get("SHOPMESH_JAEGER_URL", "http://127.0.0.1:16686")
EXPECTED_SERVICES = ("gateway", "orders", "inventory", "payments", "notifications")
TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def _load_otel_logs() -> Any:
    spec = importlib.util.spec_from_file_location(
        "otel_logs", REPO / "ci" / "stack" / "otel_logs.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["otel_logs"] = module
    spec.loader.exec_module(module)
    return module


otel_logs = _load_otel_logs()


@dataclass
class Span:
    """A span from Jaeger's API, flattened: service, name and tags."""

    service: str
    name: str
    tags: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.tags.get("span.kind", ""))


@dataclass
class OrderStory:
    """What the one order left behind."""

    order_id: str
    trace_id: str
    spans: list[Span]
    log_records: list[Any]


def _jaeger_spans(trace_id: str) -> list[Span]:
    try:
        with urllib.request.urlopen(f"{JAEGER_URL}/api/traces/{trace_id}", timeout=5) as answer:
            body = json.load(answer)
    except OSError:
        return []
    spans: list[Span] = []
    for trace in body.get("data") or []:
        processes = {key: p["serviceName"] for key, p in trace["processes"].items()}
        for span in trace["spans"]:
            tags = {t["key"]: t["value"] for t in span.get("tags", [])}
            spans.append(Span(processes[span["processID"]], span["operationName"], tags))
    return spans


# (what, service, span kind, tag, a substring of its value)
SPANS = [
    ("the customer's request", "gateway", "server", "http.route", "/api/orders"),
    ("the gateway forwarding it", "gateway", "client", "http.url", "/orders"),
    ("the request that placed it", "orders", "server", "http.route", "/orders"),
    ("a saga call to inventory", "orders", "client", "http.url", "/reservations"),
    ("a saga call to payments", "orders", "client", "http.url", "/charges"),
    ("inventory answering", "inventory", "server", "http.route", "/reservations"),
    ("payments answering", "payments", "server", "http.route", "/charges"),
    ("a database call", "orders", "client", "db.system", "postgresql"),
    ("the relay publishing the event", "orders", "producer", "messaging.system", "rabbitmq"),
    ("notifications receiving it", "notifications", "consumer", "messaging.system", "rabbitmq"),
    ("notifications' handler", "notifications", "consumer", "messaging.operation", "process"),
    ("notifications' database work", "notifications", "client", "db.system", "postgresql"),
]


def _matching(spans: list[Span], service: str, kind: str, tag: str, value: str) -> list[Span]:
    return [
        s
        for s in spans
        if s.service == service and s.kind == kind and value in str(s.tags.get(tag, ""))
    ]


def _complete(spans: list[Span]) -> bool:
    """Every service's spans and every span of the table arrived (exports come in batches)."""
    services = {s.service for s in spans}
    rows = all(_matching(spans, *row[1:]) for row in SPANS)
    return set(EXPECTED_SERVICES) <= services and rows


async def _poll(probe: Any, done: Any, within: float) -> Any:
    deadline = time.monotonic() + within
    value = await asyncio.to_thread(probe)
    while not done(value) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        value = await asyncio.to_thread(probe)
    return value


async def _tell_the_story(shop: Shop) -> OrderStory:
    shop.start()
    await seed(shop, stock=5)
    async with httpx.AsyncClient(base_url=shop.procs["gateway"].url, timeout=30) as gateway:
        email = f"trace-{uuid.uuid4().hex[:10]}@example.com"
        signed_up = await gateway.post(
            "/api/auth/signup", json={"email": email, "password": "correct horse", "name": "Ada"}
        )
        assert signed_up.status_code == 201, signed_up.text
        login = await gateway.post(
            "/api/auth/login", json={"email": email, "password": "correct horse"}
        )
        assert login.status_code == 200, login.text
        bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
        answer = await gateway.post(
            "/api/orders",
            json={"items": [{"product_id": "p1", "quantity": 1}]},
            headers={**bearer, "Idempotency-Key": f"trace-{uuid.uuid4()}"},
        )
        assert answer.status_code == 202, answer.text
        order_id = str(answer.json()["id"])
        trace_id = answer.headers.get("x-trace-id", "")
        assert TRACE_ID.match(trace_id), f"no X-Trace-Id on the answer: {answer.headers}"

        async def confirmed() -> bool:
            order = await gateway.get(f"/api/orders/{order_id}", headers=bearer)
            status = order.json()["status"]
            assert status != "FAILED", "the order failed; this test needs a confirmed one"
            return bool(status == "CONFIRMED")

        await _poll_async(confirmed, within=60)
    async with service_client(shop, "notifications", caller="admin", timeout=10) as mail:

        async def sent() -> bool:
            emails = (await mail.get("/emails", params={"order_id": order_id})).json()
            return any(e["state"] == "sent" for e in emails)

        await _poll_async(sent, within=60)
    spans = await _poll(lambda: _jaeger_spans(trace_id), _complete, within=30)

    def order_lines() -> list[Any]:
        return [r for r in otel_logs.records_in() if r.trace_id == trace_id]

    records = await _poll(
        order_lines, lambda found: len({r.service for r in found}) >= 4, within=30
    )
    return OrderStory(order_id=order_id, trace_id=trace_id, spans=spans, log_records=records)


async def _poll_async(check: Any, within: float) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"{check.__name__} not true after {within}s"
        await asyncio.sleep(0.3)


@pytest.fixture(scope="module")
def story() -> Iterator[OrderStory]:
    """The shop with INFO logs, one confirmed order and its email; torn down afterwards."""
    extra = {name: {"SHOPMESH_LOG_LEVEL": "INFO"} for name in PACKAGES}
    for consumer in ("notifications", "order-history"):
        extra[consumer]["SHOPMESH_RETRY_DELAYS"] = ",".join(map(str, TEST_RETRY_DELAYS))
    # The gateway's rate limits count per IP in the stack's Redis: other runs share 127.0.0.1.
    extra["gateway"]["SHOPMESH_RATE_LIMIT_KEY_PREFIX"] = f"shopmesh:test-trace:{uuid.uuid4().hex}"
    shop = Shop(extra_env=extra)
    asyncio.run(shop.create_databases())
    shop.configure()
    try:
        yield asyncio.run(_tell_the_story(shop))
    finally:
        shop.stop()
        asyncio.run(delete_queues(shop))
        asyncio.run(shop.drop_databases())


@pytest.mark.parametrize("service", EXPECTED_SERVICES)
def test_the_orders_trace_has_spans_from(story: OrderStory, service: str) -> None:
    services = sorted({s.service for s in story.spans})
    assert service in services, f"trace {story.trace_id} has spans from {services} only"


@pytest.mark.parametrize(("what", "service", "kind", "tag", "value"), SPANS)
def test_the_orders_trace_contains(
    story: OrderStory, what: str, service: str, kind: str, tag: str, value: str
) -> None:
    found = _matching(story.spans, service, kind, tag, value)
    seen = sorted({(s.service, s.kind, s.name) for s in story.spans})
    assert found, f"{what}: no {kind} span of {service} with {tag} ~ {value} in {seen}"


def test_the_orders_log_lines_are_found_by_trace_id(story: OrderStory) -> None:
    services = {r.service for r in story.log_records}
    assert len(services & set(EXPECTED_SERVICES)) >= 3, (
        f"log lines of trace {story.trace_id} came from {sorted(services)} only"
    )
    for record in story.log_records:
        line = record.body_json()
        assert line is not None, f"not our JSON line: {record.body!r}"
        assert line["trace_id"] == story.trace_id
        assert re.match(r"^[0-9a-f]{16}$", line["span_id"])
        assert line["service"] == record.service
    sent = [
        r
        for r in story.log_records
        if r.service == "notifications"
        and story.order_id in (r.body_json() or {}).get("message", "")
    ]
    assert sent, "notifications' 'sent ... email for order' line is not in the order's trace"
