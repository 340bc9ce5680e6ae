"""JSON logs, one line per event, for every service (structlog over the standard library).

`configure_logging(service)` is called once by each service's entry point; library logs
(uvicorn, aio-pika) go through the same JSON renderer, so every line on stdout is JSON.
Every line made inside a trace carries `trace_id` and `span_id` (W3C hex), so one order's
lines can be found in every service by the id its response quoted (`X-Trace-Id`).
`json_formatter` is the renderer on its own: `telemetry` uses it for the body of the log
records it sends to the collector.
`AccessLogMiddleware` writes one line per HTTP request served (installed by
`telemetry.install_telemetry`).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable

import structlog
from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACCESS_LOGGER = "shopmesh.access"


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


def configure_logging(service: str) -> None:
    """Send every log record to stdout as one JSON object with the service name."""
    structlog.configure(
        processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(json_formatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("SHOPMESH_LOG_LEVEL", "INFO"))
    # uvicorn configured its loggers with plain-text handlers before calling the factory:
    # send them through the JSON handler instead, and leave request lines to
    # AccessLogMiddleware (which knows the route template and the trace).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


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
            if logging.getLogger(ACCESS_LOGGER).isEnabledFor(logging.INFO):
                route = getattr(scope.get("route"), "path", scope["path"])
                structlog.stdlib.get_logger(ACCESS_LOGGER).info(
                    f"{scope['method']} {route} {status}",
                    http_method=scope["method"],
                    http_route=route,
                    http_status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )
