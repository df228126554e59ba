"""Lineage edges between RDDs: narrow (partition to partitions) and shuffle.

An edge is generic in its parent's type (an RDD's are ``Dependency[RDD[Any]]``), so this module,
below ``rdd.py``, needs no RDD.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from .partitioner import Partitioner

__all__ = ["Dependency", "NarrowDependency", "OneToOneDependency", "RangeDependency",
           "ManyToOneDependency", "ShuffleDependency"]

_shuffle_ids = itertools.count()

#: the parent's type
ParentT = TypeVar("ParentT")


class Dependency(Generic[ParentT]):
    """An edge from a child RDD to its parent ``rdd``."""

    def __init__(self, rdd: ParentT) -> None:
        self.rdd = rdd


class NarrowDependency(Dependency[ParentT]):
    """Each child partition reads a few parent partitions, with no shuffle."""

    def parents(self, split: int) -> list[int]:
        raise NotImplementedError


class OneToOneDependency(NarrowDependency[ParentT]):
    def parents(self, split: int) -> list[int]:
        return [split]


class RangeDependency(NarrowDependency[ParentT]):
    """Child partitions ``[out_start, out_start + length)`` are parent partitions from ``in_start``."""

    def __init__(self, rdd: ParentT, in_start: int, out_start: int, length: int) -> None:
        super().__init__(rdd)
        self.in_start, self.out_start, self.length = in_start, out_start, length

    def parents(self, split: int) -> list[int]:
        if self.out_start <= split < self.out_start + self.length:
            return [split - self.out_start + self.in_start]
        return []


class ManyToOneDependency(NarrowDependency[ParentT]):
    """An explicit table: child partition ``i`` reads parent partitions ``table[i]``."""

    def __init__(self, rdd: ParentT, table: list[list[int]]) -> None:
        super().__init__(rdd)
        self.table = table

    def parents(self, split: int) -> list[int]:
        return self.table[split]


class ShuffleDependency(Dependency[ParentT]):
    """Every child partition reads a bucket of every parent partition, cut by ``partitioner``."""

    def __init__(self, rdd: ParentT, partitioner: Partitioner) -> None:
        super().__init__(rdd)
        self.partitioner = partitioner
        self.shuffle_id = next(_shuffle_ids)

    def __getstate__(self) -> dict[str, Any]:
        # Tasks on the reduce side read map outputs; they never need the map side's lineage.
        return {"rdd": None, "partitioner": self.partitioner, "shuffle_id": self.shuffle_id}
