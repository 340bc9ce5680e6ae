"""A small HTTP/1.1 client for the calls between the shop's services: the transport under
client.py's timeout, retry, breaker and bulkhead.

One `ConnectionPool` per downstream keeps its keep-alive connections. A connection carries
one request at a time, written in one piece, and its answer is parsed by httptools (llhttp,
the parser uvicorn serves with) inside the protocol's data_received: no reader task, no
stream objects. The caller gets the status, the headers and the whole body, or:

- ConnectFailed: no connection could be made (refused, unreachable, unknown host);
- Disconnected: the connection closed before the answer began; Truncated: during it;
- BadResponse: what came back is not HTTP, or an encoding that cannot be decoded;
- TimeoutError: no whole answer by the deadline (the connection is dropped, never reused).

Why not aiohttp, which client.py used until then: measured here (a bare proxy under wrk
with each client, and py-spy on the gateway), an aiohttp request cost about 54 µs of CPU
and one of these about 26 µs; the gateway makes one for every request it serves, and
the difference was a sixth of its CPU. What aiohttp has and no service here uses is left
out: cookies, redirects, proxies, streamed or multipart bodies, HTTP/2, Expect:
100-continue, upgrades, HEAD (refused: llhttp cannot be told that an answer has no body).
Answers in gzip or deflate are decoded (the client asks for neither); https:// uses the
ssl module's default context.

A connection idle for IDLE_SECONDS is closed rather than reused: uvicorn closes idle
keep-alive connections after 5 s, and a request written just as the server closes its
end fails through no fault of the downstream's. A connection older than MAX_AGE_SECONDS
is closed once its answer is in, busy or not (gRPC's MaxConnectionAge): behind a
Kubernetes Service, kube-proxy balances connections, not requests, so a connection kept
forever keeps going to the pod it first reached, and pods added later (a scale-up, a
canary given its share of replicas) would get nothing from this client.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import quote, urlencode, urlsplit

import httptools

IDLE_SECONDS = 4.0
#: A connection is retired once it is this old (see the module docstring).
MAX_AGE_SECONDS = 2.0
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Characters a request target may carry as they are; anything else is percent-encoded.
_UNSAFE_IN_TARGET = re.compile(r"[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]")
_SAFE_IN_TARGET = "!$&'()*+,;=:@/?%"


class ConnectFailed(ConnectionError):
    """No connection could be made; `os_error` says why."""

    def __init__(self, address: str, os_error: OSError) -> None:
        super().__init__(f"cannot connect to {address}: {os_error or type(os_error).__name__}")
        self.os_error = os_error


class Disconnected(ConnectionError):
    """The connection closed before the answer began."""


class Truncated(Disconnected):
    """The connection closed in the middle of the answer."""


class BadResponse(Exception):
    """What came back is not an HTTP answer this client can read."""


@dataclass(frozen=True, slots=True)
class RawResponse:
    """An answer read in full: header names as sent, body decoded."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class _Connection(asyncio.Protocol):
    """One keep-alive connection; httptools calls the on_* methods while it parses."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reusable = False
        self.idle_since = 0.0
        #: When it was opened (loop time), for MAX_AGE_SECONDS.
        self.born = 0.0
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[RawResponse] | None = None
        self._started = False
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def send(self, data: bytes) -> asyncio.Future[RawResponse]:
        """Write one request; the future is its answer."""
        assert self.transport is not None, "not connected"
        assert self._waiter is None, "one request at a time"
        self._waiter = waiter = asyncio.get_running_loop().create_future()
        self._started = False
        self.reusable = False
        self._status = 0
        self._headers = []
        self._body = []
        self.transport.write(data)
        return waiter

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # nothing was asked: a server talking out of turn
            self.abort()
            return
        self._started = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._finish(BadResponse(f"not an HTTP/1.1 answer: {error}"))
            self.abort()

    def on_message_begin(self) -> None:
        self._status = 0
        self._headers = []
        self._body = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._status < 200:  # an interim answer (103 Early Hints): the real one follows
            return
        self.reusable = self._parser.should_keep_alive()
        self._finish(self._answer())

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        if self._waiter is None:
            return
        if self._status and not self._has_framing():
            # No Content-Length and not chunked: the body ends where the connection does.
            self._finish(self._answer())
        elif self._started:
            self._finish(Truncated(f"the connection closed in the middle of the answer ({exc})"))
        else:
            self._finish(Disconnected(f"the connection closed before any answer ({exc})"))

    def time_out(self) -> None:
        """The deadline passed: fail the waiting request and drop the connection."""
        self._finish(TimeoutError())
        self.abort()

    def abort(self) -> None:
        self.closed = True
        self.reusable = False
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _has_framing(self) -> bool:
        names = {name.lower() for name, _ in self._headers}
        return b"content-length" in names or b"transfer-encoding" in names

    def _answer(self) -> RawResponse | BadResponse:
        headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in self._headers]
        body = b"".join(self._body)
        for name, value in headers:
            if name.lower() == "content-encoding":
                try:
                    body = _decoded(value.strip().lower(), body)
                except (zlib.error, ValueError) as error:
                    return BadResponse(f"cannot decode a {value} body: {error}")
        return RawResponse(self._status, headers, body)

    def _finish(self, outcome: RawResponse | Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is None or waiter.done():
            return
        if isinstance(outcome, Exception):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)


def _decoded(encoding: str, body: bytes) -> bytes:
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompress(body, 16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:  # raw deflate, without the zlib wrapper (some servers send it)
            return zlib.decompress(body, -zlib.MAX_WBITS)
    raise ValueError(f"unsupported content-encoding {encoding!r}")


def request_target(path: str, params: Mapping[str, str | int | float] | None = None) -> str:
    """The target of a request for `path` (relative to the base URL) with `params` added to
    its query; characters a target may not carry are percent-encoded, escapes are kept."""
    target = "/" + path.lstrip("/")
    if params:
        query = urlencode([(name, str(value)) for name, value in params.items()])
        target += ("&" if "?" in target else "?") + query
    if _UNSAFE_IN_TARGET.search(target):
        target = quote(target, safe=_SAFE_IN_TARGET)
    return target


class ConnectionPool:
    """Keep-alive connections to one base URL; no limit of its own (the caller's bulkhead
    bounds how many are in use, so the pool never becomes a second, hidden one)."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http:// or https:// URL: {base_url!r}")
        secure = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if secure else 80)
        self._ssl = ssl.create_default_context() if secure else None
        authority = parts.netloc.rpartition("@")[2]  # never send credentials as the Host
        self._host_header = authority
        self._prefix = parts.path.rstrip("/")
        self._base = f"{parts.scheme}://{authority}{self._prefix}"
        self._idle: list[_Connection] = []
        self._names: set[str] = set()  # methods and header names already checked
        self._closed = False

    async def request(
        self,
        method: str,
        target: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: float,  # noqa: ASYNC109  (the deadline also bounds connecting)
    ) -> RawResponse:
        """Send `method target` (a path and query) and read the whole answer, within
        `timeout` seconds from now."""
        if method == "HEAD":
            raise ValueError("HEAD is not supported (see the module docstring)")
        data = self._encode(method, self._prefix + target, headers, body)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        connection = self._idle_connection(loop.time())
        if connection is None:
            connection = await self._connect(deadline)
        waiter = connection.send(data)
        timer = loop.call_at(deadline, connection.time_out)
        try:
            response = await waiter
        except BaseException:
            connection.abort()  # in the middle of an answer: never to be reused
            raise
        finally:
            timer.cancel()
        young = loop.time() - connection.born < MAX_AGE_SECONDS
        if connection.reusable and young and not self._closed:
            connection.idle_since = loop.time()
            self._idle.append(connection)
        else:
            connection.close()
        return response

    def url(self, target: str) -> str:
        """The URL a request for `target` goes to (for traces and logs: no credentials)."""
        return self._base + target

    def close(self) -> None:
        """Close the idle connections; those in use close when their answer is in."""
        self._closed = True
        for connection in self._idle:
            connection.close()
        self._idle.clear()

    def _idle_connection(self, now: float) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()  # the most recently used: the likeliest alive
            if not connection.closed and now - connection.idle_since < IDLE_SECONDS:
                return connection
            connection.close()
        return None

    async def _connect(self, deadline: float) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(deadline):
                transport, connection = await loop.create_connection(
                    _Connection,
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._ssl else None,
                )
        except TimeoutError:
            raise
        except OSError as error:
            raise ConnectFailed(f"{self._host}:{self._port}", error) from error
        sock = transport.get_extra_info("socket")
        if sock is not None:  # small requests and answers: never wait to fill a segment
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.born = loop.time()
        return connection

    def _encode(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes | None
    ) -> bytes:
        if method not in self._names:
            self._check_token(method, "method")
        if " " in target or "\r" in target or "\n" in target:
            raise ValueError(f"invalid request target {target!r}")
        lines = [f"{method} {target} HTTP/1.1\r\nHost: {self._host_header}\r\n"]
        for name, value in headers.items():
            if name not in self._names:
                self._check_token(name, "header name")
            if "\r" in value or "\n" in value:
                raise ValueError(f"invalid value for header {name!r}")
            lines.append(f"{name}: {value}\r\n")
        if body is not None:
            lines.append(f"Content-Length: {len(body)}\r\n\r\n")
            return "".join(lines).encode() + body
        lines.append("Content-Length: 0\r\n\r\n" if method in _BODY_METHODS else "\r\n")
        return "".join(lines).encode()

    def _check_token(self, token: str, what: str) -> None:
        if not _TOKEN.match(token):
            raise ValueError(f"invalid {what} {token!r}")
        if len(self._names) < 256:  # the few a service uses, checked once each
            self._names.add(token)
