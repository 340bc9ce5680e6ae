"""`shopmesh_common.telemetry` and the trace ids in `logs`: which OTEL_* settings turn export
on, the sampler that drops orphan queries, trace ids in JSON lines and the X-Trace-Id
header, the access log, the OTLP log handler's body, the flush on shutdown, and the context
a consumer's handler continues. Local SDK providers only: nothing global is installed
(the real export to the collector is tests/shop/test_observability_traces.py)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Receive, Scope, Send

from shopmesh_common import telemetry
from shopmesh_common.broker import message_context
from shopmesh_common.logs import (
    AccessLogMiddleware,
    JsonStdoutHandler,
    add_trace_ids,
    configure_logging,
)
from shopmesh_common.telemetry import (
    OtlpLogHandler,
    QuietOrphanQueries,
    Telemetry,
    TelemetryPlan,
    TraceIdHeaderMiddleware,
    default_sampler,
    plan_from_env,
)

TRACER = TracerProvider().get_tracer("test")
ENDPOINT = "http://127.0.0.1:14318"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, TelemetryPlan(traces=False, logs=False)),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, TelemetryPlan(traces=True, logs=True)),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SDK_DISABLED": "true"},
            TelemetryPlan(traces=False, logs=False),
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_SDK_DISABLED": "false"},
            TelemetryPlan(traces=True, logs=True),
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_LOGS_EXPORTER": "none"},
            TelemetryPlan(traces=True, logs=False),
        ),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_TRACES_EXPORTER": "none"},
            TelemetryPlan(traces=False, logs=True),
        ),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, TelemetryPlan(traces=True, logs=False)),
        ({"OTEL_TRACES_EXPORTER": "console"}, TelemetryPlan(traces=False, logs=False)),
        ({"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": ENDPOINT}, TelemetryPlan(traces=False, logs=True)),
    ],
)
def test_plan_from_env(environ: dict[str, str], expected: TelemetryPlan) -> None:
    assert plan_from_env(environ) == expected


@pytest.mark.parametrize(
    ("kind", "attributes", "decision"),
    [
        (SpanKind.CLIENT, {"db.system": "postgresql"}, Decision.DROP),
        (SpanKind.CLIENT, {"db.system.name": "postgresql"}, Decision.DROP),
        (SpanKind.CLIENT, {"http.method": "POST"}, Decision.RECORD_AND_SAMPLE),
        (SpanKind.SERVER, {"db.system": "postgresql"}, Decision.RECORD_AND_SAMPLE),
        (SpanKind.PRODUCER, {"messaging.system": "rabbitmq"}, Decision.RECORD_AND_SAMPLE),
    ],
)
def test_root_spans_that_are_queries_are_dropped(
    kind: SpanKind, attributes: dict[str, str], decision: Decision
) -> None:
    result = QuietOrphanQueries().should_sample(None, 1, "q", kind, attributes)
    assert result.decision is decision


@pytest.mark.parametrize(("inside_a_trace", "sampled"), [(True, True), (False, False)])
def test_queries_follow_their_parent(inside_a_trace: bool, sampled: bool) -> None:
    provider = TracerProvider(sampler=default_sampler({}))
    tracer = provider.get_tracer("test")
    attributes = {"db.system": "postgresql"}
    if inside_a_trace:
        with tracer.start_as_current_span("request"):
            span = tracer.start_span("SELECT", kind=SpanKind.CLIENT, attributes=attributes)
    else:
        span = tracer.start_span("SELECT", kind=SpanKind.CLIENT, attributes=attributes)
    assert span.get_span_context().trace_flags.sampled is sampled


def test_otel_traces_sampler_is_left_to_the_sdk() -> None:
    assert default_sampler({"OTEL_TRACES_SAMPLER": "always_off"}) is None


@pytest.mark.parametrize("inside_a_span", [True, False])
def test_log_lines_carry_the_current_trace_and_span_ids(inside_a_span: bool) -> None:
    if inside_a_span:
        with TRACER.start_as_current_span("work") as span:
            event = add_trace_ids(None, "info", {"event": "x"})
        context = span.get_span_context()
        assert event["trace_id"] == format(context.trace_id, "032x")
        assert event["span_id"] == format(context.span_id, "016x")
    else:
        assert add_trace_ids(None, "info", {"event": "x"}) == {"event": "x"}


@pytest.fixture
def json_stdout() -> Iterator[Any]:
    """configure_logging, its stdout handler writing to a buffer; the root logger is restored."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("test-service")
    buffer = io.StringIO()
    (stdout,) = [h for h in root.handlers if isinstance(h, JsonStdoutHandler)]
    assert isinstance(stdout, logging.StreamHandler)
    stdout.setStream(buffer)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in buffer.getvalue().splitlines() if line]

    yield lines
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def test_library_and_structlog_lines_are_json_with_trace_ids(json_stdout: Any) -> None:
    with TRACER.start_as_current_span("work") as span:
        logging.getLogger("library").warning("from %s", "the standard library")
        structlog.stdlib.get_logger("ours").warning("from structlog", order_id="o-1")
    trace_id = format(span.get_span_context().trace_id, "032x")
    first, second = json_stdout()
    assert (first["message"], first["trace_id"]) == ("from the standard library", trace_id)
    assert (second["message"], second["order_id"], second["trace_id"]) == (
        "from structlog",
        "o-1",
        trace_id,
    )
    assert first["service"] == second["service"] == "test-service"


