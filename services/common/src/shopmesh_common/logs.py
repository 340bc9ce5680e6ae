"""JSON logs, one line per event, for every service (structlog over the standard library).

`configure_logging(service)` is called by `app.create_app`, so by every service (and by the
outbox relay's command line); library logs (uvicorn, aio-pika) go through the same JSON
renderer, so every line on stdout is JSON.
Every line made inside a trace carries `trace_id` and `span_id` (W3C hex), so one order's
lines can be found in every service by the id its response quoted (`X-Trace-Id`).
`json_formatter` is the renderer on its own: `telemetry` uses it for the body of the log
records it sends to the collector.
`log_access` writes one line per HTTP request served: called by app.ServiceMiddleware in
every service, and by `AccessLogMiddleware` (the same as a middleware of its own, installed
by `telemetry.install_telemetry` for apps not built by create_app). Nothing is built for the
line when the `shopmesh.access` logger is not enabled for INFO (SHOPMESH_LOG_LEVEL=WARNING).

An access line costs about 35-40 µs of CPU on the gateway under load (structlog's chain,
the stdlib record, the JSON, a write to stdout), a third of what proxying a request costs.
A busy service can keep a share of them: SHOPMESH_ACCESS_LOG_SAMPLE (0 to 1, default 1:
every request) is the share of 1xx-3xx answers that get a line; 4xx and 5xx always do.
"""

from __future__ import annotations

import logging
import os
import random
import sys
import time
from collections.abc import Iterable, Mapping
from typing import TextIO

import structlog
from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACCESS_LOGGER = "shopmesh.access"
# Probes and scrapes: not worth a line each.
ACCESS_LOG_SKIP = ("/health/live", "/health/ready", "/metrics")
_access_level = logging.getLogger(ACCESS_LOGGER)
# Bound on first use and kept (structlog's cache_logger_on_first_use): looking it up per
# line cost 3.5 µs. configure_logging always installs the same chain.
_access_line = structlog.stdlib.get_logger(ACCESS_LOGGER)
_access_sample = 1.0


def access_log_sample(environ: Mapping[str, str] | None = None) -> float:
    """SHOPMESH_ACCESS_LOG_SAMPLE as a share in [0, 1]; 1 when unset or not a number."""
    raw = (os.environ if environ is None else environ).get("SHOPMESH_ACCESS_LOG_SAMPLE", "1")
    try:
        share = float(raw)
    except ValueError:
        logging.getLogger(__name__).warning(
            "SHOPMESH_ACCESS_LOG_SAMPLE=%r is not a number: logging every request", raw
        )
        return 1.0
    return min(1.0, max(0.0, share))


def add_trace_ids(
    _logger: object, _method: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    """structlog processor: the current span's trace and span ids, when there is one."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event


def _shared_processors() -> list[structlog.types.Processor]:
    # Run where the record is made (structlog's chain, or the handler for stdlib records,
    # which runs in the caller's thread and context), so the current span is the caller's.
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
        structlog.processors.EventRenamer("message"),
    ]


def json_formatter(service: str) -> logging.Formatter:
    """The formatter that renders any record (structlog's or a library's) as our JSON line."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            lambda _l, _m, event: {**event, "service": service},
            structlog.processors.JSONRenderer(),
        ],
    )


class JsonStdoutHandler(logging.StreamHandler[TextIO]):
    """The root logger's handler that `configure_logging` installs: JSON lines on stdout."""


def _prints_to_a_console(handler: logging.Handler) -> bool:
    consoles = (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
    return isinstance(handler, logging.StreamHandler) and handler.stream in consoles


def configure_logging(service: str) -> None:
    """Send every log record to stdout as one JSON object with the service name.

    Idempotent: a second call (another app in the same process) relabels the one JSON
    handler. Any other handler of the root logger that prints to stdout or stderr goes (its
    lines would not be JSON); handlers that send records elsewhere stay (telemetry's OTLP
    handler, a test runner's capture).
    """
    global _access_sample
    structlog.configure(
        processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, JsonStdoutHandler)]
    handler = ours[0] if ours else JsonStdoutHandler(sys.stdout)
    handler.setFormatter(json_formatter(service))
    others = [h for h in root.handlers if h not in ours and not _prints_to_a_console(h)]
    root.handlers[:] = [handler, *others]
    root.setLevel(os.environ.get("SHOPMESH_LOG_LEVEL", "INFO"))
    _access_sample = access_log_sample()
    # uvicorn configured its loggers with plain-text handlers before calling the factory:
    # send them through the JSON handler instead, and leave request lines to `log_access`
    # (which knows the route template and the trace).
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # uvicorn's own access logger gets no handler, here or above it: uvicorn checks
    # hasHandlers() once per connection and, when true, formats every request's line
    # (client address, quoted path) before the level filter drops it. It logs only INFO.
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = False
    uvicorn_access.setLevel(logging.WARNING)


class AccessLogMiddleware:
    """One INFO line per request served: method, route template, status, milliseconds.

    Pure ASGI (no per-request copies). Inside the server span, so the line carries the
    request's trace id; paths in `skip` (probes, scrapes) are not logged.
    """

    def __init__(self, app: ASGIApp, skip: Iterable[str] = ()) -> None:
        self.app = app
        self.skip = frozenset(skip)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.skip:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            log_access(scope, status, time.perf_counter() - started)


def log_access(scope: Scope, status: int, seconds: float) -> None:
    """The access line of one request: method, route template (the path when no route
    matched), status and milliseconds; inside the server span, so it carries the trace id."""
    if not _access_level.isEnabledFor(logging.INFO):
        return
    if status < 400 and _access_sample < 1.0 and random.random() >= _access_sample:
        return
    route = getattr(scope.get("route"), "path", scope["path"])
    method = scope["method"]
    _access_line.info(
        f"{method} {route} {status}",
        http_method=method,
        http_route=route,
        http_status=status,
        duration_ms=round(seconds * 1000, 2),
    )
