"""OpenTelemetry traces and logs for every service, exported over OTLP/HTTP.

`instrument_app(app, service)` is called by `app.create_app` for every service (whose one
middleware, app.ServiceMiddleware, also adds the X-Trace-Id header and the access line);
`install_telemetry(app, service)` is the same plus those two as middlewares of their own,
for an app not built by create_app; `configure_telemetry(service)` is the process-wide
half, also called by the stand-alone outbox relay (`python -m shopmesh_common.outbox`).
The only contract is the standard OTEL_* environment variables (`ci/stack/stack.sh env`
prints the local collector's):

- OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_{TRACES,LOGS}_ENDPOINT) turns export
  on; OTEL_TRACES_EXPORTER / OTEL_LOGS_EXPORTER=otlp turn it on with the default endpoint,
  `none` turns one signal off, OTEL_SDK_DISABLED=true turns everything off. With none of
  them set nothing is exported and nothing is instrumented (unit tests, tools).
- OTEL_SERVICE_NAME (default: the service's name), OTEL_RESOURCE_ATTRIBUTES,
  OTEL_TRACES_SAMPLER(_ARG), OTEL_PROPAGATORS, OTEL_BSP_* and OTEL_BLRP_* (batching),
  OTEL_EXPORTER_OTLP_HEADERS/TIMEOUT: read by the SDK itself. Only http/protobuf is
  shipped (OTEL_EXPORTER_OTLP_PROTOCOL=grpc is reported and ignored).

What it sets up, once per process: a TracerProvider (BatchSpanProcessor, OTLP exporter),
client spans of the resilience client (`resilience.trace_calls`), instrumentation of
aiohttp's client (for any other use of it), asyncpg and aio-pika, and a LoggerProvider
whose handler on the root logger sends every log record (its body is the same JSON line
as stdout, with the trace and span ids) to the collector.
Per app: FastAPI server spans (health probes and /metrics excluded), an `X-Trace-Id`
response header (what a customer quotes to support), one access-log line per request,
and a flush of both providers when the app stops.

Hand-written here, beyond wiring libraries: the sampler that drops database calls made
outside any trace (the relay's polling, readiness pings, sweepers would otherwise each
start a one-span trace every second), and the log handler's body (the SDK's handler would
send structlog's event dict, not our JSON line).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.util.types import Attributes
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .logs import ACCESS_LOG_SKIP, AccessLogMiddleware, json_formatter

log = logging.getLogger(__name__)

TRACE_ID_HEADER = "X-Trace-Id"
_TRACE_ID_HEADER_NAME = TRACE_ID_HEADER.lower().encode()
SUPPORTED_PROTOCOL = "http/protobuf"
# Regexes (searched in the URL) the FastAPI instrumentation skips unless
# OTEL_PYTHON_FASTAPI_EXCLUDED_URLS / OTEL_PYTHON_EXCLUDED_URLS say otherwise.
DEFAULT_EXCLUDED_URLS = "/health/live,/health/ready,/metrics"
# Loggers whose records never go to the collector: the exporter's own complaints would
# feed back into the pipeline that is failing.
QUIET_LOGGERS = ("opentelemetry", "urllib3", "requests")


@dataclass(frozen=True)
class TelemetryPlan:
    """Which signals this process exports, from the environment."""

    traces: bool
    logs: bool

    @property
    def enabled(self) -> bool:
        """True when anything is exported."""
        return self.traces or self.logs


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


def _signal_wanted(signal: str, environ: Mapping[str, str]) -> bool:
    chosen = environ.get(f"OTEL_{signal}_EXPORTER")
    if chosen is not None and chosen.strip():
        names = {name.strip().lower() for name in chosen.split(",") if name.strip()}
        unknown = names - {"otlp", "none"}
        if unknown:
            log.warning(
                "OTEL_%s_EXPORTER=%s: only otlp (over http/protobuf) is shipped; ignoring %s",
                signal,
                chosen,
                ", ".join(sorted(unknown)),
            )
        return "otlp" in names
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
    )


def plan_from_env(environ: Mapping[str, str] | None = None) -> TelemetryPlan:
    """What the OTEL_* variables ask for (see the module docstring)."""
    env = os.environ if environ is None else environ
    if _truthy(env.get("OTEL_SDK_DISABLED")):
        return TelemetryPlan(traces=False, logs=False)
    return TelemetryPlan(traces=_signal_wanted("TRACES", env), logs=_signal_wanted("LOGS", env))


class QuietOrphanQueries(Sampler):
    """Root sampler: drops database calls that start a trace of their own.

    A query outside any request or message (the outbox relay's poll, a readiness ping, a
    sweeper) would be a one-span trace every second per process; queries inside a trace
    are decided by the parent as usual (see `default_sampler`).
    """

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        """Drop CLIENT spans that carry db.system; keep everything else."""
        if (
            kind is SpanKind.CLIENT
            and attributes
            and ("db.system" in attributes or "db.system.name" in attributes)
        ):
            return SamplingResult(Decision.DROP)
        return ALWAYS_ON.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        """Shown by the SDK's debug output."""
        return "QuietOrphanQueries"


