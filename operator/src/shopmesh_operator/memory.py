"""Gives memory back to the operating system after a burst of work.

Reconciling a thousand Microservices at once parses tens of thousands of JSON
bodies; CPython frees the objects but glibc keeps the freed heap, so resident
memory stays at its peak. `trim_forever` runs a full collection and glibc's
malloc_trim every minute, which returns that heap. Where malloc_trim does not
exist (not glibc), it only collects. Started by handlers/lifecycle.py.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
from collections.abc import Callable


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None)
    return trim


_TRIM = _malloc_trim()


def trim() -> None:
    gc.collect()
    if _TRIM is not None:
        _TRIM(0)


async def trim_forever(interval: float = 60.0) -> None:
    while True:
        await asyncio.sleep(interval)
        trim()
