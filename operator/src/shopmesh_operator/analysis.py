"""Canary analysis: what each metric asks Prometheus, and how an answer is judged.

A provider is one small Protocol (`AnalysisProvider.measure`); `PrometheusProvider` is
the first, reading the metrics every ShopMesh service serves and Prometheus scrapes from
its pods: `shopmesh_http_requests_total{service,route,method,status_class}` and
`shopmesh_http_request_duration_seconds`. Only the canary's pods count (their names start
with `<name>-canary-`), and neither health probes nor scrapes:

- `success-rate` (min, percent): non-5xx answers over all answers in the last interval;
- `latency-p99` (maxMs): the 99th percentile of the answers' duration;
- any other name: the metric's own PromQL `query`, in which `{{namespace}}`, `{{name}}`,
  `{{pods}}` (a regex of the canary's pod names) and `{{interval}}` (e.g. `30s`) are
  filled in, judged against min and/or max.

Every metric is judged *inconclusive* when the canary served fewer than
`analysis.minRequests` requests in the interval, when the query has no value, or when
Prometheus does not answer: too little evidence is never a pass. `judge` is pure and
table-tested; the HTTP client is aiohttp, the operator's own. Used by reconcile.py
(measuring, when canary.py says a measurement is due) and canary.py (the verdicts).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Protocol

import aiohttp

from shopmesh_operator.models import Analysis, AnalysisMetric, Measurement, Microservice
from shopmesh_operator.render.deployment import canary_name

log = logging.getLogger(__name__)

#: Requests that are not the service's work: probes and scrapes.
NOT_TRAFFIC = 'route!~"/health.*|/metrics"'
QUERY_TIMEOUT_SECONDS = 5.0


class AnalysisProvider(Protocol):
    async def measure(
        self, ms: Microservice, analysis: Analysis, *, now: str
    ) -> tuple[Measurement, ...]:
        """One measurement of every metric of `analysis` for `ms`'s canary."""


def selector(ms: Microservice) -> str:
    """The label matchers of the canary's own requests."""
    namespace = ms.metadata.namespace
    return f'namespace="{namespace}",pod=~"{pods_regex(ms)}",{NOT_TRAFFIC}'


def pods_regex(ms: Microservice) -> str:
    return f"{canary_name(ms)}-.+"


def window(analysis: Analysis) -> str:
    return f"{max(1, round(analysis.interval_seconds))}s"


def requests_query(ms: Microservice, analysis: Analysis) -> str:
    return f"sum(increase(shopmesh_http_requests_total{{{selector(ms)}}}[{window(analysis)}]))"


def metric_query(ms: Microservice, analysis: Analysis, metric: AnalysisMetric) -> str:
    match, w = selector(ms), window(analysis)
    if metric.name == "success-rate":
        # `or vector(0)`: a canary that answers nothing but 5xx has no non-5xx series at
        # all, and that is a success rate of 0, not "no value".
        return (
            f'100 * (sum(rate(shopmesh_http_requests_total{{{match},status_class!="5xx"}}[{w}]))'
            f" or vector(0)) / sum(rate(shopmesh_http_requests_total{{{match}}}[{w}]))"
        )
    if metric.name == "latency-p99":
        return (
            "1000 * histogram_quantile(0.99, sum by (le) "
            f"(rate(shopmesh_http_request_duration_seconds_bucket{{{match}}}[{w}])))"
        )
    assert metric.query is not None  # the model refuses a custom metric without one
    return (
        metric.query.replace("{{namespace}}", ms.metadata.namespace)
        .replace("{{name}}", ms.metadata.name)
        .replace("{{pods}}", pods_regex(ms))
        .replace("{{interval}}", w)
    )


def threshold(metric: AnalysisMetric) -> str:
    """What passes, as people read it."""
    if metric.max_ms is not None:
        return f"<= {metric.max_ms:g}ms"
    parts = []
    if metric.min is not None:
        parts.append(f">= {metric.min:g}{'%' if metric.name == 'success-rate' else ''}")
    if metric.max is not None:
        parts.append(f"<= {metric.max:g}")
    return " and ".join(parts)


