"""The join plan of RDD's pair operations (``join``, ``cogroup`` and their kin, in ``rdd.py``).

As in PySpark, each side's values are tagged with the side's index, the tagged pairs are
grouped by key, and each key's group is split back into one list per side. These functions run
in the tasks; graphs saved in the ``restore`` recovery mode refer to them by this module's path.

>>> _split_tagged([(0, "a"), (1, "x"), (0, "b")], 2)
(['a', 'b'], ['x'])
>>> _dispatch_join([(0, 1), (1, 2), (1, 3)], False, False)
[(1, 2), (1, 3)]
"""

from __future__ import annotations

from typing import Any, Iterable, Literal, TypeVar, overload

from .aggregation import ResultIterable

V = TypeVar("V")


def _extend(a: list[V], b: list[V]) -> list[V]:
    a.extend(b)
    return a


@overload
def _split_tagged(tagged: Iterable[tuple[int, Any]], n: Literal[2]
                  ) -> tuple[ResultIterable[Any], ResultIterable[Any]]: ...
@overload
def _split_tagged(tagged: Iterable[tuple[int, Any]], n: int) -> tuple[ResultIterable[Any], ...]: ...


def _split_tagged(tagged: Iterable[tuple[int, Any]], n: int) -> tuple[ResultIterable[Any], ...]:
    groups: list[ResultIterable[Any]] = [ResultIterable() for _ in range(n)]
    for i, v in tagged:
        groups[i].append(v)
    return tuple(groups)


def _dispatch_join(tagged: Iterable[tuple[int, Any]], keep_left: bool, keep_right: bool
                   ) -> list[tuple[Any, Any]]:
    left: list[Any]
    right: list[Any]
    left, right = _split_tagged(tagged, 2)
    if keep_left and not right:
        right = [None]
    if keep_right and not left:
        left = [None]
    return [(v, w) for v in left for w in right]