def default_sampler(environ: Mapping[str, str] | None = None) -> Sampler | None:
    """ParentBased(QuietOrphanQueries), unless OTEL_TRACES_SAMPLER chooses (None: the SDK
    reads it)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_TRACES_SAMPLER"):
        return None
    return ParentBased(root=QuietOrphanQueries())


def _warn_about_protocol(environ: Mapping[str, str]) -> None:
    for name in (
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
    ):
        value = environ.get(name)
        if value and value.strip() != SUPPORTED_PROTOCOL:
            log.warning("%s=%s: only %s is shipped; using it", name, value, SUPPORTED_PROTOCOL)


class OtlpLogHandler(logging.Handler):
    """Sends stdlib log records to the LoggerProvider; the body is our JSON line.

    Wraps opentelemetry-instrumentation-logging's handler (the SDK's own is deprecated) so
    that the body is the line stdout gets and structlog's private record attributes (the
    bound logger object) are not offered as OTLP attributes.
    """

    def __init__(self, *, logger_provider: Any, service: str) -> None:
        from opentelemetry.instrumentation.logging.handler import LoggingHandler

        super().__init__()
        self._otel: logging.Handler = LoggingHandler(logger_provider=logger_provider)
        self._line = json_formatter(service)

    def emit(self, record: logging.LogRecord) -> None:
        """Format once as JSON, then hand a plain copy to the OpenTelemetry handler."""
        if record.name.startswith(QUIET_LOGGERS):
            return
        try:
            line = self._line.format(record)
            plain = logging.makeLogRecord(
                {k: v for k, v in vars(record).items() if not k.startswith("_")}
            )
            plain.msg, plain.args = line, None
            self._otel.emit(plain)
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        """The provider is flushed by `Telemetry.flush`; nothing is buffered here."""


@dataclass
class Telemetry:
    """The process's providers (None for a signal that is not exported)."""

    plan: TelemetryPlan
    tracer_provider: Any = None
    logger_provider: Any = None
    log_handler: logging.Handler | None = None

    def attach_log_handler(self) -> None:
        """Put the OTLP handler on the root logger (again, if configure_logging replaced it)."""
        root = logging.getLogger()
        if self.log_handler is not None and self.log_handler not in root.handlers:
            root.addHandler(self.log_handler)

    def flush(self, timeout_millis: int = 5000) -> None:
        """Export what is buffered (blocking: call it from a thread in async code)."""
        for provider in (self.tracer_provider, self.logger_provider):
            if provider is not None:
                provider.force_flush(timeout_millis)


_lock = threading.Lock()
_telemetry: Telemetry | None = None


def _instrument_libraries(tracer_provider: TracerProvider) -> None:
    from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

    from .resilience import trace_calls

    trace_calls(tracer_provider)
    AioHttpClientInstrumentor().instrument(tracer_provider=tracer_provider)
    AsyncPGInstrumentor().instrument(tracer_provider=tracer_provider)  # type: ignore[no-untyped-call]
    AioPikaInstrumentor().instrument(tracer_provider=tracer_provider)


def _build(service: str, plan: TelemetryPlan) -> Telemetry:
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or service})
    telemetry = Telemetry(plan=plan)
    if plan.traces:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        tracer_provider = TracerProvider(resource=resource, sampler=default_sampler())
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(tracer_provider)
        _instrument_libraries(tracer_provider)
        telemetry.tracer_provider = tracer_provider
    if plan.logs:
        from opentelemetry._logs import set_logger_provider
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
        set_logger_provider(logger_provider)
        telemetry.logger_provider = logger_provider
        telemetry.log_handler = OtlpLogHandler(logger_provider=logger_provider, service=service)
    return telemetry


def configure_telemetry(service: str) -> Telemetry | None:
    """Set up the providers and library instrumentation once per process (None: off)."""
    global _telemetry
    with _lock:
        if _telemetry is None:
            plan = plan_from_env()
            if not plan.enabled:
                return None
            _warn_about_protocol(os.environ)
            _telemetry = _build(service, plan)
            log.info(
                "telemetry on: traces=%s logs=%s (OTLP/HTTP to %s)",
                plan.traces,
                plan.logs,
                os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "the signal endpoints"),
            )
        _telemetry.attach_log_handler()
        return _telemetry


def trace_id_header() -> tuple[bytes, bytes] | None:
    """The raw `x-trace-id: <32 hex>` header of the current trace, or None outside one."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return _TRACE_ID_HEADER_NAME, format(context.trace_id, "032x").encode()


class TraceIdHeaderMiddleware:
    """Adds `X-Trace-Id: <32 hex>` to every response served inside a trace (create_app's
    apps get it from app.ServiceMiddleware instead)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_trace_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                header = trace_id_header()
                if header is not None:
                    message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        await self.app(scope, receive, send_with_trace_id)


def _flush_on_shutdown(app: FastAPI, telemetry: Telemetry) -> None:
    # create_app passes lifespan=, and Starlette ignores on_shutdown handlers then: wrap
    # the lifespan instead, so the last spans and log lines leave before the process does.
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(inner_app: Any) -> AsyncIterator[Any]:
        try:
            async with inner(inner_app) as state:
                yield state
        finally:
            await asyncio.to_thread(telemetry.flush)

    app.router.lifespan_context = lifespan


def _excluded_urls() -> str | None:
    if os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS") or os.environ.get(
        "OTEL_PYTHON_EXCLUDED_URLS"
    ):
        return None  # the instrumentation reads them
    return DEFAULT_EXCLUDED_URLS


def install_telemetry(app: FastAPI, service: str) -> None:
    """Trace ids on responses and access logs always; spans and log export when configured."""
    app.add_middleware(AccessLogMiddleware, skip=ACCESS_LOG_SKIP)
    app.add_middleware(TraceIdHeaderMiddleware)
    instrument_app(app, service)


def instrument_app(app: FastAPI, service: str) -> None:
    """Server spans (FastAPI instrumentation), and the export of spans and log records, when
    the OTEL_* variables turn them on; the last ones are flushed when the app stops."""
    telemetry = configure_telemetry(service)
    if telemetry is None or telemetry.tracer_provider is None:
        if telemetry is not None:
            _flush_on_shutdown(app, telemetry)
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=telemetry.tracer_provider,
        excluded_urls=_excluded_urls(),
        exclude_spans=["receive", "send"],
    )
    _flush_on_shutdown(app, telemetry)
