"""A minimal pipelined Redis client (RESP2) for the rate limiter's one command per request.

Why not redis-py's asyncio client, which the rest of the shop uses: measured here, it costs
50-65 µs of CPU per command (pool checkout, per-command timeouts, observability hooks, one
socket write each), more than all the gateway's own code for a request. This client keeps
one connection, queues every command issued during one event-loop iteration into a single
write, and matches replies to callers in order (Redis answers in the order it was asked),
parsing them in the protocol's data_received without a reader task. It speaks only what
the limiter needs: commands in, integers / strings / arrays / errors out, AUTH and SELECT
from the URL; no TLS, no cluster, no pub/sub. Anything else keeps redis-py
(main.connect_rate_limiter chooses).

A caller that gives up (its timeout, or its request was cancelled) leaves its reply to be
read and dropped in turn, so the order stays right for everyone else; a connection that has
answered nothing for `reply_timeout` while commands wait is dropped as stalled; a lost
connection fails every caller waiting on it, and the next command reconnects. Used by
adapters.rate_limiter.

Reply timeouts are one timer per connection, not one per command: every command gets the
same timeout, so they expire in the order they were sent, and the timer waits for the
oldest one still unanswered. (asyncio.timeout around each call cost 3.5 µs, a tenth of the
rate limiter's whole cost per request.)
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote, urlsplit

Reply = int | bytes | str | list[Any] | None


class RedisReplyError(Exception):
    """Redis answered with an error (`-ERR ...`, `-NOSCRIPT ...`)."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    db: int = 0
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> Endpoint | None:
        """The endpoint of a plain `redis://` URL, or None for anything this client cannot do."""
        parts = urlsplit(url)
        if parts.scheme != "redis" or parts.query or not parts.hostname:
            return None
        path = parts.path.strip("/")
        if path and not path.isdigit():
            return None
        return cls(
            host=parts.hostname,
            port=parts.port or 6379,
            db=int(path or 0),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def encode(args: tuple[bytes | str | int, ...]) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class _Incomplete(Exception):
    pass


def parse(buffer: bytes, position: int = 0) -> tuple[Reply | RedisReplyError, int]:
    """One reply from `buffer` at `position` and where the next starts; _Incomplete if the
    buffer ends first."""
    end = buffer.find(b"\r\n", position)
    if end < 0:
        raise _Incomplete
    kind, line = buffer[position : position + 1], buffer[position + 1 : end]
    after = end + 2
    if kind == b":":
        return int(line), after
    if kind == b"+":
        return line.decode(), after
    if kind == b"-":
        return RedisReplyError(line.decode(errors="replace")), after
    if kind == b"$":
        size = int(line)
        if size < 0:
            return None, after
        if len(buffer) < after + size + 2:
            raise _Incomplete
        return buffer[after : after + size], after + size + 2
    if kind == b"*":
        count = int(line)
        if count < 0:
            return None, after
        items: list[Any] = []
        for _ in range(count):
            item, after = parse(buffer, after)
            items.append(item)
        return items, after
    raise ConnectionError(f"unexpected RESP reply type {kind!r}")


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiting: collections.deque[asyncio.Future[Reply]] = collections.deque()
        self.buffer = b""
        self.closed = False
        self.last_data = 0.0
        self._outgoing: list[bytes] = []
        self._flush_scheduled = False
        # (deadline, future) in the order sent, which is also the order of the deadlines.
        self._deadlines: collections.deque[tuple[float, asyncio.Future[Reply]]] = (
            collections.deque()
        )
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def send(self, command: bytes, deadline: float | None = None) -> asyncio.Future[Reply]:
        """Queue `command`; its future fails with TimeoutError if no reply has come by
        `deadline` (on the loop's clock; None: it waits as long as the connection lives).
        Deadlines must not decrease from one command to the next (one timeout per client)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reply] = loop.create_future()
        self.waiting.append(future)
        if deadline is not None:
            self._deadlines.append((deadline, future))
            if self._timer is None:
                self._timer = loop.call_at(deadline, self._expire)
        self._outgoing.append(command)
        if not self._flush_scheduled:
            # Everything asked during this loop iteration goes out in one write.
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return future

    def _expire(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        deadlines = self._deadlines
        while deadlines:
            deadline, future = deadlines[0]
            if not future.done() and deadline > now:
                self._timer = loop.call_at(deadline, self._expire)
                return
            deadlines.popleft()
            if not future.done():
                future.set_exception(TimeoutError())

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._outgoing and self.transport is not None and not self.closed:
            self.transport.write(b"".join(self._outgoing))
        self._outgoing.clear()

    def data_received(self, data: bytes) -> None:
        self.last_data = asyncio.get_running_loop().time()
        self.buffer += data
        position = 0
        try:
            while position < len(self.buffer):
                reply, position = parse(self.buffer, position)
                future = self.waiting.popleft()
                if self._deadlines and self._deadlines[0][1] is future:
                    self._deadlines.popleft()
                if future.done():  # its caller gave up
                    continue
                if isinstance(reply, RedisReplyError):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)
        except _Incomplete:
            pass
        except (ConnectionError, ValueError, IndexError) as error:
            self._fail(ConnectionError(f"bad reply from Redis: {error}"))
            if self.transport is not None:
                self.transport.abort()
            return
        self.buffer = self.buffer[position:]

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError(f"connection to Redis lost: {exc or 'closed'}"))

    def _fail(self, error: Exception) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._deadlines.clear()
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)


class RespClient:
    """One pipelined connection, opened on first use and again after it is lost."""

    def __init__(self, endpoint: Endpoint, *, connect_timeout: float, reply_timeout: float) -> None:
        self._endpoint = endpoint
        self._connect_timeout = connect_timeout
        self._reply_timeout = reply_timeout
        self._protocol: _Protocol | None = None
        self._connecting = asyncio.Lock()

    async def call(self, *args: bytes | str | int) -> Reply:
        """Send one command and wait for its reply: RedisReplyError on `-ERR`, TimeoutError
        after `reply_timeout`, ConnectionError when the connection fails."""
        protocol = self._protocol
        if protocol is None or protocol.closed:
            protocol = await self._connect()
        loop = asyncio.get_running_loop()
        future = protocol.send(encode(args), loop.time() + self._reply_timeout)
        try:
            return await future
        except TimeoutError:
            if loop.time() - max(protocol.last_data, 0.0) >= self._reply_timeout:
                self._drop(protocol)  # nothing at all came back: stalled, not just slow
            raise

    async def close(self) -> None:
        if self._protocol is not None:
            self._drop(self._protocol)

    def _drop(self, protocol: _Protocol) -> None:
        if protocol.transport is not None:
            protocol.transport.abort()
        if self._protocol is protocol:
            self._protocol = None

    async def _connect(self) -> _Protocol:
        async with self._connecting:
            if self._protocol is not None and not self._protocol.closed:
                return self._protocol
            endpoint = self._endpoint
            loop = asyncio.get_running_loop()
            async with asyncio.timeout(self._connect_timeout):
                _, protocol = await loop.create_connection(_Protocol, endpoint.host, endpoint.port)
                setup = []
                if endpoint.password is not None:
                    auth: tuple[str, ...] = ("AUTH", endpoint.password)
                    if endpoint.username:
                        auth = ("AUTH", endpoint.username, endpoint.password)
                    setup.append(protocol.send(encode(auth)))
                if endpoint.db:
                    setup.append(protocol.send(encode(("SELECT", endpoint.db))))
                try:
                    for reply in setup:
                        await reply
                except BaseException:
                    if protocol.transport is not None:
                        protocol.transport.abort()
                    raise
            protocol.last_data = loop.time()
            self._protocol = protocol
            return protocol
