"""analysis.py: `judge` (a metric's value and the requests behind it in, a verdict out),
`threshold` (what passes, as people read it), the PromQL each metric asks (only the
canary's pods, no probes or scrapes, the interval as the window), and the providers:
PrometheusProvider against a real little HTTP server that answers `/api/v1/query` like
Prometheus does, and NoProvider, which says how to configure one."""

from __future__ import annotations

import json
import math
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from shopmesh_operator.analysis import (
    NoProvider,
    PrometheusProvider,
    judge,
    metric_query,
    requests_query,
    threshold,
)
from shopmesh_operator.models import Analysis, AnalysisMetric, Measurement, Microservice

from .fake_cluster import microservice_body

NOW = "2026-12-03T12:00:00Z"
NAN = math.nan

SUCCESS = AnalysisMetric(name="success-rate", min=99)
LATENCY = AnalysisMetric(name="latency-p99", max_ms=500)
BOUNDED = AnalysisMetric(name="queue-depth", query="sum(queue_depth)", min=1, max=100)
AT_LEAST = AnalysisMetric(name="orders-per-second", query="sum(rate(orders[1m]))", min=5)
AT_MOST = AnalysisMetric(name="queue-depth", query="sum(queue_depth)", max=100)

#: The label matchers of the canary's own requests, for shop/cart.
CART = 'namespace="shop",pod=~"cart-canary-.+",route!~"/health.*|/metrics"'


def _canary(name: str = "cart", namespace: str = "shop") -> Microservice:
    spec = {
        "image": "shopmesh/cart:2.0",
        "replicas": 2,
        "rollout": {"strategy": "Canary", "canary": {"steps": [{"setWeight": 20}]}},
    }
    return Microservice.from_body(microservice_body(name=name, namespace=namespace, spec=spec))


def _analysis(*metrics: dict[str, Any], **fields: Any) -> Analysis:
    return Analysis.model_validate({"metrics": list(metrics), **fields})


def _wire(measurement: Measurement) -> str:
    """The measurement as status.rollout.release carries it: strict JSON, no NaN."""
    return json.dumps(measurement.model_dump(by_alias=True, mode="json"), allow_nan=False)


# --- judge -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "value", "requests", "verdict", "message"),
    [
        pytest.param(SUCCESS, 99.7, 120, "Successful", "", id="success-rate-above-min"),
        pytest.param(SUCCESS, 99.0, 120, "Successful", "", id="success-rate-at-min-passes"),
        pytest.param(
            SUCCESS,
            98.25,
            120,
            "Failed",
            "success-rate 98.25 is not >= 99%",
            id="success-rate-below-min",
        ),
        pytest.param(LATENCY, 231.5, 120, "Successful", "", id="latency-below-max-ms"),
        pytest.param(LATENCY, 500.0, 120, "Successful", "", id="latency-at-max-ms-passes"),
        pytest.param(
            LATENCY,
            612.5,
            120,
            "Failed",
            "latency-p99 612.5 is not <= 500ms",
            id="latency-above-max-ms",
        ),
        pytest.param(BOUNDED, 50.0, 120, "Successful", "", id="custom-between-min-and-max"),
        pytest.param(BOUNDED, 1.0, 120, "Successful", "", id="custom-at-min-passes"),
        pytest.param(BOUNDED, 100.0, 120, "Successful", "", id="custom-at-max-passes"),
        pytest.param(
            BOUNDED,
            0.5,
            120,
            "Failed",
            "queue-depth 0.5 is not >= 1 and <= 100",
            id="custom-below-min",
        ),
        pytest.param(
            BOUNDED,
            150.0,
            120,
            "Failed",
            "queue-depth 150 is not >= 1 and <= 100",
            id="custom-above-max",
        ),
        pytest.param(AT_LEAST, 1e6, 120, "Successful", "", id="custom-min-only-has-no-ceiling"),
        pytest.param(
            AT_LEAST,
            4.99,
            120,
            "Failed",
            "orders-per-second 4.99 is not >= 5",
            id="custom-min-only-below",
        ),
        pytest.param(AT_MOST, -3.0, 120, "Successful", "", id="custom-max-only-has-no-floor"),
        pytest.param(
            AT_MOST,
            101.0,
            120,
            "Failed",
            "queue-depth 101 is not <= 100",
            id="custom-max-only-above",
        ),
        pytest.param(
            SUCCESS,
            99.7,
            10,
            "Successful",
            "",
            id="exactly-min-requests-is-enough",
        ),
        pytest.param(
            SUCCESS,
            99.7,
            9,
            "Inconclusive",
            "the canary served 9 requests, fewer than minRequests 10",
            id="too-few-requests-even-if-it-would-pass",
        ),
        pytest.param(
            SUCCESS,
            12.0,
            3,
            "Inconclusive",
            "the canary served 3 requests, fewer than minRequests 10",
            id="too-few-requests-even-if-it-would-fail",
        ),
        pytest.param(
            LATENCY,
            231.5,
            None,
            "Inconclusive",
            "the canary served 0 requests, fewer than minRequests 10",
            id="no-request-count-is-zero-requests",
        ),
        pytest.param(
            LATENCY,
            231.5,
            NAN,
            "Inconclusive",
            "the canary served 0 requests, fewer than minRequests 10",
            id="nan-request-count-is-zero-requests",
        ),
        pytest.param(SUCCESS, None, 120, "Inconclusive", "Prometheus has no value", id="no-value"),
        pytest.param(SUCCESS, NAN, 120, "Inconclusive", "Prometheus has no value", id="nan-value"),
        pytest.param(
            BOUNDED, NAN, 120, "Inconclusive", "Prometheus has no value", id="custom-nan-value"
        ),
    ],
)
def test_judge(
    metric: AnalysisMetric, value: float | None, requests: float | None, verdict: str, message: str
) -> None:
    measured = judge(metric, value, requests, min_requests=10, at=NOW)

    assert (measured.verdict, measured.message) == (verdict, message)
    assert (measured.metric, measured.threshold, measured.at) == (
        metric.name,
        threshold(metric),
        NOW,
    )


