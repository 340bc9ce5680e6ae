"""Which namespaces the operator serves (SHOPMESH_NAMESPACES: names or globs).

One place for the matching rule, used by watch.py, resync.py and peering.py.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence


def in_scope(namespace: str, patterns: Sequence[str]) -> bool:
    """No patterns means every namespace."""
    return not patterns or any(fnmatch.fnmatch(namespace, pat) for pat in patterns)


def exact_namespaces(patterns: Sequence[str]) -> list[str] | None:
    """The namespaces to list one by one, or None to list the whole cluster.

    Exact names are listed one by one, so a namespaced operator needs no
    cluster-wide list permission; a glob can only be matched after a cluster list.
    """
    if not patterns or any(ch in pat for pat in patterns for ch in "*?["):
        return None
    return list(patterns)
