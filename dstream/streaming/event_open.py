"""How many (key, window) pairs the open windows of ``FinalWindows`` hold, kept up to date
as panes change instead of walked from all the panes every batch.

The state keeps, per window start, the number of distinct keys in the window's panes
(``distinct``). A key that comes into a pane adds one to each window of that pane holding no
other pane with the key: the windows after the key's nearest pane before (``q``) and ending
before its nearest pane after (``r``). The keys a pane gains are grouped by ``q`` and ``r``
with set operations (at C speed), so a batch costs about one pass over its new keys. Closed
windows leave ``distinct``; the open-window count is the sum of the rest.

>>> distinct = {}
>>> panes = {}
>>> for p, keys in [(0, {"a"}), (2_000, {"a", "b"}), (1_000, {"b"})]:
...     count_new_keys(distinct, panes, p, keys, 2_000, 1_000)
...     panes[p] = dict.fromkeys(keys, 1)
>>> sorted(distinct.items())
[(-1000, 1), (0, 2), (1000, 2), (2000, 2)]
>>> open_windows(distinct, 2_000, 2_000), sorted(distinct)
(4, [1000, 2000])
"""

from __future__ import annotations

import operator
from typing import AbstractSet, Any

from .event_time import window_starts

__all__ = ["count_new_keys", "distinct_keys", "open_windows", "new_keys"]

_key = operator.itemgetter(0)


def new_keys(items: list[tuple[Any, Any]], old: dict[Any, Any] | None) -> set[Any]:
    """The keys of a pane's arrived ``(key, accumulator)`` items that its ``old`` lacks.

    >>> sorted(new_keys([("a", 1), ("b", 2)], {"a": 5}))
    ['b']
    """
    keys = set(map(_key, items))
    return keys - old.keys() if old else keys


def count_new_keys(distinct: dict[int, int], panes: dict[int, dict[Any, Any]], p: int,
                   keys: AbstractSet[Any], size: int, slide: int) -> None:
    """``distinct`` updated for ``keys`` coming into the pane at ``p`` (none of them in it
    yet; ``panes`` as before they come)."""
    if not keys:
        return
    starts = window_starts(p, size, slide)            # latest first
    first, end = starts[-1], starts[0] + size          # the panes sharing a window with p
    gains: list[tuple[float, float, int]] = []         # (q, r, keys)
    for q, group in _split(keys, panes, range(p - 1, first - 1, -1), p):
        for r, part in _split(group, panes, range(p + 1, end), p):
            gains.append((q, r, len(part)))
    for s in starts:
        gain = sum(n for q, r, n in gains if q < s and r >= s + size)
        if gain:
            distinct[s] = distinct.get(s, 0) + gain


def _split(keys: AbstractSet[Any], panes: dict[int, dict[Any, Any]], reach: range, p: int
           ) -> list[tuple[float, AbstractSet[Any]]]:
    """``keys`` grouped by the first pane of ``panes`` in ``reach`` (pane starts, in the
    order looked at) that holds them; those in none, under -inf or +inf (the side of ``p``
    ``reach`` lies on)."""
    groups: list[tuple[float, AbstractSet[Any]]] = []
    left = keys
    ordered = sorted(q for q in panes if q in reach)
    for q in (reversed(ordered) if reach.step < 0 else ordered):
        common = left & panes[q].keys()
        if common:
            groups.append((q, common))
            left = left - common
            if not left:
                return groups
    groups.append((float("-inf") if reach.step < 0 else float("inf"), left))
    return groups


def distinct_keys(panes: dict[int, dict[Any, Any]], size: int, slide: int) -> dict[int, int]:
    """``distinct`` of ``panes`` from nothing (a state saved before it was kept)."""
    distinct: dict[int, int] = {}
    seen: dict[int, dict[Any, Any]] = {}
    for p in sorted(panes):
        count_new_keys(distinct, seen, p, panes[p].keys(), size, slide)
        seen[p] = panes[p]
    return distinct


def open_windows(distinct: dict[int, int], size: int, limit: int | None) -> int:
    """The (key, window) pairs of the windows not closed by ``limit``; the closed ones
    dropped from ``distinct``."""
    if limit is not None:
        for s in [s for s in distinct if s + size <= limit]:
            del distinct[s]
    return sum(distinct.values())
