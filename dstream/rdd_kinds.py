"""The concrete kinds of RDD: how each computes a partition and which parents it reads.

>>> from dstream import Context
>>> with Context("local") as ctx:
...     type(ctx.parallelize([1]).map(str).map(len)).__name__
'PipelinedRDD'
"""

from __future__ import annotations

import bisect
import itertools
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterable, Iterator, Sequence, TypeVar

from .dependency import (Dependency, ManyToOneDependency, OneToOneDependency, RangeDependency,
                         ShuffleDependency)
from .partitioner import Partitioner
from .rdd import RDD, RDDContext
from .taskcontext import LazyInput

if TYPE_CHECKING:
    from .taskcontext import TaskContext

__all__ = ["PipelinedRDD", "ParallelCollectionRDD", "EmptyRDD", "UnionRDD", "PartitionerAwareUnionRDD",
           "ShuffledRDD", "CoalescedRDD", "CartesianRDD", "ZippedRDD", "BlockRDD", "shuffle_input_key"]

T = TypeVar("T")
U = TypeVar("U")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class PipelinedRDD(RDD[U]):
    """A narrow function over its parent's partitions; consecutive ones fold into one function
    (unless the parent is cached or checkpointed, which must see its own output)."""

    def __init__(self, prev: RDD[T], func: Callable[[int, Iterator[T]], Iterable[U]],
                 preservesPartitioning: bool = False) -> None:
        # ``func`` and ``prev`` after folding: from the elements of the first RDD of the chain
        self.func: Callable[[int, Iterator[Any]], Iterable[U]]
        self.prev: RDD[Any]
        if isinstance(prev, PipelinedRDD) and prev._is_pipelinable():
            prev_func = prev.func

            def pipeline_func(split: int, iterator: Iterator[Any]) -> Iterable[U]:
                # prev_func returns an Iterable that need not be an iterator (glom returns a
                # list): func gets an iterator, as it does without the folding
                return func(split, iter(prev_func(split, iterator)))

            self.func = pipeline_func
            self.prev = prev.prev
        else:
            self.func = func
            self.prev = prev
        super().__init__(prev.ctx, [OneToOneDependency(self.prev)], prev.getNumPartitions(),
                         prev.partitioner if preservesPartitioning else None)

    def _is_pipelinable(self) -> bool:
        return not (self.is_cached or self._checkpoint_requested or self._checkpointed)

    def compute(self, split: int, task: TaskContext) -> Iterable[U]:
        return self.func(split, self.prev.iterator(split, task))


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


def shuffle_input_key(shuffle_id: int, split: int) -> tuple[str, int, int]:
    return ("shuffle", shuffle_id, split)


class ShuffledRDD(RDD[tuple[K, V]]):
    """Pairs regrouped by ``partitioner``: partition ``i`` reads bucket ``i`` of every map output."""

    def __init__(self, prev: RDD[tuple[K, V]], partitioner: Partitioner,
                 num_partitions: int | None = None) -> None:
        n = partitioner.numPartitions if num_partitions is None else num_partitions
        if n == 0 and prev.getNumPartitions() > 0:
            # Spark would run no map task and return nothing: the parent's records would vanish
            raise ValueError(f"a shuffle of {prev!r} ({prev.getNumPartitions()} partitions) into "
                             "numPartitions=0 would drop its records: pass numPartitions >= 1 "
                             "(0 fits only an RDD without partitions, such as emptyRDD())")
        self.shuffle_dep = ShuffleDependency(prev, partitioner)
        super().__init__(prev.ctx, [self.shuffle_dep], n, partitioner)

    def compute(self, split: int, task: TaskContext) -> Iterable[tuple[K, V]]:
        buckets = task.input(shuffle_input_key(self.shuffle_dep.shuffle_id, split))
        return itertools.chain.from_iterable(
            b.load() if isinstance(b, LazyInput) else b for b in buckets)


class CoalescedRDD(RDD[T]):
    """Fewer partitions, each a contiguous range of parent partitions (no shuffle)."""

    def __init__(self, prev: RDD[T], num_partitions: int) -> None:
        n = prev.getNumPartitions()
        m = min(num_partitions, n) if n else 0
        table = [list(range(i * n // m, (i + 1) * n // m)) for i in range(m)]
        self.prev = prev
        self._table = table
        super().__init__(prev.ctx, [ManyToOneDependency(prev, table)], m)

    def compute(self, split: int, task: TaskContext) -> Iterable[T]:
        return itertools.chain.from_iterable(
            self.prev.iterator(p, task) for p in self._table[split])


class _CartesianDependency(ManyToOneDependency[RDD[Any]]):
    def __init__(self, rdd: RDD[Any], of: int, first: bool) -> None:
        super().__init__(rdd, [])
        self._of, self._first = of, first

    def parents(self, split: int) -> list[int]:
        return [split // self._of] if self._first else [split % self._of]


class CartesianRDD(RDD[tuple[T, U]]):
    """Every pair of one element of ``a`` and one of ``b``; partition ``i * nb + j`` pairs
    ``a``'s partition ``i`` with ``b``'s ``j``."""

    def __init__(self, a: RDD[T], b: RDD[U]) -> None:
        self.a, self.b = a, b
        nb = b.getNumPartitions()
        super().__init__(a.ctx, [_CartesianDependency(a, nb, True), _CartesianDependency(b, nb, False)],
                         a.getNumPartitions() * nb)

    def compute(self, split: int, task: TaskContext) -> Iterable[tuple[T, U]]:
        nb = self.b.getNumPartitions()
        right = list(self.b.iterator(split % nb, task))
        return ((x, y) for x in self.a.iterator(split // nb, task) for y in right)


class ZippedRDD(RDD[tuple[T, U]]):
    """Elements of two RDDs with the same partition sizes, paired by position."""

    def __init__(self, a: RDD[T], b: RDD[U]) -> None:
        self.a, self.b = a, b
        super().__init__(a.ctx, [OneToOneDependency(a), OneToOneDependency(b)], a.getNumPartitions())

    def compute(self, split: int, task: TaskContext) -> Iterator[tuple[T, U]]:
        left, right = self.a.iterator(split, task), self.b.iterator(split, task)
        missing = object()
        for x, y in itertools.zip_longest(left, right, fillvalue=missing):
            if x is missing or y is missing:
                raise ValueError("Can only zip RDDs with same number of elements in each partition"
                                 f" (partition {split} differs)")
            yield (x, y)  # type: ignore[misc]  # neither is the fill value here


class BlockRDD(RDD[Any]):
    """Partitions that are blocks in the block manager (received data), one block each."""

    def __init__(self, ctx: RDDContext, block_ids: list[str]) -> None:
        super().__init__(ctx, [], len(block_ids))
        self.block_ids = block_ids

    def driver_input(self, split: int) -> Any:
        return self.ctx._block_manager.get_for_task(self.block_ids[split])

    def compute(self, split: int, task: TaskContext) -> Iterable[Any]:
        rows: Iterable[Any] = task.input((self.id, split))
        return rows
