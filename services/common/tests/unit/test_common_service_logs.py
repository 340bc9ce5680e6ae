"""Every service's stdout is JSON lines with the trace id, uvicorn's lines included, because
`create_app` configures logging itself (no service can forget to).

In-process, one row per service: logging set up the way uvicorn leaves it before it calls
the app factory, then the service's `create_app` (settings pointing nowhere, no lifespan),
then a uvicorn line and a request inside a span. Out of process, one real
`uvicorn --factory` whose start-up fails (no database): every line it prints is ours.
"""

from __future__ import annotations

import importlib
import json
import logging
import logging.config
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider
from uvicorn.config import LOGGING_CONFIG

TRACER = TracerProvider().get_tracer("test")
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# Nothing listens on port 1: a lifespan that ran would fail at once.
NOWHERE = {
    "postgres_url": "postgresql://shopmesh:shopmesh@127.0.0.1:1",
    "redis_url": "redis://127.0.0.1:1/0",
    "amqp_url": "amqp://shopmesh:shopmesh@127.0.0.1:1/",
}
SERVICES = [
    pytest.param("shopmesh_users", "users", id="users"),
    pytest.param("shopmesh_orders", "orders", id="orders"),
    pytest.param("shopmesh_inventory", "inventory", id="inventory"),
    pytest.param("shopmesh_payments", "payments", id="payments"),
    pytest.param("shopmesh_gateway", "gateway", id="gateway"),
    pytest.param("shopmesh_notifications", "notifications", id="notifications"),
    pytest.param("shopmesh_order_history", "order-history", id="order-history"),
]


def json_lines(text: str) -> list[dict[str, Any]]:
    """Each line of `text` as JSON; fails on the first line that is not."""
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
    return lines


@pytest.fixture
def as_uvicorn_leaves_it(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Logging as in a new uvicorn process before the factory runs; restored afterwards."""
    for name in ("SHOPMESH_LOG_LEVEL", "SHOPMESH_ACCESS_LOG_SAMPLE", "SHOPMESH_SERVICE_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    root = logging.getLogger()
    saved = [
        (logger, logger.handlers[:], logger.level, logger.propagate)
        for logger in (root, *map(logging.getLogger, UVICORN_LOGGERS))
    ]
    # pytest's capture stays; what an earlier test's app put on the root logger goes.
    root.handlers[:] = [h for h in root.handlers if type(h).__module__.startswith("_pytest")]
    structlog.reset_defaults()
    logging.config.dictConfig(LOGGING_CONFIG)
    yield
    for logger, handlers, level, propagate in saved:
        logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate
    structlog.reset_defaults()


@pytest.mark.parametrize(("package", "service"), SERVICES)
async def test_every_service_logs_json_with_the_trace_id(
    as_uvicorn_leaves_it: None, capsys: pytest.CaptureFixture[str], package: str, service: str
) -> None:
    main = importlib.import_module(f"{package}.main")
    app = main.create_app(main.Settings(**NOWHERE))

    transport = httpx.ASGITransport(app=app)
    with TRACER.start_as_current_span("request") as span:
        logging.getLogger("uvicorn.error").info("Application startup complete.")
        logging.getLogger("uvicorn.access").info("uvicorn's own request line")
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            await client.get("/nowhere")

    out, err = capsys.readouterr()
    lines = json_lines(out)
    assert err == ""
    assert {line["service"] for line in lines} == {service}
    traced = {line["logger"]: line for line in lines if "trace_id" in line}
    trace_id = format(span.get_span_context().trace_id, "032x")
    assert traced["uvicorn.error"]["message"] == "Application startup complete."
    assert traced["shopmesh.access"]["http_route"] == "/nowhere"
    assert {traced[name]["trace_id"] for name in ("uvicorn.error", "shopmesh.access")} == {trace_id}
    # Request lines are ours (with the route template); uvicorn's would cost every request.
    assert "uvicorn.access" not in {line["logger"] for line in lines}
    assert not logging.getLogger("uvicorn.access").hasHandlers()


def test_uvicorn_prints_only_json_lines_for_a_service_that_cannot_start() -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPMESH_", "OTEL_"))}
    environ |= {
        "SHOPMESH_POSTGRES_URL": NOWHERE["postgres_url"],
        "SHOPMESH_RUN_MIGRATIONS": "false",
        "SHOPMESH_STARTUP_WAIT_SECONDS": "0",  # fail at once: nothing will ever listen there
        "OTEL_SDK_DISABLED": "true",
    }
    factory = "shopmesh_users.main:create_app"
    command = [sys.executable, "-m", "uvicorn", "--factory", factory, "--port", "0"]

    done = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=120)

    lines = json_lines(done.stdout)
    assert (done.returncode, done.stderr) == (3, "")  # uvicorn's STARTUP_FAILURE
    assert {line["service"] for line in lines} == {"users"}
    uvicorn_says = [line["message"] for line in lines if line["logger"] == "uvicorn.error"]
    assert "Application startup failed. Exiting." in uvicorn_says
