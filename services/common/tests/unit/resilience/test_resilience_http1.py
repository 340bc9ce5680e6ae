"""http1.ConnectionPool against a raw TCP server on 127.0.0.1 that answers with exactly
the bytes a test scripts: framing (length, chunked, until close), interim answers,
encodings, keep-alive and its limits, what a failure becomes, and the request as sent."""

from __future__ import annotations

import asyncio
import gzip
import socket
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from shopmesh_common.resilience import http1
from shopmesh_common.resilience.http1 import (
    BadResponse,
    ConnectFailed,
    ConnectionPool,
    Disconnected,
    RawResponse,
    Truncated,
    request_target,
)

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
HANG = b""  # send nothing, keep the connection open
CLOSE = None  # close the connection without answering

Serve = Callable[..., Awaitable["RawServer"]]


@dataclass
class RawServer:
    """Answers the n-th request (over all connections) with `answers[n]`, the last one
    for ever after; records every request head and body, and counts connections."""

    answers: list[bytes | None]
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[asyncio.Server] = []

    async def start(*answers: bytes | None) -> RawServer:
        raw = RawServer(list(answers))
        server = await asyncio.start_server(raw.handle, "127.0.0.1", 0)
        servers.append(server)
        raw.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        return raw

    yield start
    for server in servers:
        server.close()


async def get(pool: ConnectionPool, seconds: float = 2.0) -> RawResponse:
    return await pool.request("GET", "/x", headers={}, body=None, timeout=seconds)


def chunked(*parts: bytes) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts)
    return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body + b"0\r\n\r\n"


@pytest.mark.parametrize(
    ("answer", "status", "body"),
    [
        pytest.param(OK, 200, b"ok", id="Content-Length"),
        pytest.param(chunked(b"hel", b"lo"), 200, b"hello", id="chunked"),
        pytest.param(
            b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK, 200, b"ok", id="103 first"
        ),
        pytest.param(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope", 404, b"nope", id="404"
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"
            % (len(gzip.compress(b"zipped")), gzip.compress(b"zipped")),
            200,
            b"zipped",
            id="gzip decoded",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %d\r\n\r\n%s"
            % (len(zlib.compress(b"squeezed")), zlib.compress(b"squeezed")),
            200,
            b"squeezed",
            id="deflate decoded",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
            200,
            b"until the end",
            id="body until close",
        ),
    ],
)
async def test_answers_are_read_in_full(
    serve: Serve, answer: bytes, status: int, body: bytes
) -> None:
    server = await serve(answer)
    pool = ConnectionPool(server.url)

    response = await get(pool)

    assert (response.status, response.body) == (status, body)
    pool.close()


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        pytest.param(CLOSE, Disconnected, "before any answer", id="closed before answering"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nabc",
            Truncated,
            "middle of the answer",
            id="closed mid-body",
        ),
        pytest.param(b"SSH-2.0-OpenSSH\r\n\r\n", BadResponse, "not an HTTP", id="not HTTP"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 2\r\n\r\nxx",
            BadResponse,
            "cannot decode",
            id="unknown encoding",
        ),
    ],
)
async def test_failures_become_the_pools_errors(
    serve: Serve,
    answer: bytes | None,
    error: type[Exception],
    message: str,
) -> None:
    server = await serve(answer)
    pool = ConnectionPool(server.url)

    with pytest.raises(error, match=message):
        await get(pool)
    pool.close()


async def test_a_refused_connection_says_so() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pool = ConnectionPool(f"http://127.0.0.1:{port}")

    with pytest.raises(ConnectFailed) as raised:
        await get(pool)

    assert isinstance(raised.value.os_error, ConnectionRefusedError)


async def test_a_late_answer_times_out_and_its_connection_is_not_reused(
    serve: Serve,
) -> None:
    server = await serve(HANG, OK)
    pool = ConnectionPool(server.url)
    loop = asyncio.get_running_loop()
    started = loop.time()

    with pytest.raises(TimeoutError):
        await get(pool, seconds=0.2)

    assert 0.2 <= loop.time() - started < 1.0
    assert (await get(pool)).body == b"ok"
    assert server.connections == 2