@pytest.mark.parametrize(
    ("value", "requests", "kept"),
    [
        pytest.param(98.25, 120, 98.25, id="a-failing-value"),
        pytest.param(99.7, 3, 99.7, id="a-value-on-too-few-requests"),
        pytest.param(None, 120, None, id="no-value"),
        # 0/0 over a window in which the canary was idle: no value, and no NaN in
        # the status (the API server refuses NaN, which is not JSON).
        pytest.param(NAN, 120, None, id="nan-value"),
        pytest.param(NAN, 0, None, id="nan-value-on-an-idle-canary"),
    ],
)
def test_judge_keeps_the_value_and_requests_as_json(
    value: float | None, requests: float, kept: float | None
) -> None:
    measured = judge(SUCCESS, value, requests, min_requests=10, at=NOW)

    assert (measured.value, measured.requests) == (kept, requests)
    assert json.loads(_wire(measured))["value"] == kept


def test_judge_an_error_is_inconclusive_and_says_why() -> None:
    error = "Prometheus at http://prometheus:9090 did not answer: TimeoutError()"

    measured = judge(SUCCESS, 99.9, 500, min_requests=10, at=NOW, error=error)

    assert (measured.verdict, measured.message) == ("Inconclusive", error)
    assert (measured.requests, measured.threshold, measured.at) == (500, ">= 99%", NOW)


# --- threshold ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "text"),
    [
        pytest.param(SUCCESS, ">= 99%", id="success-rate-is-a-percentage"),
        pytest.param(
            AnalysisMetric(name="success-rate", min=99.95), ">= 99.95%", id="success-rate-decimal"
        ),
        pytest.param(LATENCY, "<= 500ms", id="latency-in-milliseconds"),
        pytest.param(
            AnalysisMetric(name="latency-p99", max_ms=250.5), "<= 250.5ms", id="latency-decimal"
        ),
        pytest.param(AT_LEAST, ">= 5", id="custom-min-has-no-unit"),
        pytest.param(AT_MOST, "<= 100", id="custom-max"),
        pytest.param(BOUNDED, ">= 1 and <= 100", id="custom-min-and-max"),
        pytest.param(
            AnalysisMetric(name="error-ratio", query="q", max=0.01), "<= 0.01", id="custom-decimal"
        ),
    ],
)
def test_threshold(metric: AnalysisMetric, text: str) -> None:
    assert threshold(metric) == text


