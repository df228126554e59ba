"""Partitioners: which partition a key goes to.

>>> p = HashPartitioner(3)
>>> [p(k) for k in (0, 1, 2, 3, -1)]
[0, 1, 2, 0, 1]
"""

from __future__ import annotations

import bisect
from typing import Any, Callable

from .hashing import portable_hash

__all__ = ["Partitioner", "HashPartitioner", "RangePartitioner", "no_partition_error"]


class Partitioner:
    """Maps a key to a partition in ``range(numPartitions)``.

    Zero partitions are allowed, as in Spark: a shuffle of an RDD without partitions (``emptyRDD()``,
    an empty batch) keeps its count of 0 and has nothing to place. Placing a key there is an error.

    >>> Partitioner(0).numPartitions
    0
    >>> Partitioner(0)("a")
    Traceback (most recent call last):
    ...
    ValueError: Partitioner(0) has no partition for key 'a': a shuffle of records needs numPartitions >= 1
    """

    def __init__(self, numPartitions: int, partitionFunc: Callable[[Any], int] = portable_hash) -> None:
        if not isinstance(numPartitions, int) or isinstance(numPartitions, bool) or numPartitions < 0:
            raise ValueError(f"numPartitions must be an int >= 0 (>= 1 for data), got {numPartitions!r}")
        self.numPartitions = numPartitions
        self.partitionFunc = partitionFunc

    def __call__(self, key: Any) -> int:
        if self.numPartitions == 0:
            raise no_partition_error(self, key)
        return self.partitionFunc(key) % self.numPartitions

    def __eq__(self, other: object) -> bool:
        return (type(other) is type(self) and other.numPartitions == self.numPartitions
                and other.partitionFunc == self.partitionFunc)

    def __hash__(self) -> int:
        return hash((type(self), self.numPartitions))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.numPartitions})"


def no_partition_error(partitioner: Partitioner, key: Any) -> ValueError:
    """The error for a record sent through a partitioner of 0 partitions."""
    return ValueError(f"{partitioner!r} has no partition for key {key!r:.200}: "
                      "a shuffle of records needs numPartitions >= 1")


class HashPartitioner(Partitioner):
    """``portable_hash(key) % numPartitions`` (PySpark's default)."""


class RangePartitioner(Partitioner):
    """Sorted ranges of keys, cut at ``bounds`` (used by ``sortByKey``).

    >>> p = RangePartitioner([10, 20], ascending=True)
    >>> [p(k) for k in (5, 10, 15, 25)]
    [0, 0, 1, 2]
    """

    def __init__(self, bounds: list[Any], ascending: bool = True,
                 keyfunc: Callable[[Any], Any] = lambda k: k) -> None:
        super().__init__(len(bounds) + 1, portable_hash)
        self.bounds = bounds
        self.ascending = ascending
        self.keyfunc = keyfunc

    def __call__(self, key: Any) -> int:
        p = bisect.bisect_left(self.bounds, self.keyfunc(key))
        return p if self.ascending else self.numPartitions - 1 - p

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, RangePartitioner) and other.bounds == self.bounds
                and other.ascending == self.ascending)

    def __hash__(self) -> int:
        return hash((RangePartitioner, len(self.bounds)))