def judge(
    metric: AnalysisMetric,
    value: float | None,
    requests: float | None,
    *,
    min_requests: int,
    at: str,
    error: str | None = None,
) -> Measurement:
    """The verdict on one metric's value, given how many requests it is based on."""
    # NaN (0/0 over an idle window) is no value: never evidence, and not JSON either
    # (the API server refuses a status carrying it).
    value = None if value is None or math.isnan(value) else value
    requests = None if requests is None or math.isnan(requests) else requests
    base = {"metric": metric.name, "threshold": threshold(metric), "requests": requests, "at": at}
    if error is not None:
        return Measurement(**base, value=value, verdict="Inconclusive", message=error)
    if requests is None or requests < min_requests:
        served = 0 if requests is None else round(requests)
        return Measurement(
            **base,
            value=value,
            verdict="Inconclusive",
            message=f"the canary served {served} requests, fewer than minRequests {min_requests}",
        )
    if value is None:
        return Measurement(**base, verdict="Inconclusive", message="Prometheus has no value")
    too_low = metric.min is not None and value < metric.min
    limit = metric.max_ms if metric.max_ms is not None else metric.max
    too_high = limit is not None and value > limit
    if too_low or too_high:
        return Measurement(
            **base,
            value=value if math.isfinite(value) else None,  # status JSON has no infinity
            verdict="Failed",
            message=f"{metric.name} {value:.4g} is not {threshold(metric)}",
        )
    return Measurement(**base, value=value, verdict="Successful")


def failed(measurements: Sequence[Measurement]) -> Measurement | None:
    return next((m for m in measurements if m.verdict == "Failed"), None)


def inconclusive(measurements: Sequence[Measurement]) -> Measurement | None:
    return next((m for m in measurements if m.verdict == "Inconclusive"), None)


class PrometheusProvider:
    """Measures through Prometheus' HTTP API (`/api/v1/query`, instant queries)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def measure(
        self, ms: Microservice, analysis: Analysis, *, now: str
    ) -> tuple[Measurement, ...]:
        try:
            requests = await self._scalar(requests_query(ms, analysis))
            values = [await self._scalar(metric_query(ms, analysis, m)) for m in analysis.metrics]
        except PrometheusError as err:
            return tuple(
                judge(m, None, None, min_requests=analysis.min_requests, at=now, error=str(err))
                for m in analysis.metrics
            )
        return tuple(
            judge(metric, value, requests, min_requests=analysis.min_requests, at=now)
            for metric, value in zip(analysis.metrics, values, strict=True)
        )

    async def _scalar(self, query: str) -> float | None:
        """The query's single value; None when it has none."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=QUERY_TIMEOUT_SECONDS)
            )
        try:
            async with self._session.get(
                f"{self.url}/api/v1/query", params={"query": query}
            ) as answer:
                body = await answer.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            raise PrometheusError(f"Prometheus at {self.url} did not answer: {err!r}") from err
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else body
            raise PrometheusError(f"Prometheus refused the query {query!r}: {error}")
        data = body.get("data") or {}
        result = data.get("result") or []
        if data.get("resultType") == "scalar":
            result = [{"value": result}]
        if not result:
            return None
        if len(result) > 1:
            raise PrometheusError(f"the query {query!r} returned {len(result)} series, not one")
        try:
            return float(result[0]["value"][1])
        except (KeyError, IndexError, TypeError, ValueError) as err:
            raise PrometheusError(f"unexpected answer to {query!r}: {result[0]!r}") from err

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class PrometheusError(Exception):
    pass


class NoProvider:
    """No Prometheus configured: every measurement is inconclusive, and says why."""

    async def measure(
        self, ms: Microservice, analysis: Analysis, *, now: str
    ) -> tuple[Measurement, ...]:
        error = "no analysis provider: set the operator's Prometheus URL (SHOPMESH_PROMETHEUS_URL)"
        return tuple(
            judge(m, None, None, min_requests=analysis.min_requests, at=now, error=error)
            for m in analysis.metrics
        )