# --- queries -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "query"),
    [
        pytest.param(
            {"name": "success-rate", "min": 99},
            f'100 * (sum(rate(shopmesh_http_requests_total{{{CART},status_class!="5xx"}}[30s]))'
            f" or vector(0)) / sum(rate(shopmesh_http_requests_total{{{CART}}}[30s]))",
            id="success-rate-non-5xx-over-all",
        ),
        pytest.param(
            {"name": "latency-p99", "maxMs": 500},
            "1000 * histogram_quantile(0.99, sum by (le) "
            f"(rate(shopmesh_http_request_duration_seconds_bucket{{{CART}}}[30s])))",
            id="latency-p99-in-milliseconds",
        ),
        pytest.param(
            {"name": "queue-depth", "query": "max(queue_depth)", "max": 100},
            "max(queue_depth)",
            id="custom-without-placeholders-as-written",
        ),
        pytest.param(
            {
                "name": "error-ratio",
                "max": 0.01,
                "query": 'sum(rate(errors{namespace="{{namespace}}",service="{{name}}",'
                'pod=~"{{pods}}"}[{{interval}}]))'
                ' / sum(rate(calls{pod=~"{{pods}}"}[{{interval}}]))',
            },
            'sum(rate(errors{namespace="shop",service="cart",pod=~"cart-canary-.+"}[30s]))'
            ' / sum(rate(calls{pod=~"cart-canary-.+"}[30s]))',
            id="custom-placeholders-filled-everywhere",
        ),
    ],
)
def test_metric_query(metric: dict[str, Any], query: str) -> None:
    analysis = _analysis(metric, interval="30s")

    assert metric_query(_canary(), analysis, analysis.metrics[0]) == query


def test_requests_query_counts_the_canarys_own_requests() -> None:
    assert requests_query(_canary(), _analysis({"name": "success-rate", "min": 99})) == (
        f"sum(increase(shopmesh_http_requests_total{{{CART}}}[30s]))"
    )


@pytest.mark.parametrize(
    ("name", "namespace", "selector"),
    [
        pytest.param(
            "orders",
            "shop",
            'namespace="shop",pod=~"orders-canary-.+",route!~"/health.*|/metrics"',
            id="the-canary-pods-of-the-service",
        ),
        pytest.param(
            "cart",
            "staging",
            'namespace="staging",pod=~"cart-canary-.+",route!~"/health.*|/metrics"',
            id="in-its-own-namespace",
        ),
    ],
)
def test_queries_select_only_the_canary(name: str, namespace: str, selector: str) -> None:
    ms, analysis = _canary(name, namespace), _analysis({"name": "latency-p99", "maxMs": 500})

    assert selector in metric_query(ms, analysis, analysis.metrics[0])
    assert selector in requests_query(ms, analysis)


@pytest.mark.parametrize(
    ("interval", "window"),
    [
        pytest.param("30s", "[30s]", id="seconds"),
        pytest.param("1m", "[60s]", id="minutes"),
        pytest.param("1.5m", "[90s]", id="decimal-minutes"),
        pytest.param("12345ms", "[12s]", id="milliseconds-rounded"),
        pytest.param("1h", "[3600s]", id="an-hour"),
    ],
)
def test_queries_window_is_the_interval(interval: str, window: str) -> None:
    custom = {"name": "queue-depth", "query": "max_over_time(depth[{{interval}}])", "max": 1}
    analysis = _analysis({"name": "success-rate", "min": 99}, custom, interval=interval)
    ms = _canary()

    queries = [requests_query(ms, analysis)] + [
        metric_query(ms, analysis, m) for m in analysis.metrics
    ]

    assert all(window in query for query in queries), queries
    assert metric_query(ms, analysis, analysis.metrics[1]) == f"max_over_time(depth{window})"


# --- PrometheusProvider ------------------------------------------------------------------


def _vector(*values: str) -> dict[str, Any]:
    result = [
        {"metric": {"series": str(i)}, "value": [1764763200.0, v]} for i, v in enumerate(values)
    ]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def _scalar(value: str) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": "scalar", "result": [1764763200.0, value]}}


REFUSED = {"status": "error", "errorType": "bad_data", "error": "1:5: parse error: unexpected"}


