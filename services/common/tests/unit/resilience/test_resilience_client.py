"""The resilient client against a real HTTP server on 127.0.0.1: timeouts, retries,
the circuit breaker, the bulkhead, trace context and metrics, counted server side."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable

import pytest
from opentelemetry import context, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from shopmesh_common.resilience import (
    BreakerSettings,
    BreakerState,
    ClientFactory,
    DownstreamSettings,
    DownstreamUnavailable,
    ResilientClient,
    trace_calls,
)

MakeClient = Callable[..., ResilientClient]
KEY = {"Idempotency-Key": "order-42"}


def sample(client: ResilientClient, name: str, **labels: str) -> float:
    labels = {"service": client.service, "downstream": client.settings.name, **labels}
    return REGISTRY.get_sample_value(name, labels) or 0.0


def requests_total(client: ResilientClient, outcome: str) -> float:
    return sample(client, "shopmesh_downstream_requests_total", outcome=outcome)


def breaker_gauge(client: ResilientClient) -> float | None:
    labels = {"service": client.service, "downstream": client.settings.name}
    return REGISTRY.get_sample_value("shopmesh_breaker_state", labels)


async def unavailable(client: ResilientClient, method: str, path: str) -> str:
    with pytest.raises(DownstreamUnavailable) as raised:
        await client.request(method, path)
    return raised.value.reason


@pytest.mark.parametrize(
    ("settings", "per_call_timeout"),
    [
        pytest.param({"timeout_seconds": 0.2}, None, id="from the settings"),
        pytest.param({"timeout_seconds": 30}, 0.2, id="per call"),
    ],
)
async def test_a_hanging_downstream_times_out(
    make_client: MakeClient,
    hits: Counter[str],
    settings: dict[str, float],
    per_call_timeout: float | None,
) -> None:
    client = make_client(retry_attempts=1, **settings)
    started = time.monotonic()

    with pytest.raises(DownstreamUnavailable, match="timeout"):
        await client.request("GET", "/sleep/30", timeout=per_call_timeout)

    assert time.monotonic() - started < 1.0
    assert hits["/sleep/30"] == 1
    assert requests_total(client, "failure") == 1


async def test_no_retry_starts_that_could_not_finish_by_the_deadline(
    make_client: MakeClient, hits: Counter[str]
) -> None:
    client = make_client(timeout_seconds=0.3, deadline_seconds=0.5, retry_attempts=5)
    started = time.monotonic()

    assert await unavailable(client, "GET", "/sleep/30") == "timeout"

    assert hits["/sleep/30"] == 1
    assert time.monotonic() - started < 0.5


async def test_no_attempt_goes_out_after_the_deadline_even_after_an_overslept_backoff(
    make_client: MakeClient,
    hits: Counter[str],
    clock: Callable[[], float],
    advance_clock: Callable[[float], None],
) -> None:
    async def oversleep(_seconds: float) -> None:
        advance_clock(60)

    client = make_client(retry_attempts=3, clock=clock, sleep=oversleep)

    assert await unavailable(client, "GET", "/status/503") == "timeout"
    assert hits["/status/503"] == 1
    assert requests_total(client, "failure") == 1


@pytest.mark.parametrize(
    ("method", "headers", "statuses", "sent", "answer"),
    [
        pytest.param("GET", {}, [503, 503, 200], 3, 200, id="GET 503 503 200"),
        pytest.param("PUT", {}, [502, 200], 2, 200, id="PUT 502 200"),
        pytest.param("DELETE", {}, [504, 200], 2, 200, id="DELETE 504 200"),
        pytest.param("GET", {}, [429, 200], 2, 200, id="GET 429 200"),
        pytest.param("GET", {}, [503], 3, "HTTP 503", id="GET gives up after 3 attempts"),
        pytest.param("POST", {}, [503, 200], 1, "HTTP 503", id="POST not retried"),
        pytest.param("PATCH", {}, [503, 200], 1, "HTTP 503", id="PATCH not retried"),
        pytest.param("POST", KEY, [503, 503, 200], 3, 200, id="POST with key retried"),
        pytest.param("GET", {}, [500, 200], 1, 500, id="500 not retried, returned"),
        pytest.param("GET", {}, [404, 200], 1, 404, id="404 not retried, returned"),
    ],
)
async def test_retries_only_safe_or_keyed_requests_on_transient_errors(
    make_client: MakeClient,
    hits: Counter[str],
    script: dict[str, list[int]],
    method: str,
    headers: dict[str, str],
    statuses: list[int],
    sent: int,
    answer: int | str,
) -> None:
    client = make_client(retry_attempts=3)
    script["/script/flaky"] = statuses

    try:
        result: int | str = (await client.request(method, "/script/flaky", headers=headers)).status
    except DownstreamUnavailable as error:
        result = error.reason

    assert (hits["/script/flaky"], result) == (sent, answer)


@pytest.mark.parametrize(
    ("method", "attempts"), [pytest.param("GET", 3, id="GET"), pytest.param("POST", 1, id="POST")]
)
async def test_connection_refused_is_a_failure_retried_when_safe(
    make_client: MakeClient, refused_url: str, method: str, attempts: int
) -> None:
    client = make_client(base_url=refused_url, retry_attempts=3)

    assert await unavailable(client, method, "/items") == "connection refused"
    assert requests_total(client, "failure") == attempts


@pytest.mark.parametrize(
    ("status", "state"),
    [
        pytest.param(400, BreakerState.CLOSED, id="400: the caller's fault"),
        pytest.param(404, BreakerState.CLOSED, id="404: the caller's fault"),
        pytest.param(409, BreakerState.CLOSED, id="409: the caller's fault"),
        pytest.param(500, BreakerState.OPEN, id="500"),
        pytest.param(503, BreakerState.OPEN, id="503"),
    ],
)
async def test_5xx_count_as_breaker_failures_and_4xx_do_not(
    make_client: MakeClient, hits: Counter[str], status: int, state: BreakerState
) -> None:
    breaker = BreakerSettings(sliding_window_size=5, minimum_number_of_calls=5)
    client = make_client(retry_attempts=1, breaker=breaker)

    for _ in range(5):
        with contextlib.suppress(DownstreamUnavailable):
            await client.request("GET", f"/status/{status}")

    assert client.breaker.state is state
    assert hits[f"/status/{status}"] == 5
    outcome = "success" if state is BreakerState.CLOSED else "failure"
    assert requests_total(client, outcome) == 5


async def test_an_open_breaker_lets_no_request_through(
    make_client: MakeClient, hits: Counter[str]
) -> None:
    breaker = BreakerSettings(sliding_window_size=4, minimum_number_of_calls=4)
    client = make_client(retry_attempts=1, breaker=breaker)
    assert breaker_gauge(client) == 0
    for _ in range(4):
        await unavailable(client, "GET", "/status/503")

    reasons = [await unavailable(client, "GET", "/status/503") for _ in range(5)]

    assert reasons == ["circuit open"] * 5
    assert hits["/status/503"] == 4
    assert breaker_gauge(client) == 1
    assert requests_total(client, "rejected") == 5
    assert sample(client, "shopmesh_downstream_request_duration_seconds_count") == 4


async def test_retries_stop_when_the_breaker_opens(
    make_client: MakeClient, hits: Counter[str]
) -> None:
    breaker = BreakerSettings(sliding_window_size=2, minimum_number_of_calls=2)
    client = make_client(retry_attempts=5, breaker=breaker)

    assert await unavailable(client, "GET", "/status/503") == "circuit open"
    assert hits["/status/503"] == 2


async def test_the_breaker_half_opens_and_closes_again(
    make_client: MakeClient,
    hits: Counter[str],
    script: dict[str, list[int]],
    clock: Callable[[], float],
    advance_clock: Callable[[float], None],
) -> None:
    breaker = BreakerSettings(
        sliding_window_size=2,
        minimum_number_of_calls=2,
        wait_duration_in_open=30,
        permitted_calls_in_half_open=2,
    )
    client = make_client(retry_attempts=1, breaker=breaker, clock=clock)
    script["/script/recovers"] = [503, 503, 200]
    for _ in range(2):
        await unavailable(client, "GET", "/script/recovers")
    assert (client.breaker.state, breaker_gauge(client)) == (BreakerState.OPEN, 1)
    advance_clock(30)

    assert (await client.request("GET", "/script/recovers")).status == 200
    assert (client.breaker.state, breaker_gauge(client)) == (BreakerState.HALF_OPEN, 2)
    assert (await client.request("GET", "/script/recovers")).status == 200
    assert (client.breaker.state, breaker_gauge(client)) == (BreakerState.CLOSED, 0)
    assert hits["/script/recovers"] == 4


async def test_slow_answers_open_the_breaker(make_client: MakeClient) -> None:
    breaker = BreakerSettings(
        sliding_window_size=2, minimum_number_of_calls=2, slow_call_duration=0.05
    )
    client = make_client(breaker=breaker)

    for _ in range(2):
        assert (await client.request("GET", "/sleep/0.1")).status == 200

    assert client.breaker.state is BreakerState.OPEN


async def test_a_full_bulkhead_rejects_without_blaming_the_downstream(
    make_client: MakeClient, hits: Counter[str]
) -> None:
    breaker = BreakerSettings(sliding_window_size=1, minimum_number_of_calls=1)
    client = make_client(bulkhead_max_concurrent=1, breaker=breaker)
    first = asyncio.create_task(client.request("GET", "/sleep/0.3"))
    while not hits["/sleep/0.3"]:  # noqa: ASYNC110  (the server's count is the signal)
        await asyncio.sleep(0.01)

    assert await unavailable(client, "GET", "/status/200") == "bulkhead full"

    assert (await first).status == 200
    assert hits["/status/200"] == 0
    assert client.breaker.state is BreakerState.CLOSED
    assert requests_total(client, "rejected") == 1


async def test_caller_headers_and_trace_context_go_out(make_client: MakeClient) -> None:
    client = make_client()
    span = trace.SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=False,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    headers = {"Idempotency-Key": "order-42", "X-Request-Id": "r-1"}
    token = context.attach(trace.set_span_in_context(trace.NonRecordingSpan(span)))
    try:
        response = await client.request(
            "post", "/orders", json={"sku": "A"}, headers=headers, params={"dry": "1"}
        )
    finally:
        context.detach(token)

    echo = response.json()
    assert echo["method"] == "POST"
    assert echo["headers"]["traceparent"] == (
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    )
    assert echo["headers"]["idempotency-key"] == "order-42"
    assert echo["headers"]["x-request-id"] == "r-1"
    assert (echo["json"], echo["query"]) == ({"sku": "A"}, {"dry": "1"})
    assert "traceparent" not in headers  # the caller's dict is left alone


async def test_the_answer_is_read_in_full_with_plain_headers(make_client: MakeClient) -> None:
    client = make_client()

    response = await client.request("GET", "/items/1")

    assert (response.status, response.stale) == (200, False)
    assert response.json()["path"] == "/items/1"
    assert response.headers["content-type"].startswith("application/json")
    assert "content-length" not in response.headers
    assert requests_total(client, "success") == 1
    assert sample(client, "shopmesh_downstream_request_duration_seconds_count") == 1


async def test_downstream_names_must_be_unique(server_url: str) -> None:
    twice = [DownstreamSettings(name="inventory", base_url=server_url)] * 2

    with pytest.raises(ValueError, match="unique"):
        ClientFactory("orders", twice)


async def test_traced_attempts_are_client_spans_the_downstream_continues(
    make_client: MakeClient, server_url: str, script: dict[str, list[int]]
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    client = make_client(retry_attempts=2)
    script["/script/traced"] = [503, 200]
    trace_calls(provider)
    try:
        response = await client.request("GET", "/script/traced", params={"page": "2"})
    finally:
        trace_calls(None)

    spans = exporter.get_finished_spans()
    assert [
        (span.name, span.kind, (span.attributes or {}).get("http.status_code")) for span in spans
    ] == [("GET", trace.SpanKind.CLIENT, 503), ("GET", trace.SpanKind.CLIENT, 200)]
    assert {(span.attributes or {}).get("http.url") for span in spans} == {
        f"{server_url}/script/traced?page=2"
    }
    last = spans[-1].get_span_context()
    assert response.json()["headers"]["traceparent"] == (
        f"00-{last.trace_id:032x}-{last.span_id:016x}-{int(last.trace_flags):02x}"
    )
