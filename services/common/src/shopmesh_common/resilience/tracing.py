"""Client spans for the resilient client: every attempt of a call, when traces are exported.

`trace_calls(tracer_provider)` is called by shopmesh_common.telemetry when it sets up
tracing (None turns the spans off again); until then `tracer` is None and client.py sends
without a span, at no cost. A span carries the attributes the aiohttp instrumentation
set before http1.py replaced aiohttp (http.method, http.url, http.status_code; an error
status from 400 on), and its context goes out in the attempt's traceparent header, so the
downstream's server span is its child.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry.propagate import inject
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer, TracerProvider

from shopmesh_common.resilience.http1 import ConnectionPool, RawResponse

tracer: Tracer | None = None


def trace_calls(tracer_provider: TracerProvider | None) -> None:
    """Make every attempt a CLIENT span of `tracer_provider` (None: no spans)."""
    global tracer
    tracer = None if tracer_provider is None else tracer_provider.get_tracer(__name__)


async def send_traced(
    active: Tracer,
    pool: ConnectionPool,
    method: str,
    target: str,
    *,
    headers: Mapping[str, str],
    body: bytes | None,
    seconds: float,
) -> RawResponse:
    """`pool.request(...)` inside a CLIENT span whose context the downstream continues."""
    attributes = {"http.method": method, "http.url": pool.url(target)}
    with active.start_as_current_span(method, kind=SpanKind.CLIENT, attributes=attributes) as span:
        outgoing = dict(headers)
        inject(outgoing)
        raw = await pool.request(method, target, headers=outgoing, body=body, timeout=seconds)
        span.set_attribute("http.status_code", raw.status)
        if raw.status >= 400:
            span.set_status(Status(StatusCode.ERROR))
    return raw