class SpanAround:
    """Stands in for the FastAPI instrumentation: the request runs inside a span."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.trace_ids: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with TRACER.start_as_current_span("request") as span:
            self.trace_ids.append(format(span.get_span_context().trace_id, "032x"))
            await self.app(scope, receive, send)


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/orders/{order_id}")
    async def place(order_id: str) -> dict[str, str]:
        return {"id": order_id}

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(AccessLogMiddleware, skip=("/health/live",))
    app.add_middleware(TraceIdHeaderMiddleware)
    return app


@pytest.mark.parametrize("traced", [True, False])
async def test_responses_quote_the_trace_id(traced: bool) -> None:
    traced_app = SpanAround(_app())
    transport = httpx.ASGITransport(app=traced_app if traced else _app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        answer = await client.post("/orders/o-1")
    assert answer.status_code == 200
    expected = traced_app.trace_ids[0] if traced else None
    assert answer.headers.get("x-trace-id") == expected


@pytest.mark.parametrize(
    ("method", "path", "logged"),
    [
        ("POST", "/orders/o-1", [("POST", "/orders/{order_id}", 200)]),
        ("GET", "/nowhere", [("GET", "/nowhere", 404)]),
        ("GET", "/health/live", []),
    ],
)
async def test_one_access_line_per_request(
    json_stdout: Any, method: str, path: str, logged: list[tuple[str, str, int]]
) -> None:
    app = SpanAround(_app())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await client.request(method, path)
    lines = [line for line in json_stdout() if line.get("logger") == "shopmesh.access"]
    assert [(x["http_method"], x["http_route"], x["http_status"]) for x in lines] == logged
    assert all(x["trace_id"] == app.trace_ids[0] for x in lines)


@pytest.mark.parametrize(
    ("logger", "exported"),
    [("shopmesh_orders", True), ("opentelemetry.exporter", False), ("urllib3.pool", False)],
)
def test_log_records_go_to_the_collector_as_our_json_line(
    json_stdout: Any, logger: str, exported: bool
) -> None:
    exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    handler = OtlpLogHandler(logger_provider=provider, service="orders")
    source = logging.getLogger(logger)
    source.addHandler(handler)
    source.setLevel(logging.INFO)
    try:
        with TRACER.start_as_current_span("work") as span:
            structlog.stdlib.get_logger(logger).info("placed", order_id="o-1")
    finally:
        source.removeHandler(handler)
    records = [data.log_record for data in exporter.get_finished_logs()]
    if not exported:
        assert records == []
        return
    (record,) = records
    context = span.get_span_context()
    assert record.trace_id == context.trace_id
    assert record.span_id == context.span_id
    assert isinstance(record.body, str)
    line = json.loads(record.body)
    assert (line["message"], line["order_id"], line["service"]) == ("placed", "o-1", "orders")
    assert line["trace_id"] == format(context.trace_id, "032x")
    assert not [key for key in record.attributes or {} if key.startswith("_")]


async def test_the_app_flushes_telemetry_when_it_stops() -> None:
    steps: list[str] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        steps.append("started")
        yield
        steps.append("stopped")

    provider = SimpleNamespace(force_flush=lambda timeout: steps.append(f"flushed {timeout}"))
    app = FastAPI(lifespan=lifespan)
    telemetry._flush_on_shutdown(
        app, Telemetry(plan=TelemetryPlan(traces=True, logs=False), tracer_provider=provider)
    )
    async with app.router.lifespan_context(app):
        assert steps == ["started"]
    assert steps == ["started", "stopped", "flushed 5000"]


@pytest.mark.parametrize(
    ("published", "receive_span", "parent"),
    [
        (True, False, "publisher"),  # no aio-pika instrumentation: the headers' context
        (True, True, "receive"),  # instrumented: its receive span (same trace) is the parent
        (False, True, "receive"),
        (False, False, "none"),
    ],
)
def test_a_consumers_handler_continues_the_publishers_trace(
    published: bool, receive_span: bool, parent: str
) -> None:
    with TRACER.start_as_current_span("publish") as publisher:
        headers: dict[str, str] = {}
        if published:
            propagate.inject(headers)
    message: Any = SimpleNamespace(headers=headers)
    token = None
    receive = None
    if receive_span:
        receive = TRACER.start_span("receive", context=propagate.extract(headers))
        token = otel_context.attach(trace.set_span_in_context(receive))
    try:
        chosen = trace.get_current_span(message_context(message)).get_span_context()
    finally:
        if token is not None:
            otel_context.detach(token)
    expected = {
        "publisher": publisher.get_span_context(),
        "receive": receive.get_span_context() if receive else None,
        "none": trace.INVALID_SPAN_CONTEXT,
    }[parent]
    assert expected is not None
    assert (chosen.trace_id, chosen.span_id) == (expected.trace_id, expected.span_id)


def test_nothing_is_configured_without_otel_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        "OTEL_TRACES_EXPORTER",
        "OTEL_LOGS_EXPORTER",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(telemetry, "_telemetry", None)
    assert telemetry.configure_telemetry("orders") is None
