"""What a call through the resilient client gives back: a response read in full, or
DownstreamUnavailable when the downstream could not answer and nothing stale could
stand in. Used by client.py, fallback.py and retry.py, and by every service that calls
another.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

STALE_HEADER = "x-shopmesh-stale"

# Headers that describe the connection or the encoded body, not the body we hand back.
_DROPPED_HEADERS = frozenset(
    {
        "connection",
        "content-encoding",
        "content-length",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


@dataclass(frozen=True)
class DownstreamResponse:
    """A downstream's answer, body read in full.

    Header names are lower-cased and describe the decoded body (no content-encoding,
    content-length or hop-by-hop headers). `stale` is true when the answer is the last
    good one served from the fallback cache; then the `x-shopmesh-stale: 1` and `age`
    headers say so too, for callers that pass headers on.
    """

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    stale: bool = False

    def json(self) -> Any:
        return json.loads(self.body)


class DownstreamUnavailable(Exception):
    """The downstream did not answer usefully: circuit open, bulkhead full, timeout,
    connection failure or a transient status after the last retry. `response` is the
    last answer when there was one (say, a 503 with Retry-After)."""

    def __init__(
        self, downstream: str, reason: str, response: DownstreamResponse | None = None
    ) -> None:
        super().__init__(f"{downstream} unavailable: {reason}")
        self.downstream = downstream
        self.reason = reason
        self.response = response


def decoded_headers(raw: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The headers of an answer as DownstreamResponse keeps them (see there); repeated
    names are joined with commas."""
    headers: dict[str, str] = {}
    for name, value in raw:
        lower = name.lower()
        if lower not in _DROPPED_HEADERS:
            headers[lower] = f"{headers[lower]}, {value}" if lower in headers else value
    return headers
