"""RDD: an immutable, partitioned dataset with lineage, and PySpark's operations on it.

Narrow transformations all reduce to ``mapPartitionsWithIndex``; a chain of them folds
into one function, so a stage runs as one pass over each partition.

>>> from dstream import Context
>>> with Context("local[1]") as ctx:
...     rdd = ctx.parallelize(range(10), 2).map(lambda x: x * x).filter(lambda x: x % 2)
...     rdd.collect(), rdd.getNumPartitions()
([1, 9, 25, 49, 81], 2)
"""

from __future__ import annotations

import copy
import functools
import heapq
import itertools
import operator
import os
from collections import defaultdict
from typing import (TYPE_CHECKING, Any, Callable, Generic, Hashable, Iterable, Iterator,
                    TypeVar)

from .callsite import user_call_site
from .dependency import Dependency, NarrowDependency
from .pairs import PairOperations
from .partitioner import Partitioner
from .sampling import RDDSampler
from .statcounter import StatCounter
from .storagelevel import StorageLevel

if TYPE_CHECKING:
    from .context import Context
    from .taskcontext import TaskContext

__all__ = ["RDD"]

T = TypeVar("T")
U = TypeVar("U")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RDD(PairOperations, Generic[T]):
    """A Resilient Distributed Dataset, as in PySpark.

    Subclasses say how to compute a partition (``compute``) and which parents it reads
    (``deps``); everything users call is defined here and in ``PairOperations``.
    """

    def __init__(self, ctx: Context, deps: list[Dependency], num_partitions: int,
                 partitioner: Partitioner | None = None) -> None:
        self.ctx = ctx
        self.id = ctx._new_rdd_id()
        self.deps = deps
        self._num_partitions = num_partitions
        self.partitioner = partitioner
        self.storage_level = StorageLevel.NONE
        self.is_cached = False
        self._name: str | None = None
        self.call_site = user_call_site()
        self._checkpoint_requested: str | None = None   # "reliable" | "local"
        self._checkpointed = False

    # ------------------------------------------------------------------ lineage
    @property
    def context(self) -> Context:
        """The ``Context`` that made this RDD (PySpark's ``rdd.context``; also ``rdd.ctx``).

        >>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     ctx.parallelize([1]).context is ctx
        True
        """
        return self.ctx

    def getNumPartitions(self) -> int:
        """The number of partitions.

        >>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     ctx.parallelize([1, 2, 3], 3).getNumPartitions()
        3
        """
        return self._num_partitions

    def narrow_parents(self, split: int) -> Iterator[tuple[RDD, int]]:
        """The ``(parent, parent_split)`` pairs that partition ``split`` reads without a shuffle."""
        for dep in self.deps:
            if isinstance(dep, NarrowDependency):
                for parent_split in dep.parents(split):
                    yield dep.rdd, parent_split

    def driver_input(self, split: int) -> Any:
        """Data the driver ships with a task to compute ``split`` (source RDDs); None if none."""
        return None

    def compute(self, split: int, task: TaskContext) -> Iterable[T]:
        raise NotImplementedError(f"{type(self).__name__} does not define compute()")

    def iterator(self, split: int, task: TaskContext) -> Iterator[T]:
        """Partition ``split``: from the cache or a checkpoint when there, else computed."""
        if self.is_cached or self._checkpointed:
            key = (self.id, split)
            if task.has_input(key):
                return iter(task.input(key))
            if self.is_cached:
                values = list(self.compute(split, task))
                task.store_block(key, values)
                return iter(values)
        return iter(self.compute(split, task))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["ctx"] = None
        return state

    # ------------------------------------------------------------------ naming
    def name(self) -> str | None:
        return self._name

    def setName(self, name: str) -> RDD[T]:
        self._name = name
        return self

    def __repr__(self) -> str:
        label = f"{self._name} " if self._name else ""
        return f"{label}{type(self).__name__}[{self.id}] at {self.call_site}"

    def toDebugString(self) -> bytes:
        """The lineage, one RDD a line, with ``+-`` where a shuffle starts a new stage.

        >>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     text = ctx.parallelize([("a", 1)]).reduceByKey(lambda a, b: a + b).toDebugString()
        >>> b"+-" in text
        True
        """
        from .lineage import debug_string
        return debug_string(self).encode()

    # ------------------------------------------------------------------ persistence
    def cache(self) -> RDD[T]:
        """Keep partitions in memory once computed (``MEMORY_ONLY``)."""
        return self.persist(StorageLevel.MEMORY_ONLY)

    def persist(self, storageLevel: StorageLevel = StorageLevel.MEMORY_ONLY) -> RDD[T]:
        if self.is_cached and storageLevel != self.storage_level:
            raise ValueError(f"{self!r} is already persisted at {self.storage_level}; "
                             "unpersist() it before choosing another storage level")
        self.is_cached = True
        self.storage_level = storageLevel
        return self

    def unpersist(self, blocking: bool = False) -> RDD[T]:
        self.is_cached = False
        self.storage_level = StorageLevel.NONE
        self.ctx._block_manager.remove_rdd(self.id)
        return self

    def getStorageLevel(self) -> StorageLevel:
        return self.storage_level

    def checkpoint(self) -> None:
        """Save this RDD to the context's checkpoint directory after the next job that
        computes it, and cut its lineage there."""
        if self.ctx._checkpoint_dir is None:
            raise ValueError("Checkpoint directory has not been set in the Context: "
                             "call ctx.setCheckpointDir(path) first")
        self._request_checkpoint("reliable")

    def localCheckpoint(self) -> None:
        """Keep this RDD's partitions in the block manager and cut its lineage there."""
        self._request_checkpoint("local")

    def _request_checkpoint(self, kind: str) -> None:
        if not self._checkpoint_requested and not self._checkpointed:
            self.ctx._pending_checkpoints += 1
        self._checkpoint_requested = kind

    def _checkpoint_input(self, split: int) -> Any:
        from .rdd_checkpoint import checkpoint_input
        return checkpoint_input(self, split)

    def isCheckpointed(self) -> bool:
        return self._checkpointed

    def isLocallyCheckpointed(self) -> bool:
        return self._checkpointed and self._checkpoint_requested == "local"

    def getCheckpointFile(self) -> str | None:
        if self._checkpointed and self._checkpoint_requested == "reliable":
            return os.path.join(self.ctx._checkpoint_dir or "", f"rdd-{self.id}")
        return None

    # ------------------------------------------------------------------ narrow transformations
    def mapPartitionsWithIndex(self, f: Callable[[int, Iterator[T]], Iterable[U]],
                               preservesPartitioning: bool = False) -> RDD[U]:
        """The primitive every narrow transformation is built on.

        >>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     ctx.parallelize([1, 2, 3, 4], 2).mapPartitionsWithIndex(lambda i, it: [(i, sum(it))]).collect()
        [(0, 3), (1, 7)]
        """
        return PipelinedRDD(self, f, preservesPartitioning)

    def mapPartitions(self, f: Callable[[Iterator[T]], Iterable[U]],
                      preservesPartitioning: bool = False) -> RDD[U]:
        return self.mapPartitionsWithIndex(lambda _, it: f(it), preservesPartitioning)

    def map(self, f: Callable[[T], U], preservesPartitioning: bool = False) -> RDD[U]:
        """>>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     ctx.parallelize([1, 2]).map(str).collect()
        ['1', '2']
        """
        return self.mapPartitionsWithIndex(lambda _, it: map(f, it), preservesPartitioning)

    def flatMap(self, f: Callable[[T], Iterable[U]], preservesPartitioning: bool = False) -> RDD[U]:
        """>>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     ctx.parallelize(["a b", "c"]).flatMap(str.split).collect()
        ['a', 'b', 'c']
        """
        return self.mapPartitionsWithIndex(
            lambda _, it: itertools.chain.from_iterable(map(f, it)), preservesPartitioning)

    def filter(self, f: Callable[[T], bool]) -> RDD[T]:
        return self.mapPartitionsWithIndex(lambda _, it: filter(f, it), True)

    def glom(self) -> RDD[list[T]]:
        """>>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     ctx.parallelize([1, 2, 3], 2).glom().collect()
        [[1], [2, 3]]
        """
        return self.mapPartitionsWithIndex(lambda _, it: [list(it)])

    def keyBy(self, f: Callable[[T], K]) -> RDD[tuple[K, T]]:
        return self.map(lambda x: (f(x), x))

    def sample(self, withReplacement: bool, fraction: float, seed: int | None = None) -> RDD[T]:
        """A random sample, drawn per partition exactly as PySpark draws it."""
        if not fraction >= 0:
            raise ValueError(f"Fraction must be nonnegative, got {fraction!r}")
        return self.mapPartitionsWithIndex(RDDSampler(withReplacement, fraction, seed).func, True)

    def union(self, other: RDD[U]) -> RDD[T | U]:
        """>>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     ctx.parallelize([1]).union(ctx.parallelize([2])).collect()
        [1, 2]
        """
        return self.ctx.union([self, other])

    def __add__(self, other: RDD[U]) -> RDD[T | U]:
        if not isinstance(other, RDD):
            raise TypeError(f"can only add an RDD to an RDD, got {type(other).__name__}")
        return self.union(other)

    def cartesian(self, other: RDD[U]) -> RDD[tuple[T, U]]:
        return CartesianRDD(self, other)

    def zip(self, other: RDD[U]) -> RDD[tuple[T, U]]:
        """Pairs of elements at the same position; both sides need the same partition sizes."""
        if self.getNumPartitions() != other.getNumPartitions():
            raise ValueError("Can only zip RDDs with the same number of partitions: "
                             f"{self.getNumPartitions()} vs {other.getNumPartitions()}")
        return ZippedRDD(self, other)

    def zipWithIndex(self) -> RDD[tuple[T, int]]:
        """>>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     ctx.parallelize(["a", "b", "c"], 2).zipWithIndex().collect()
        [('a', 0), ('b', 1), ('c', 2)]
        """
        starts = [0]
        n = self.getNumPartitions()
        if n > 1:
            sizes = self.mapPartitions(lambda it: [sum(1 for _ in it)]).collect()
            starts.extend(itertools.accumulate(sizes[:-1]))
        return self.mapPartitionsWithIndex(lambda i, it: zip(it, itertools.count(starts[i])))

    def zipWithUniqueId(self) -> RDD[tuple[T, int]]:
        n = self.getNumPartitions()
        return self.mapPartitionsWithIndex(
            lambda k, it: ((x, i * n + k) for i, x in enumerate(it)))

    def coalesce(self, numPartitions: int, shuffle: bool = False) -> RDD[T]:
        """Fewer partitions without a shuffle (or any number with ``shuffle=True``)."""
        _check_partitions(numPartitions, "coalesce")
        if shuffle:
            return self.repartition(numPartitions)
        return CoalescedRDD(self, numPartitions)

    def repartition(self, numPartitions: int) -> RDD[T]:
        """Exactly ``numPartitions`` partitions, rebalanced round-robin through a shuffle."""
        _check_partitions(numPartitions, "repartition")

        def keyed(split: int, it: Iterator[T]) -> Iterator[tuple[int, T]]:
            start = (split * 2654435761) % numPartitions
            return ((i, x) for i, x in enumerate(it, start))

        return (self.mapPartitionsWithIndex(keyed)
                .partitionBy(numPartitions, _identity_partition).values())

    def distinct(self, numPartitions: int | None = None) -> RDD[T]:
        """>>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     sorted(ctx.parallelize([1, 1, 2, 3, 3]).distinct().collect())
        [1, 2, 3]
        """
        return (self.map(lambda x: (x, None))
                .reduceByKey(lambda x, _: x, numPartitions).map(lambda kv: kv[0]))

    def groupBy(self, f: Callable[[T], K], numPartitions: int | None = None,
                partitionFunc: Callable[[K], int] | None = None) -> RDD[tuple[K, Iterable[T]]]:
        return self.map(lambda x: (f(x), x)).groupByKey(numPartitions, partitionFunc)

    def intersection(self, other: RDD[T]) -> RDD[T]:
        return (self.map(lambda v: (v, None)).cogroup(other.map(lambda v: (v, None)))
                .filter(lambda kvs: all(kvs[1])).keys())

    def subtract(self, other: RDD[T], numPartitions: int | None = None) -> RDD[T]:
        rdd = other.map(lambda x: (x, True))
        return self.map(lambda x: (x, True)).subtractByKey(rdd, numPartitions).keys()

    def sortBy(self, keyfunc: Callable[[T], Any], ascending: bool = True,
               numPartitions: int | None = None) -> RDD[T]:
        """>>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     ctx.parallelize([3, 1, 2], 2).sortBy(lambda x: -x).collect()
        [3, 2, 1]
        """
        return self.keyBy(keyfunc).sortByKey(ascending, numPartitions).values()

    # ------------------------------------------------------------------ actions
    def collect(self) -> list[T]:
        """>>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     ctx.parallelize(range(3)).collect()
        [0, 1, 2]
        """
        return list(itertools.chain.from_iterable(self.ctx._run_job(self, _to_list)))

    def count(self) -> int:
        return sum(self.ctx._run_job(self, _count_partition))

    def first(self) -> T:
        rows = self.take(1)
        if rows:
            return rows[0]
        raise ValueError("RDD is empty")

    def take(self, num: int) -> list[T]:
        """The first ``num`` elements, scanning as few partitions as it can.

        >>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     ctx.parallelize(range(100), 10).take(3)
        [0, 1, 2]
        """
        items: list[T] = []
        total = self.getNumPartitions()
        scanned = 0
        while len(items) < num and scanned < total:
            to_try = 1
            if scanned > 0:
                to_try = scanned * 4 if not items else max(
                    1, min(int(1.5 * num * scanned / len(items)) - scanned, scanned * 4))
            left = num - len(items)
            parts = list(range(scanned, min(scanned + to_try, total)))
            for chunk in self.ctx._run_job(self, lambda _, it, n=left: list(itertools.islice(it, n)), parts):
                items.extend(chunk)
            scanned += to_try
        return items[:num]

    def isEmpty(self) -> bool:
        return self.getNumPartitions() == 0 or len(self.take(1)) == 0

    def reduce(self, f: Callable[[T, T], T]) -> T:
        """>>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     ctx.parallelize([1, 2, 3, 4], 2).reduce(lambda a, b: a + b)
        10
        """
        vals = self._reduced_partitions(f)
        if vals:
            return functools.reduce(f, vals)
        raise ValueError("Can not reduce() empty RDD")

    def _reduced_partitions(self, f: Callable[[T, T], T]) -> list[T]:
        """Each non-empty partition reduced with ``f``, in partition order."""
        def reduce_partition(_: int, it: Iterator[T]) -> list[T]:
            initial = next(it, _MISSING)
            return [] if initial is _MISSING else [functools.reduce(f, it, initial)]

        return list(itertools.chain.from_iterable(self.ctx._run_job(self, reduce_partition)))

    def fold(self, zeroValue: T, op: Callable[[T, T], T]) -> T:
        """The zero value is used once per partition and once more on the driver.

        >>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     ctx.parallelize([1, 2, 3, 4], 2).fold(10, lambda a, b: a + b)
        40
        """
        vals = self.ctx._run_job(
            self, lambda _, it: functools.reduce(op, it, copy.deepcopy(zeroValue)))
        return functools.reduce(op, vals, zeroValue)

    def aggregate(self, zeroValue: U, seqOp: Callable[[U, T], U], combOp: Callable[[U, U], U]) -> U:
        """>>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     ctx.parallelize([1, 2, 3, 4], 2).aggregate((0, 0), lambda a, x: (a[0] + x, a[1] + 1),
        ...                                             lambda a, b: (a[0] + b[0], a[1] + b[1]))
        (10, 4)
        """
        vals = self.ctx._run_job(
            self, lambda _, it: functools.reduce(seqOp, it, copy.deepcopy(zeroValue)))
        return functools.reduce(combOp, vals, zeroValue)

    def treeReduce(self, f: Callable[[T, T], T], depth: int = 2) -> T:
        """Like ``reduce`` (the partial results are few here, so there is no tree to build);
        an empty RDD raises PySpark's own message for this method.

        >>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     ctx.parallelize([1, 2, 3], 2).treeReduce(lambda a, b: a + b)
        6
        """
        _check_depth(depth)
        vals = self._reduced_partitions(f)
        if vals:
            return functools.reduce(f, vals)
        raise ValueError("Cannot reduce empty RDD.")

    def treeAggregate(self, zeroValue: U, seqOp: Callable[[U, T], U],
                      combOp: Callable[[U, U], U], depth: int = 2) -> U:
        """Like ``aggregate``, but as in PySpark the zero value is used once per partition
        only (not once more on the driver); an RDD without partitions gives ``zeroValue``.

        >>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     ctx.parallelize([1, 2, 3], 2).treeAggregate(10, lambda a, x: a + x, lambda a, b: a + b)
        26
        """
        _check_depth(depth)
        if self.getNumPartitions() == 0:
            return zeroValue
        vals = self.ctx._run_job(
            self, lambda _, it: functools.reduce(seqOp, it, copy.deepcopy(zeroValue)))
        return functools.reduce(combOp, vals)

    def sum(self) -> Any:
        return self.mapPartitions(lambda it: [sum(it)]).fold(0, operator.add)

    def max(self, key: Callable[[T], Any] | None = None) -> T:
        return self.reduce(max if key is None else lambda a, b: max(a, b, key=key))

    def min(self, key: Callable[[T], Any] | None = None) -> T:
        return self.reduce(min if key is None else lambda a, b: min(a, b, key=key))

    def stats(self) -> StatCounter:
        """Count, mean, variance, max and min in one pass.

        >>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     ctx.parallelize([1.0, 2.0, 3.0]).stats()
        (count: 3, mean: 2.0, stdev: 0.816496580927726, max: 3.0, min: 1.0)
        """
        return self.mapPartitions(lambda it: [StatCounter(it)]).reduce(StatCounter.mergeStats)

    def mean(self) -> float:
        return self.stats().mean()

    def variance(self) -> float:
        return self.stats().variance()

    def stdev(self) -> float:
        return self.stats().stdev()

    def sampleStdev(self) -> float:
        return self.stats().sampleStdev()

    def sampleVariance(self) -> float:
        return self.stats().sampleVariance()

    def countByValue(self) -> dict[T, int]:
        """Each value's count. As in PySpark the per-partition counts are merged with
        ``reduce``, so an RDD without partitions (``emptyRDD()``) raises ``ValueError``.

        >>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     sorted(ctx.parallelize([1, 2, 1]).countByValue().items())
        [(1, 2), (2, 1)]
        """
        def count_partition(it: Iterator[T]) -> list[dict[T, int]]:
            counts: dict[T, int] = defaultdict(int)
            for x in it:
                counts[x] += 1
            return [counts]

        return self.mapPartitions(count_partition).reduce(_merge_counts)

    def takeOrdered(self, num: int, key: Callable[[T], Any] | None = None) -> list[T]:
        """The ``num`` smallest elements (by ``key``), in ascending order; ``[]`` for
        ``num == 0`` or an RDD without partitions, as in PySpark.

        >>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     ctx.parallelize([5, 1, 4, 2], 2).takeOrdered(2), ctx.emptyRDD().takeOrdered(2)
        ([1, 2], [])
        """
        if num < 0:
            raise ValueError("top N cannot be negative.")
        if num == 0 or self.getNumPartitions() == 0:
            return []
        return (self.mapPartitions(lambda it: [heapq.nsmallest(num, it, key)])
                .reduce(lambda a, b: heapq.nsmallest(num, a + b, key)))

    def top(self, num: int, key: Callable[[T], Any] | None = None) -> list[T]:
        """The ``num`` largest elements (by ``key``), in descending order. As in PySpark the
        per-partition tops are merged with ``reduce``: an RDD without partitions
        (``emptyRDD()``) raises ``ValueError``, and a negative ``num`` gives ``[]``.

        >>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     ctx.parallelize([5, 1, 4, 2], 2).top(2)
        [5, 4]
        """
        return (self.mapPartitions(lambda it: [heapq.nlargest(num, it, key)])
                .reduce(lambda a, b: heapq.nlargest(num, a + b, key)))

    def foreach(self, f: Callable[[T], None]) -> None:
        def run(_: int, it: Iterator[T]) -> None:
            for x in it:
                f(x)

        self.ctx._run_job(self, run)

    def foreachPartition(self, f: Callable[[Iterator[T]], None]) -> None:
        """Call ``f`` on each partition's iterator; like PySpark, an iterable that ``f``
        returns (e.g. ``f`` is a generator function) is run to its end, then dropped.

        >>> from dstream import Context
        >>> with Context("local") as ctx:
        ...     seen = ctx.accumulator(0)
        ...     def count(it):
        ...         for x in it:
        ...             seen.add(1)
        ...             yield x
        ...     ctx.parallelize([1, 2, 3], 2).foreachPartition(count)
        ...     seen.value
        3
        """
        def run(_: int, it: Iterator[T]) -> None:
            result = f(it)
            if isinstance(result, Iterable):
                for _item in result:
                    pass

        self.ctx._run_job(self, run)

    def saveAsTextFile(self, path: str, compressionCodecClass: str | None = None) -> None:
        """One ``part-NNNNN`` file per partition under directory ``path``, then ``_SUCCESS``."""
        from .textfiles import save_as_text_file
        save_as_text_file(self, path, compressionCodecClass)

    def saveAsPickleFile(self, path: str, batchSize: int = 10) -> None:
        from .textfiles import save_as_pickle_file
        save_as_pickle_file(self, path)


_MISSING = object()


def _merge_counts(a: dict[T, int], b: dict[T, int]) -> dict[T, int]:
    for k, v in b.items():
        a[k] += v
    return a


def _check_depth(depth: int) -> None:
    if depth < 1:
        raise ValueError(f"Depth cannot be smaller than 1 but got {depth}.")


def _to_list(_: int, it: Iterator[T]) -> list[T]:
    return it if isinstance(it, list) else list(it)


def _count_partition(_: int, it: Iterator[Any]) -> int:
    return sum(1 for _ in it)


def _identity_partition(key: int) -> int:
    return key


def _check_partitions(n: Any, op: str) -> None:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"{op} needs numPartitions as an int >= 1, got {n!r}")


# The concrete RDD kinds subclass RDD, so they come after it.
from .rdd_kinds import CartesianRDD, CoalescedRDD, PipelinedRDD, ZippedRDD  # noqa: E402