@pytest.mark.parametrize(
    ("answer", "idle_seconds", "max_age", "connections"),
    [
        pytest.param(OK, http1.IDLE_SECONDS, 60.0, 1, id="kept alive: one connection"),
        pytest.param(
            OK.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1),
            http1.IDLE_SECONDS,
            60.0,
            3,
            id="Connection: close: a new one each time",
        ),
        pytest.param(OK, 0.0, 60.0, 3, id="idle too long: not reused"),
        pytest.param(OK, http1.IDLE_SECONDS, 0.0, 3, id="too old: retired after its answer"),
    ],
)
async def test_connections_are_reused_while_they_may_be(
    serve: Serve,
    monkeypatch: pytest.MonkeyPatch,
    answer: bytes,
    idle_seconds: float,
    max_age: float,
    connections: int,
) -> None:
    monkeypatch.setattr(http1, "IDLE_SECONDS", idle_seconds)
    monkeypatch.setattr(http1, "MAX_AGE_SECONDS", max_age)
    server = await serve(answer)
    pool = ConnectionPool(server.url)

    for _ in range(3):
        assert (await get(pool)).status == 200

    assert server.connections == connections
    pool.close()


async def test_the_request_goes_out_as_one_http11_message(
    serve: Serve,
) -> None:
    server = await serve(OK)
    pool = ConnectionPool(server.url + "/base/")
    port = server.url.rsplit(":", 1)[1]

    await pool.request(
        "POST", "/orders?x=1", headers={"X-Request-Id": "r-1"}, body=b'{"a":1}', timeout=2
    )
    await pool.request("DELETE", "/orders/1", headers={}, body=None, timeout=2)

    assert server.requests == [
        b"POST /base/orders?x=1 HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nX-Request-Id: r-1\r\n"
        b'Content-Length: 7\r\n\r\n{"a":1}' % port.encode(),
        b"DELETE /base/orders/1 HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n\r\n" % port.encode(),
    ]
    pool.close()


@pytest.mark.parametrize(
    ("method", "target", "headers"),
    [
        pytest.param("GET", "/x", {"X-Evil": "a\r\nInjected: 1"}, id="CRLF in a value"),
        pytest.param("GET", "/x", {"Bad Name": "v"}, id="space in a name"),
        pytest.param("GET", "/x y", {}, id="space in the target"),
        pytest.param("G\rET", "/x", {}, id="CR in the method"),
        pytest.param("HEAD", "/x", {}, id="HEAD"),
    ],
)
async def test_what_cannot_be_sent_safely_is_refused(
    method: str, target: str, headers: dict[str, str]
) -> None:
    pool = ConnectionPool("http://127.0.0.1:9")  # never reached

    with pytest.raises(ValueError, match=r"invalid|HEAD"):
        await pool.request(method, target, headers=headers, body=None, timeout=1)


@pytest.mark.parametrize(
    ("base_url", "url"),
    [
        ("http://127.0.0.1:8102", "http://127.0.0.1:8102/orders/1"),
        ("http://svc:secret@orders.shop:80/api/", "http://orders.shop:80/api/orders/1"),
    ],
)
def test_urls_for_traces_carry_no_credentials(base_url: str, url: str) -> None:
    assert ConnectionPool(base_url).url("/orders/1") == url


@pytest.mark.parametrize("base_url", ["ftp://x", "127.0.0.1:8102", "http://"])
def test_only_http_urls_make_a_pool(base_url: str) -> None:
    with pytest.raises(ValueError, match="not an http"):
        ConnectionPool(base_url)


@pytest.mark.parametrize(
    ("path", "params", "target"),
    [
        ("/orders/1", None, "/orders/1"),
        ("orders/1", None, "/orders/1"),
        ("/items", {"page": 2, "q": "a b"}, "/items?page=2&q=a+b"),
        ("/items?x=1", {"page": "2"}, "/items?x=1&page=2"),
        ("/names/zo\u00eb o", None, "/names/zo%C3%AB%20o"),
        ("/already%20quoted", None, "/already%20quoted"),
    ],
)
def test_request_targets(path: str, params: dict[str, str | int] | None, target: str) -> None:
    assert request_target(path, params) == target
