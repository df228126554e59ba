"""The RDD kinds a Context builds: sources (collections, received blocks) and unions.

The kinds that RDD's own methods build (``PipelinedRDD``, ``ShuffledRDD``, ...) are in ``rdd.py``.

>>> from dstream import Context
>>> with Context("local") as ctx:
...     type(ctx.parallelize([1])).__name__, type(ctx.union([ctx.emptyRDD()])).__name__
('ParallelCollectionRDD', 'UnionRDD')
"""

from __future__ import annotations

import bisect
import itertools
from typing import TYPE_CHECKING, Any, Hashable, Iterable, Sequence, TypeVar

from .dependency import Dependency, OneToOneDependency, RangeDependency
from .rdd import RDD, RDDContext

if TYPE_CHECKING:
    from .taskcontext import TaskContext

__all__ = ["ParallelCollectionRDD", "EmptyRDD", "UnionRDD", "PartitionerAwareUnionRDD", "BlockRDD"]

T = TypeVar("T")


class ParallelCollectionRDD(RDD[T]):
    """Slices of a driver-side collection, shipped with the tasks that read them."""

    def __init__(self, ctx: RDDContext, slices: Sequence[Sequence[T]]) -> None:
        super().__init__(ctx, [], len(slices))
        self._slices: Sequence[Sequence[T]] | None = slices

    def driver_input(self, split: int) -> Any:
        return self._slices[split] if self._slices is not None else None

    def compute(self, split: int, task: TaskContext) -> Iterable[T]:
        rows: Sequence[T] = task.input((self.id, split))
        return rows

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_slices"] = None
        return state


class EmptyRDD(RDD[T]):
    def __init__(self, ctx: RDDContext) -> None:
        super().__init__(ctx, [], 0)

    def compute(self, split: int, task: TaskContext) -> Iterable[T]:
        return ()


class UnionRDD(RDD[T]):
    """The partitions of each parent, one after another."""

    def __init__(self, ctx: RDDContext, rdds: list[RDD[T]]) -> None:
        deps: list[Dependency[RDD[Any]]] = []
        offset = 0
        self.rdds = rdds
        self._starts: list[int] = []
        for rdd in rdds:
            n = rdd.getNumPartitions()
            deps.append(RangeDependency(rdd, 0, offset, n))
            self._starts.append(offset)
            offset += n
        super().__init__(ctx, deps, offset)

    def compute(self, split: int, task: TaskContext) -> Iterable[T]:
        index = bisect.bisect_right(self._starts, split) - 1   # the last RDD starting at or before
        return self.rdds[index].iterator(split - self._starts[index], task)


class PartitionerAwareUnionRDD(RDD[T]):
    """Union of RDDs that share a partitioner: partition ``i`` chains every parent's ``i``."""

    def __init__(self, ctx: RDDContext, rdds: list[RDD[T]]) -> None:
        self.rdds = rdds
        super().__init__(ctx, [OneToOneDependency(r) for r in rdds], rdds[0].getNumPartitions(),
                         rdds[0].partitioner)

    def compute(self, split: int, task: TaskContext) -> Iterable[T]:
        return itertools.chain.from_iterable(r.iterator(split, task) for r in self.rdds)


class BlockRDD(RDD[Any]):
    """Partitions that are blocks in the block manager (received data), one block each.
    ``source`` names the stream the blocks came from when their map side may run ahead
    (``scheduler.ahead``): as each block is stored, before the batch is cut."""

    def __init__(self, ctx: RDDContext, block_ids: list[str], source: Hashable | None = None) -> None:
        super().__init__(ctx, [], len(block_ids))
        self.block_ids = block_ids
        self.source = source

    def driver_input(self, split: int) -> Any:
        return self.ctx._block_manager.get_for_task(self.block_ids[split])

    def compute(self, split: int, task: TaskContext) -> Iterable[Any]:
        rows: Iterable[Any] = task.input((self.id, split))
        return rows
