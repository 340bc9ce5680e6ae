"""The pipelined RESP client's pure parts and its reply matching, with a fake transport."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from shopmesh_gateway.adapters.rate_limiter import _SCRIPT, RespRateLimiter
from shopmesh_gateway.adapters.resp import (
    Endpoint,
    RedisReplyError,
    _Incomplete,
    _Protocol,
    encode,
    parse,
)


@pytest.mark.parametrize(
    ("raw", "reply"),
    [
        pytest.param(b":42\r\n", 42, id="integer"),
        pytest.param(b":-1\r\n", -1, id="negative"),
        pytest.param(b"+OK\r\n", "OK", id="simple-string"),
        pytest.param(b"$5\r\nhello\r\n", b"hello", id="bulk"),
        pytest.param(b"$0\r\n\r\n", b"", id="empty-bulk"),
        pytest.param(b"$4\r\na\r\nb\r\n", b"a\r\nb", id="bulk-with-crlf"),
        pytest.param(b"$-1\r\n", None, id="nil"),
        pytest.param(b"*2\r\n:3\r\n:59000\r\n", [3, 59000], id="array"),
        pytest.param(b"*2\r\n*1\r\n:1\r\n$1\r\nx\r\n", [[1], b"x"], id="nested"),
        pytest.param(b"*0\r\n", [], id="empty-array"),
    ],
)
def test_parse(raw: bytes, reply: Any) -> None:
    assert parse(raw) == (reply, len(raw))


def test_parse_errors_are_values() -> None:
    error, end = parse(b"-NOSCRIPT No matching script\r\n")
    assert isinstance(error, RedisReplyError)
    assert str(error).startswith("NOSCRIPT")
    assert end == 30


@pytest.mark.parametrize(
    "raw", [b"", b":4", b"$5\r\nhel", b"$5\r\nhello\r", b"*2\r\n:1\r\n", b"*2\r\n:1\r\n$3\r\nab"]
)
def test_incomplete_replies_wait_for_more(raw: bytes) -> None:
    with pytest.raises(_Incomplete):
        parse(raw)


def test_encode() -> None:
    assert encode(("EVALSHA", "abc", 2, "k1", b"k2")) == (
        b"*5\r\n$7\r\nEVALSHA\r\n$3\r\nabc\r\n$1\r\n2\r\n$2\r\nk1\r\n$2\r\nk2\r\n"
    )


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("redis://127.0.0.1:16379/0", Endpoint("127.0.0.1", 16379, 0)),
        ("redis://localhost", Endpoint("localhost", 6379, 0)),
        ("redis://cache:6380/3", Endpoint("cache", 6380, 3)),
        ("redis://:s3cret@cache:6379/0", Endpoint("cache", 6379, 0, None, "s3cret")),
        ("redis://app:p%40ss@cache/1", Endpoint("cache", 6379, 1, "app", "p@ss")),
        ("rediss://cache:6379/0", None),
        ("unix:///run/redis.sock", None),
        ("redis://cache:6379/0?protocol=3", None),
        ("redis://cache:6379/zero", None),
    ],
)
def test_endpoint(url: str, endpoint: Endpoint | None) -> None:
    assert Endpoint.parse(url) == endpoint


class FakeTransport:
    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def abort(self) -> None:
        self.aborted = True


async def connected() -> tuple[_Protocol, FakeTransport]:
    protocol = _Protocol()
    transport = FakeTransport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    return protocol, transport


async def test_commands_of_one_loop_iteration_go_out_in_one_write() -> None:
    protocol, transport = await connected()
    futures = [protocol.send(encode(("INCR", f"k{n}"))) for n in range(3)]
    await asyncio.sleep(0)
    assert len(transport.written) == 1
    protocol.data_received(b":1\r\n:2")
    protocol.data_received(b"\r\n:3\r\n")
    assert [f.result() for f in futures] == [1, 2, 3]


async def test_a_caller_that_gave_up_does_not_shift_the_replies() -> None:
    protocol, _ = await connected()
    first, second, third = (protocol.send(encode(("GET", k))) for k in "abc")
    second.cancel()
    protocol.data_received(b"$1\r\na\r\n$1\r\nb\r\n-ERR wrong\r\n")
    assert first.result() == b"a"
    assert second.cancelled()
    with pytest.raises(RedisReplyError, match="wrong"):
        third.result()


@pytest.mark.parametrize(
    ("deadlines", "replies", "outcomes"),
    [
        pytest.param(
            (0.05, 0.5), b"", ["timeout", "waiting"], id="only the command past its deadline"
        ),
        pytest.param(
            (0.05, 0.5), b"$1\r\na\r\n$1\r\nb\r\n", ["timeout", b"b"],
            id="its late reply is dropped in turn",
        ),
        pytest.param((0.05, 0.06), b"", ["timeout", "timeout"], id="both"),
        pytest.param((None, 0.05), b"", ["waiting", "timeout"], id="no deadline: waits"),
    ],
)  # fmt: skip
async def test_replies_that_do_not_come_in_time(
    deadlines: tuple[float | None, float], replies: bytes, outcomes: list[object]
) -> None:
    protocol, _ = await connected()
    now = asyncio.get_running_loop().time()
    futures = [
        protocol.send(encode(("GET", key)), None if after is None else now + after)
        for key, after in zip("ab", deadlines, strict=True)
    ]
    await asyncio.sleep(0.15)
    protocol.data_received(replies)

    def outcome(future: asyncio.Future[object]) -> object:
        if not future.done():
            return "waiting"
        if isinstance(future.exception(), TimeoutError):
            return "timeout"
        return future.result()

    assert [outcome(f) for f in futures] == outcomes


async def test_a_lost_connection_fails_everyone_waiting() -> None:
    protocol, _ = await connected()
    waiting = [protocol.send(encode(("PING",))) for _ in range(2)]
    protocol.connection_lost(ConnectionResetError())
    assert protocol.closed
    for future in waiting:
        with pytest.raises(ConnectionError):
            future.result()


async def test_garbage_from_the_server_closes_the_connection() -> None:
    protocol, transport = await connected()
    future = protocol.send(encode(("PING",)))
    protocol.data_received(b"?what\r\n")
    assert transport.aborted
    with pytest.raises(ConnectionError):
        future.result()


class ScriptCache:
    """A client whose Redis has not seen the script yet: NOSCRIPT, then EVAL works."""

    def __init__(self) -> None:
        self.commands: list[tuple[Any, ...]] = []

    async def call(self, *args: Any) -> Any:
        self.commands.append(args)
        if args[0] == "EVALSHA":
            raise RedisReplyError("NOSCRIPT No matching script. Please use EVAL.")
        return [1, 60_000]

    async def close(self) -> None:
        pass


async def test_noscript_falls_back_to_eval() -> None:
    client = ScriptCache()
    limiter = RespRateLimiter(client)  # type: ignore[arg-type]
    assert await limiter.hit(["k"], [(10, 60_000)]) == [(1, 60_000)]
    assert [c[0] for c in client.commands] == ["EVALSHA", "EVAL"]
    assert client.commands[1][1] == _SCRIPT