@dataclass
class FakePrometheus:
    """Answers `/api/v1/query` with `answers[query]`, or `default` for any other query;
    a dict is sent as JSON with HTTP 200 (400 when its status is "error"), a string as
    is. `queries` lists what was asked, in order."""

    url: str = ""
    answers: dict[str, dict[str, Any] | str] = field(default_factory=dict)
    default: dict[str, Any] | str = field(default_factory=_vector)
    queries: list[str] = field(default_factory=list)

    async def query(self, request: web.Request) -> web.Response:
        query = request.query["query"]
        self.queries.append(query)
        answer = self.answers.get(query, self.default)
        if isinstance(answer, str):
            return web.Response(text=answer, status=502, content_type="text/html")
        return web.json_response(answer, status=400 if answer["status"] == "error" else 200)


@pytest.fixture
async def prometheus() -> AsyncIterator[FakePrometheus]:
    fake = FakePrometheus()
    app = web.Application()
    app.router.add_get("/api/v1/query", fake.query)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.url = f"http://{host}:{port}"
    yield fake
    await runner.cleanup()


@pytest.fixture
def closed_url() -> str:
    """A port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


ANALYSIS = _analysis({"name": "success-rate", "min": 99}, {"name": "latency-p99", "maxMs": 500})
REQUESTS = requests_query(_canary(), ANALYSIS)
SUCCESS_QUERY = metric_query(_canary(), ANALYSIS, ANALYSIS.metrics[0])
LATENCY_QUERY = metric_query(_canary(), ANALYSIS, ANALYSIS.metrics[1])

Answers = dict[str, dict[str, Any] | str]
Row = tuple[str, float | None, float | None, str]


def _prometheus_case(answers: Answers, *rows: Row, id: str) -> Any:
    """Prometheus answers `answers` (by query); the measurements are `rows`:
    (verdict, value, requests, message) for success-rate, then latency-p99."""
    return pytest.param(answers, rows, id=id)


@pytest.mark.parametrize(
    ("answers", "rows"),
    [
        _prometheus_case(
            {
                REQUESTS: _vector("120"),
                SUCCESS_QUERY: _vector("99.5"),
                LATENCY_QUERY: _vector("231.5"),
            },
            ("Successful", 99.5, 120, ""),
            ("Successful", 231.5, 120, ""),
            id="one-sample-each",
        ),
        _prometheus_case(
            {REQUESTS: _vector("120"), SUCCESS_QUERY: _vector("97"), LATENCY_QUERY: _vector("800")},
            ("Failed", 97, 120, "success-rate 97 is not >= 99%"),
            ("Failed", 800, 120, "latency-p99 800 is not <= 500ms"),
            id="one-sample-each-failing",
        ),
        _prometheus_case(
            {REQUESTS: _vector("120"), SUCCESS_QUERY: _vector(), LATENCY_QUERY: _vector("231.5")},
            ("Inconclusive", None, 120, "Prometheus has no value"),
            ("Successful", 231.5, 120, ""),
            id="empty-vector-is-no-value",
        ),
        _prometheus_case(
            {REQUESTS: _vector(), SUCCESS_QUERY: _vector("99.5"), LATENCY_QUERY: _vector("231.5")},
            ("Inconclusive", 99.5, None, "the canary served 0 requests, fewer than minRequests 10"),
            (
                "Inconclusive",
                231.5,
                None,
                "the canary served 0 requests, fewer than minRequests 10",
            ),
            id="no-requests-series-is-zero-requests",
        ),
        _prometheus_case(
            {REQUESTS: _vector("0"), SUCCESS_QUERY: _vector("NaN"), LATENCY_QUERY: _vector("NaN")},
            ("Inconclusive", None, 0, "the canary served 0 requests, fewer than minRequests 10"),
            ("Inconclusive", None, 0, "the canary served 0 requests, fewer than minRequests 10"),
            id="idle-canary-nan-values",
        ),
        _prometheus_case(
            {
                REQUESTS: _scalar("120"),
                SUCCESS_QUERY: _scalar("99.5"),
                LATENCY_QUERY: _scalar("42"),
            },
            ("Successful", 99.5, 120, ""),
            ("Successful", 42, 120, ""),
            id="scalar-result-type",
        ),
    ],
)
async def test_prometheus_provider_measures(
    prometheus: FakePrometheus, answers: Answers, rows: tuple[Row, ...]
) -> None:
    prometheus.answers = answers
    provider = PrometheusProvider(prometheus.url + "/")
    try:
        measured = await provider.measure(_canary(), ANALYSIS, now=NOW)
    finally:
        await provider.close()

    got = [(m.verdict, m.value, m.requests, m.message) for m in measured]
    assert got == list(rows)
    assert [m.metric for m in measured] == ["success-rate", "latency-p99"]
    assert {m.at for m in measured} == {NOW}
    assert prometheus.queries == [REQUESTS, SUCCESS_QUERY, LATENCY_QUERY]


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        pytest.param(
            {SUCCESS_QUERY: REFUSED},
            f"Prometheus refused the query {SUCCESS_QUERY!r}: 1:5: parse error: unexpected",
            id="error-status",
        ),
        pytest.param(
            {LATENCY_QUERY: _vector("231.5", "250")},
            f"the query {LATENCY_QUERY!r} returned 2 series, not one",
            id="two-series",
        ),
        pytest.param(
            {REQUESTS: _vector("120", "7")},
            f"the query {REQUESTS!r} returned 2 series, not one",
            id="two-series-of-requests",
        ),
    ],
)
async def test_prometheus_provider_answer_it_cannot_use_makes_every_metric_inconclusive(
    prometheus: FakePrometheus, answers: Answers, message: str
) -> None:
    prometheus.default = _vector("120")
    prometheus.answers = answers
    provider = PrometheusProvider(prometheus.url)
    try:
        measured = await provider.measure(_canary(), ANALYSIS, now=NOW)
    finally:
        await provider.close()

    assert [(m.metric, m.verdict, m.value, m.requests, m.message) for m in measured] == [
        ("success-rate", "Inconclusive", None, None, message),
        ("latency-p99", "Inconclusive", None, None, message),
    ]


async def test_prometheus_provider_a_page_that_is_not_json_is_no_answer(
    prometheus: FakePrometheus,
) -> None:
    prometheus.default = "<html><body>502 Bad Gateway</body></html>"
    provider = PrometheusProvider(prometheus.url)
    try:
        measured = await provider.measure(_canary(), ANALYSIS, now=NOW)
    finally:
        await provider.close()

    assert {m.verdict for m in measured} == {"Inconclusive"}
    assert all(
        m.message.startswith(f"Prometheus at {prometheus.url} did not answer: JSONDecodeError")
        for m in measured
    ), measured


async def test_prometheus_provider_not_there(closed_url: str) -> None:
    provider = PrometheusProvider(closed_url)
    try:
        measured = await provider.measure(_canary(), ANALYSIS, now=NOW)
    finally:
        await provider.close()

    assert [(m.metric, m.verdict, m.value, m.requests) for m in measured] == [
        ("success-rate", "Inconclusive", None, None),
        ("latency-p99", "Inconclusive", None, None),
    ]
    assert all(
        m.message.startswith(f"Prometheus at {closed_url} did not answer: ClientConnectorError")
        for m in measured
    ), measured


async def test_prometheus_provider_reuses_its_session_across_measurements(
    prometheus: FakePrometheus,
) -> None:
    prometheus.default = _vector("120")
    provider = PrometheusProvider(prometheus.url)
    try:
        first = await provider.measure(_canary(), ANALYSIS, now=NOW)
        session = provider._session
        second = await provider.measure(_canary(), ANALYSIS, now="2026-12-03T12:00:30Z")
    finally:
        await provider.close()

    assert session is not None
    assert provider._session is session
    assert session.closed
    assert [m.verdict for m in first + second] == ["Successful"] * 4
    assert len(prometheus.queries) == 6


# --- NoProvider --------------------------------------------------------------------------


async def test_no_provider_every_metric_inconclusive_naming_the_setting() -> None:
    custom = {"name": "queue-depth", "query": "sum(queue_depth)", "max": 100}
    analysis = _analysis(
        {"name": "success-rate", "min": 99}, {"name": "latency-p99", "maxMs": 500}, custom
    )

    measured = await NoProvider().measure(_canary(), analysis, now=NOW)

    assert [(m.metric, m.threshold, m.verdict, m.value) for m in measured] == [
        ("success-rate", ">= 99%", "Inconclusive", None),
        ("latency-p99", "<= 500ms", "Inconclusive", None),
        ("queue-depth", "<= 100", "Inconclusive", None),
    ]
    assert all("SHOPMESH_PROMETHEUS_URL" in m.message and m.at == NOW for m in measured)
