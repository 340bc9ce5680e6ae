"""Recently verified access tokens, so that a client's next request skips the signature check.

An ES256 verification costs about 80 µs of CPU (shared/DESIGN.md); a client sends its token
many times. An entry lives until min(the token's exp, now + `max_seconds`) and is keyed by
the whole token string, so a token that differs in one byte is verified afresh. The cache
holds at most `max_entries`; when full, the oldest entry goes (dicts keep insertion order,
which is what makes that O(1)). When the JWKS drops a kid, entries verified with it go too
(`forget_all_but`): a rotated-out key stops working here as soon as we learn of it.

In-process and synchronous (one event loop, nothing awaits inside): used by
service_layer.authentication.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection

from ..domain.identity import Identity


class TokenCache:
    def __init__(
        self,
        *,
        max_entries: int,
        max_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._max_entries = max_entries
        self._max_seconds = max_seconds
        self._clock = clock
        self._entries: dict[str, tuple[Identity, float, str]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, token: str) -> Identity | None:
        """The identity `token` proved, if it was verified and is still fresh."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._entries[token]
            return None
        return entry[0]

    def put(self, token: str, identity: Identity, *, exp: float, kid: str) -> None:
        """Remember a token that was just verified with the key `kid`."""
        if self._max_entries <= 0 or self._max_seconds <= 0:
            return
        expires_at = min(exp, self._clock() + self._max_seconds)
        if token not in self._entries and len(self._entries) >= self._max_entries:
            del self._entries[next(iter(self._entries))]
        self._entries[token] = (identity, expires_at, kid)

    def forget_all_but(self, kids: Collection[str]) -> None:
        """Drop every entry verified with a key that is not in `kids`."""
        stale = [token for token, entry in self._entries.items() if entry[2] not in kids]
        for token in stale:
            del self._entries[token]
