"""Decides whether a live child still matches what render produced.

The operator writes a child only when this says it differs, which is what keeps
an idle operator at zero write calls: a server-side apply of an unchanged object
is still a PATCH request. The comparison is "desired is a subset of live": the
API server adds defaults (protocol, terminationMessagePath, ...) that we never
render, and those must not count as drift. Quantities are compared by value
("1000m" equals "1"), because the API server rewrites them to canonical form;
only under `resources.requests` and `resources.limits`, so a changed env value
such as "1.1" -> "1.10" is still drift. Label selectors are the exception to the
subset rule: a selector key the spec dropped (a Service leaving the BlueGreen strategy
stops selecting a track) is drift, since nothing defaults selectors.
Used by reconcile.py. Written by hand: no library compares a rendered manifest
against a defaulted live object this way, and kubernetes_asyncio (unlike the sync
client) has no quantity parser, so the few lines of one are here.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

# Resource names may contain dots themselves (nvidia.com/gpu), so match the prefix.
_QUANTITY_PATH = re.compile(r"\.resources\.(requests|limits)\.")
# Maps compared key for key: a Service's selector and a label selector's matchLabels.
_EXACT_MAP_PATH = re.compile(r"^\.spec\.selector$|\.matchLabels$")

_SUFFIXES: dict[str, Decimal] = {
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}


def parse_quantity(value: str | int) -> Decimal:
    """A Kubernetes resource quantity ("250m", "1Gi", "2", "1e3") as a Decimal."""
    text = str(value).strip()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if suffix and text.endswith(suffix):
            number = text[: -len(suffix)]
            if number and number[-1] in "0123456789.":
                return Decimal(number) * _SUFFIXES[suffix]
    return Decimal(text)


def find_drift(desired: Any, live: Any, path: str = "") -> str | None:
    """Return the first path where `live` does not carry `desired`, or None."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return path or "."
        if _EXACT_MAP_PATH.search(path) and set(live) - set(desired):
            return f"{path}.{sorted(set(live) - set(desired))[0]}"
        for key, value in desired.items():
            found = find_drift(value, live.get(key), f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return path or "."
        for index, (want, have) in enumerate(zip(desired, live, strict=True)):
            found = find_drift(want, have, f"{path}[{index}]")
            if found:
                return found
        return None
    if desired == live:
        return None
    if _QUANTITY_PATH.search(path) and _same_quantity(desired, live):
        return None
    return path or "."


def _same_quantity(a: Any, b: Any) -> bool:
    if not isinstance(a, str | int) or not isinstance(b, str | int):
        return False
    try:
        return parse_quantity(a) == parse_quantity(b)
    except (ValueError, InvalidOperation, TypeError):
        return False
