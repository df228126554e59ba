"""The per-partition loops behind by-key aggregation (map-side combine and reduce-side merge).

>>> dict(combine_values([("a", 1), ("b", 2), ("a", 3)], lambda v: v, lambda c, v: c + v))
{'a': 4, 'b': 2}
"""

from __future__ import annotations

import operator
from typing import Any, Callable, Hashable, Iterable, TypeVar

__all__ = ["ResultIterable", "identity", "combine_values", "combine_combiners", "group_values"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
C = TypeVar("C")


def identity(x: V) -> V:
    """The combiner of ``reduceByKey``: the first value itself."""
    return x


class ResultIterable(list[V]):
    """The values of one key after ``groupByKey`` (PySpark's name; a list, so ``len`` works)."""


def combine_values(pairs: Iterable[tuple[K, V]], create: Callable[[V], C],
                   merge: Callable[[C, V], C]) -> dict[K, C]:
    """Fold each key's values into a combiner, keys in order of first appearance."""
    combined: dict[Any, Any] = {}
    if merge is operator.add and create is identity:
        # The most common reducer gets a loop without two Python-level calls per record.
        for k, v in pairs:
            if k in combined:
                combined[k] = combined[k] + v
            else:
                combined[k] = v
        return combined
    for k, v in pairs:
        if k in combined:
            combined[k] = merge(combined[k], v)
        else:
            combined[k] = create(v)
    return combined


def combine_combiners(pairs: Iterable[tuple[K, C]], merge: Callable[[C, C], C]) -> dict[K, C]:
    """Merge combiners of the same key that came from different map partitions."""
    combined: dict[Any, Any] = {}
    for k, c in pairs:
        if k in combined:
            combined[k] = merge(combined[k], c)
        else:
            combined[k] = c
    return combined


def group_values(pairs: Iterable[tuple[K, V]]) -> dict[K, list[V]]:
    """Each key's values as a list, keys in order of first appearance."""
    groups: dict[Any, list[V]] = {}
    for k, v in pairs:
        group = groups.get(k)
        if group is None:
            groups[k] = [v]
        else:
            group.append(v)
    return groups
