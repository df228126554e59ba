"""RDD: an immutable, partitioned dataset with lineage, and PySpark's operations on it.

Narrow transformations all reduce to ``mapPartitionsWithIndex``; a chain of them folds
into one function, so a stage runs as one pass over each partition. The kinds of RDD that
these operations build (``PipelinedRDD``, ``ShuffledRDD``, ...) are defined after ``RDD``, as
in PySpark's ``rdd.py``; the ones a Context builds are in ``rdd_kinds.py``.

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
from typing import (TYPE_CHECKING, Any, Callable, Generic, Hashable, Iterable, Iterator, Protocol,
                    TypeVar, cast, overload)

from .aggregation import (ResultIterable, combine_combiners, combine_values, group_values,
                          identity)
from .block_manager import BlockNotFoundError
from .callsite import user_call_site
from .dependency import (Dependency, ManyToOneDependency, NarrowDependency, OneToOneDependency,
                         ShuffleDependency)
from .file_outputs import save_as_pickle_file, save_as_text_file
from .hashing import portable_hash
from .pairs import _dispatch_join, _extend, _split_tagged
from .partitioner import Partitioner, RangePartitioner
from .sampling import RDDSampler
from .statcounter import StatCounter
from .storagelevel import StorageLevel
from .taskcontext import LazyInput

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison, SupportsRichComparisonT

    from .accumulators import Accumulator, AccumulatorParam
    from .block_manager import BlockManager
    from .broadcast import Broadcast
    from .conf import Conf
    from .taskcontext import TaskContext

__all__ = ["RDD", "RDDContext", "PipelinedRDD", "ShuffledRDD", "CoalescedRDD", "CartesianRDD", "ZippedRDD",
           "shuffle_input_key"]

T = TypeVar("T")
U = TypeVar("U")
R = TypeVar("R")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
W = TypeVar("W")
C = TypeVar("C")
#: the element type in the methods that pair their elements up and call a pair operation on
#: that: inside the class, mypy mixes the class's own T into the pair operation's self type
E = TypeVar("E")
#: the elements of an RDD whose statistics (``stats``, ``mean``, ...) are taken
Number = TypeVar("Number", int, float)


class RDDContext(Protocol):
    """A ``Context`` as its RDDs see it: its public API (what ``rdd.context`` gives) and the
    parts of the running engine an RDD uses. ``dstream.context.Context`` is the one
    implementation; it builds RDDs, so it sits above this module, and RDDs know it by this
    (a test checks that the protocol keeps up with the class)."""

    @property
    def defaultParallelism(self) -> int: ...
    @property
    def defaultMinPartitions(self) -> int: ...
    @property
    def version(self) -> str: ...
    def getConf(self) -> Conf: ...
    def parallelize(self, c: Iterable[T], numSlices: int | None = None) -> RDD[T]: ...
    def range(self, start: int, end: int | None = None, step: int = 1,
              numSlices: int | None = None) -> RDD[int]: ...
    def emptyRDD(self) -> RDD[Any]: ...
    def textFile(self, name: str, minPartitions: int | None = None,
                 use_unicode: bool = True) -> RDD[str]: ...
    def wholeTextFiles(self, path: str, minPartitions: int | None = None,
                       use_unicode: bool = True) -> RDD[tuple[str, str]]: ...
    def union(self, rdds: list[RDD[T]]) -> RDD[T]: ...
    def broadcast(self, value: T) -> Broadcast[T]: ...
    def accumulator(self, value: T,
                    accum_param: AccumulatorParam[T] | None = None) -> Accumulator[T]: ...
    def runJob(self, rdd: RDD[T], partitionFunc: Callable[[Iterator[T]], Iterable[Any]],
               partitions: list[int] | None = None, allowLocal: bool = False) -> list[Any]: ...
    def setCheckpointDir(self, dirName: str) -> None: ...
    def getCheckpointDir(self) -> str | None: ...
    def setLogLevel(self, logLevel: str) -> None: ...
    def stop(self) -> None: ...

    # what an RDD uses of the running engine
    _conf: Conf
    _block_manager: BlockManager
    _checkpoint_dir: str | None
    #: RDDs that asked to be checkpointed and are not yet (written after the next job)
    _pending_checkpoints: int

    def _new_rdd_id(self) -> int: ...

    def _run_job(self, rdd: RDD[T], func: Callable[[int, Iterator[T]], R],
                 partitions: list[int] | None = None) -> list[R]: ...


class RDD(Generic[T]):
    """A Resilient Distributed Dataset, as in PySpark.

    Subclasses say how to compute a partition (``compute``) and which parents it reads
    (``deps``); everything users call is defined here, the operations on ``(key, value)``
    pairs too (typed through ``self``, so a type checker rejects them on an RDD of non-pairs).
    """

    #: set once checkpointed: each partition's task input (a ``FileInput`` of a reliable
    #: checkpoint, or what ``truncate_to`` was given); None for a local checkpoint
    _checkpoint_inputs: list[list[Any] | LazyInput] | None

    def __init__(self, ctx: RDDContext, deps: list[Dependency[RDD[Any]]], num_partitions: int,
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
    def context(self) -> RDDContext:
        """The ``Context`` that made this RDD (PySpark's ``rdd.context``; also ``rdd.ctx``).

        >>> sc.parallelize([1]).context is sc
        True
        """
        return self.ctx

    def getNumPartitions(self) -> int:
        """The number of partitions.

        >>> sc.parallelize([1, 2, 3], 3).getNumPartitions()
        3
        """
        return self._num_partitions

    def narrow_parents(self, split: int) -> Iterator[tuple[RDD[Any], int]]:
        """The ``(parent, parent_split)`` pairs that partition ``split`` reads without a shuffle.

        The engine's interface (the scheduler walks it to build a stage):

        >>> src = sc.parallelize([1, 2, 3], 2)
        >>> [(parent is src, split) for parent, split in src.map(str).narrow_parents(1)]
        [(True, 1)]
        """
        for dep in self.deps:
            if isinstance(dep, NarrowDependency):
                for parent_split in dep.parents(split):
                    yield dep.rdd, parent_split

    def driver_input(self, split: int) -> Any:
        """Data the driver ships with a task to compute ``split`` (source RDDs); None if none.

        >>> sc.parallelize([1, 2, 3], 2).driver_input(1)
        [2, 3]
        >>> sc.parallelize([1, 2, 3], 2).map(str).driver_input(1) is None
        True
        """
        return None

    def compute(self, split: int, task: TaskContext) -> Iterable[T]:
        """Partition ``split``'s elements, computed inside ``task`` (each RDD kind defines it).

        The engine's interface; ``task`` holds the inputs the driver shipped:

        >>> from dstream.taskcontext import TaskContext
        >>> src = sc.parallelize([1, 2, 3], 2)
        >>> task = TaskContext(0, 1, 0, {(src.id, 1): src.driver_input(1)}, False)
        >>> list(src.map(lambda x: x * 10).compute(1, task))
        [20, 30]
        """
        raise NotImplementedError(f"{type(self).__name__} does not define compute()")

    def iterator(self, split: int, task: TaskContext) -> Iterator[T]:
        """Partition ``split``: from the cache or a checkpoint when there, else computed.

        >>> from dstream.taskcontext import TaskContext
        >>> src = sc.parallelize([1, 2, 3], 2)
        >>> task = TaskContext(0, 0, 0, {(src.id, 0): src.driver_input(0)}, False)
        >>> list(src.iterator(0, task))
        [1]
        """
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
        """The name given with ``setName``, or None.

        >>> rdd = sc.parallelize([1, 2])
        >>> rdd.name() is None, rdd.setName("numbers").name()
        (True, 'numbers')
        """
        return self._name

    def setName(self, name: str) -> RDD[T]:
        """Name this RDD (shown by ``repr`` and ``toDebugString``); returns it.

        >>> sc.parallelize([1, 2]).setName("RDD1").name()
        'RDD1'
        """
        self._name = name
        return self

    def __repr__(self) -> str:
        label = f"{self._name} " if self._name else ""
        return f"{label}{type(self).__name__}[{self.id}] at {self.call_site}"

    def toDebugString(self) -> bytes:
        """The lineage, one RDD a line, with ``+-`` where a shuffle starts a new stage.

        >>> text = sc.parallelize([("a", 1)]).reduceByKey(lambda a, b: a + b).toDebugString()
        >>> b"+-" in text
        True
        """
        return _debug_string(self).encode()

    # ------------------------------------------------------------------ persistence
    def cache(self) -> RDD[T]:
        """Keep partitions in memory once computed (``MEMORY_ONLY``).

        >>> rdd = sc.parallelize(["b", "a", "c"]).cache()
        >>> rdd.is_cached, str(rdd.getStorageLevel())
        (True, 'Memory Serialized 1x Replicated')
        """
        return self.persist(StorageLevel.MEMORY_ONLY)

    def persist(self, storageLevel: StorageLevel = StorageLevel.MEMORY_ONLY) -> RDD[T]:
        """Keep partitions once computed, at ``storageLevel``; returns this RDD.

        >>> from dstream import StorageLevel
        >>> rdd = sc.parallelize(["b", "a", "c"]).persist(StorageLevel.MEMORY_AND_DISK)
        >>> rdd.is_cached, rdd.getStorageLevel()
        (True, StorageLevel(True, True, False, False, 1))
        """
        if self.is_cached and storageLevel != self.storage_level:
            raise ValueError(f"{self!r} is already persisted at {self.storage_level}; "
                             "unpersist() it before choosing another storage level")
        self.is_cached = True
        self.storage_level = storageLevel
        return self

    def unpersist(self, blocking: bool = False) -> RDD[T]:
        """Stop keeping this RDD and drop its cached partitions; returns it.

        >>> rdd = sc.parallelize([1, 2]).cache()
        >>> rdd.collect()
        [1, 2]
        >>> rdd.unpersist().is_cached, rdd.getStorageLevel()
        (False, StorageLevel(False, False, False, False, 1))
        """
        self.is_cached = False
        self.storage_level = StorageLevel.NONE
        self.ctx._block_manager.remove_rdd(self.id)
        return self

    def getStorageLevel(self) -> StorageLevel:
        """The level this RDD is persisted at (``StorageLevel.NONE`` if it is not).

        >>> rdd = sc.parallelize([1, 2])
        >>> str(rdd.getStorageLevel()), str(rdd.cache().getStorageLevel())
        ('Serialized 1x Replicated', 'Memory Serialized 1x Replicated')
        """
        return self.storage_level

    def checkpoint(self) -> None:
        """Save this RDD to the context's checkpoint directory after the next job that
        computes it, and cut its lineage there.

        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     sc.setCheckpointDir(tmp)
        ...     rdd = sc.parallelize(range(4), 2).map(lambda x: x + 1)
        ...     rdd.checkpoint()
        ...     before = rdd.isCheckpointed()
        ...     rdd.sum(), before, rdd.isCheckpointed(), rdd.collect()
        (10, False, True, [1, 2, 3, 4])
        """
        if self.ctx._checkpoint_dir is None:
            raise ValueError("Checkpoint directory has not been set in the Context: "
                             "call ctx.setCheckpointDir(path) first")
        self._request_checkpoint("reliable")

    def localCheckpoint(self) -> None:
        """Keep this RDD's partitions in the block manager and cut its lineage there.

        >>> rdd = sc.parallelize([1, 2, 3]).map(lambda x: x * 2)
        >>> rdd.localCheckpoint()
        >>> rdd.count(), rdd.isLocallyCheckpointed(), rdd.collect()
        (3, True, [2, 4, 6])
        """
        self._request_checkpoint("local")

    def _request_checkpoint(self, kind: str) -> None:
        if not self._checkpoint_requested and not self._checkpointed:
            self.ctx._pending_checkpoints += 1
        self._checkpoint_requested = kind

    def _checkpoint_input(self, split: int) -> list[Any] | LazyInput:
        """A checkpointed partition's task input (the scheduler asks when no block holds it)."""
        inputs: list[list[Any] | LazyInput] | None = getattr(self, "_checkpoint_inputs", None)
        if inputs is None:
            raise BlockNotFoundError(
                f"the local checkpoint of {self!r}, partition {split}, is gone: local checkpoints "
                "live only as long as the Context and cannot be recomputed (use checkpoint())")
        return inputs[split]

    def _drop_parent_references(self) -> None:
        """Once checkpointed: let the lineage above this RDD be garbage-collected."""
        for name, value in list(vars(self).items()):
            if isinstance(value, RDD) or (isinstance(value, (list, tuple)) and value
                                          and all(isinstance(v, RDD) for v in value)):
                setattr(self, name, None)

    def isCheckpointed(self) -> bool:
        """Whether a checkpoint of this RDD (reliable or local) has been written.

        >>> rdd = sc.parallelize([1, 2])
        >>> rdd.localCheckpoint()
        >>> before = rdd.isCheckpointed()
        >>> rdd.count(), before, rdd.isCheckpointed()
        (2, False, True)
        """
        return self._checkpointed

    def isLocallyCheckpointed(self) -> bool:
        """Whether this RDD has been checkpointed with ``localCheckpoint``.

        >>> rdd = sc.parallelize([1, 2])
        >>> rdd.localCheckpoint()
        >>> rdd.count(), rdd.isLocallyCheckpointed(), rdd.getCheckpointFile()
        (2, True, None)
        """
        return self._checkpointed and self._checkpoint_requested == "local"

    def getCheckpointFile(self) -> str | None:
        """Where this RDD's reliable checkpoint was written; None until then.

        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     sc.setCheckpointDir(tmp)
        ...     rdd = sc.parallelize([1, 2])
        ...     rdd.checkpoint()
        ...     before = rdd.getCheckpointFile()
        ...     rdd.count(), before, rdd.getCheckpointFile().startswith(sc.getCheckpointDir())
        (2, None, True)
        """
        if self._checkpointed and self._checkpoint_requested == "reliable":
            return os.path.join(self.ctx._checkpoint_dir or "", f"rdd-{self.id}")
        return None

    # ------------------------------------------------------------------ narrow transformations
    def mapPartitionsWithIndex(self, f: Callable[[int, Iterator[T]], Iterable[U]],
                               preservesPartitioning: bool = False) -> RDD[U]:
        """The primitive every narrow transformation is built on.

        >>> rdd = sc.parallelize([1, 2, 3, 4], 2)
        >>> rdd.mapPartitionsWithIndex(lambda i, it: [(i, sum(it))]).collect()
        [(0, 3), (1, 7)]
        """
        return PipelinedRDD(self, f, preservesPartitioning)

    def mapPartitions(self, f: Callable[[Iterator[T]], Iterable[U]],
                      preservesPartitioning: bool = False) -> RDD[U]:
        """Apply ``f`` to each partition's iterator.

        >>> def f(iterator):
        ...     yield sum(iterator)
        >>> sc.parallelize([1, 2, 3, 4], 2).mapPartitions(f).collect()
        [3, 7]
        """
        return self.mapPartitionsWithIndex(lambda _, it: f(it), preservesPartitioning)

    def map(self, f: Callable[[T], U], preservesPartitioning: bool = False) -> RDD[U]:
        """Apply ``f`` to each element.

        >>> sc.parallelize([1, 2]).map(str).collect()
        ['1', '2']
        """
        return self.mapPartitionsWithIndex(lambda _, it: map(f, it), preservesPartitioning)

    def flatMap(self, f: Callable[[T], Iterable[U]], preservesPartitioning: bool = False) -> RDD[U]:
        """Apply ``f`` to each element and flatten the iterables it returns.

        >>> sc.parallelize(["a b", "c"]).flatMap(str.split).collect()
        ['a', 'b', 'c']
        """
        return self.mapPartitionsWithIndex(
            lambda _, it: itertools.chain.from_iterable(map(f, it)), preservesPartitioning)

    def filter(self, f: Callable[[T], bool]) -> RDD[T]:
        """The elements for which ``f`` is true.

        >>> sc.parallelize([1, 2, 3, 4, 5]).filter(lambda x: x % 2 == 0).collect()
        [2, 4]
        """
        return self.mapPartitionsWithIndex(lambda _, it: filter(f, it), True)

    def glom(self) -> RDD[list[T]]:
        """Each partition as one list.

        >>> sc.parallelize([1, 2, 3], 2).glom().collect()
        [[1], [2, 3]]
        """
        return self.mapPartitionsWithIndex(lambda _, it: [list(it)])

    def keyBy(self, f: Callable[[T], K]) -> RDD[tuple[K, T]]:
        """Pairs ``(f(x), x)``.

        >>> sc.parallelize([1, 2, 3]).keyBy(lambda x: x * x).collect()
        [(1, 1), (4, 2), (9, 3)]
        """
        return self.map(lambda x: (f(x), x))

    def sample(self, withReplacement: bool, fraction: float, seed: int | None = None) -> RDD[T]:
        """A random sample, drawn per partition exactly as PySpark draws it.

        The sample depends on the seed and the partitioning, not on the size asked for exactly:

        >>> rdd = sc.parallelize(range(100), 4)
        >>> 6 <= rdd.sample(False, 0.1, 81).count() <= 14
        True
        >>> rdd.sample(False, 0.1, 81).collect() == rdd.sample(False, 0.1, 81).collect()
        True
        """
        if not fraction >= 0:
            raise ValueError(f"Fraction must be nonnegative, got {fraction!r}")
        return self.mapPartitionsWithIndex(RDDSampler(withReplacement, fraction, seed).func, True)

    def union(self, other: RDD[U]) -> RDD[T | U]:
        """The elements of both RDDs (duplicates kept).

        >>> sc.parallelize([1]).union(sc.parallelize([2])).collect()
        [1, 2]
        """
        # RDDs are read-only, so an RDD[T] is also an RDD[T | U] (RDD is invariant only
        # because T is a parameter of methods such as fold).
        return self.ctx.union(cast("list[RDD[T | U]]", [self, other]))

    def __add__(self, other: RDD[U]) -> RDD[T | U]:
        if not isinstance(other, RDD):
            raise TypeError(f"can only add an RDD to an RDD, got {type(other).__name__}")
        return self.union(other)

    def cartesian(self, other: RDD[U]) -> RDD[tuple[T, U]]:
        """Every pair ``(a, b)`` of an element of this RDD and one of ``other``.

        >>> rdd = sc.parallelize([1, 2])
        >>> sorted(rdd.cartesian(rdd).collect())
        [(1, 1), (1, 2), (2, 1), (2, 2)]
        """
        return CartesianRDD(self, other)

    def zip(self, other: RDD[U]) -> RDD[tuple[T, U]]:
        """Pairs of elements at the same position; both sides need the same partition sizes.

        >>> x = sc.parallelize(range(0, 5))
        >>> y = sc.parallelize(range(1000, 1005))
        >>> x.zip(y).collect()
        [(0, 1000), (1, 1001), (2, 1002), (3, 1003), (4, 1004)]
        """
        if self.getNumPartitions() != other.getNumPartitions():
            raise ValueError("Can only zip RDDs with the same number of partitions: "
                             f"{self.getNumPartitions()} vs {other.getNumPartitions()}")
        return ZippedRDD(self, other)

    def zipWithIndex(self) -> RDD[tuple[T, int]]:
        """Pairs ``(x, index)`` in partition order; runs a job first when there is more
        than one partition.

        >>> sc.parallelize(["a", "b", "c"], 2).zipWithIndex().collect()
        [('a', 0), ('b', 1), ('c', 2)]
        """
        starts = [0]
        n = self.getNumPartitions()
        if n > 1:
            sizes = self.mapPartitions(lambda it: [sum(1 for _ in it)]).collect()
            starts.extend(itertools.accumulate(sizes[:-1]))
        return self.mapPartitionsWithIndex(lambda i, it: zip(it, itertools.count(starts[i])))

    def zipWithUniqueId(self) -> RDD[tuple[T, int]]:
        """Pairs ``(x, id)``: the i-th element of partition k of n gets ``i * n + k``; no job
        is run.

        >>> sc.parallelize(["a", "b", "c", "d", "e"], 3).zipWithUniqueId().collect()
        [('a', 0), ('b', 1), ('c', 4), ('d', 2), ('e', 5)]
        """
        n = self.getNumPartitions()
        return self.mapPartitionsWithIndex(
            lambda k, it: ((x, i * n + k) for i, x in enumerate(it)))

    def coalesce(self, numPartitions: int, shuffle: bool = False) -> RDD[T]:
        """Fewer partitions without a shuffle (or any number with ``shuffle=True``).

        >>> sc.parallelize([1, 2, 3, 4, 5], 3).glom().collect()
        [[1], [2, 3], [4, 5]]
        >>> sc.parallelize([1, 2, 3, 4, 5], 3).coalesce(1).glom().collect()
        [[1, 2, 3, 4, 5]]
        """
        _check_partitions(numPartitions, "coalesce")
        if shuffle:
            return self.repartition(numPartitions)
        return CoalescedRDD(self, numPartitions)

    def repartition(self: RDD[E], numPartitions: int) -> RDD[E]:
        """Exactly ``numPartitions`` partitions, rebalanced round-robin through a shuffle.

        >>> rdd = sc.parallelize([1, 2, 3, 4, 5, 6, 7], 4)
        >>> rdd.glom().collect()
        [[1], [2, 3], [4, 5], [6, 7]]
        >>> len(rdd.repartition(2).glom().collect()), sorted(rdd.repartition(10).collect())
        (2, [1, 2, 3, 4, 5, 6, 7])
        """
        _check_partitions(numPartitions, "repartition")

        def keyed(split: int, it: Iterator[E]) -> Iterator[tuple[int, E]]:
            start = (split * 2654435761) % numPartitions
            return ((i, x) for i, x in enumerate(it, start))

        return (self.mapPartitionsWithIndex(keyed)
                .partitionBy(numPartitions, _identity_partition).values())

    def distinct(self: RDD[E], numPartitions: int | None = None) -> RDD[E]:
        """The elements without duplicates (through a shuffle).

        >>> sorted(sc.parallelize([1, 1, 2, 3, 3]).distinct().collect())
        [1, 2, 3]
        """
        return (self.map(lambda x: (x, None))
                .reduceByKey(lambda x, _: x, numPartitions).map(lambda kv: kv[0]))

    def groupBy(self: RDD[E], f: Callable[[E], K], numPartitions: int | None = None,
                partitionFunc: Callable[[K], int] | None = None
                ) -> RDD[tuple[K, ResultIterable[E]]]:
        """Elements grouped by ``f(x)``: pairs ``(key, iterable of elements)``.

        >>> result = sc.parallelize([1, 1, 2, 3, 5, 8]).groupBy(lambda x: x % 2).collect()
        >>> sorted((k, sorted(v)) for k, v in result)
        [(0, [2, 8]), (1, [1, 1, 3, 5])]
        """
        return self.map(lambda x: (f(x), x)).groupByKey(numPartitions, partitionFunc)

    def intersection(self: RDD[E], other: RDD[E]) -> RDD[E]:
        """The elements of both RDDs, without duplicates (through a shuffle).

        >>> rdd1 = sc.parallelize([1, 10, 2, 3, 4, 5])
        >>> rdd2 = sc.parallelize([1, 6, 2, 3, 7, 8])
        >>> sorted(rdd1.intersection(rdd2).collect())
        [1, 2, 3]
        """
        return (self.map(lambda v: (v, None)).cogroup(other.map(lambda v: (v, None)))
                .filter(lambda kvs: all(kvs[1])).keys())

    def subtract(self: RDD[E], other: RDD[E], numPartitions: int | None = None) -> RDD[E]:
        """The elements of this RDD that are not in ``other`` (duplicates kept).

        >>> x = sc.parallelize([("a", 1), ("b", 4), ("b", 5), ("a", 3)])
        >>> y = sc.parallelize([("a", 3), ("c", None)])
        >>> sorted(x.subtract(y).collect())
        [('a', 1), ('b', 4), ('b', 5)]
        """
        rdd = other.map(lambda x: (x, True))
        return self.map(lambda x: (x, True)).subtractByKey(rdd, numPartitions).keys()

    def sortBy(self: RDD[E], keyfunc: Callable[[E], Any], ascending: bool = True,
               numPartitions: int | None = None) -> RDD[E]:
        """The elements sorted by ``keyfunc`` (range-partitioned, as ``sortByKey``).

        >>> sc.parallelize([3, 1, 2], 2).sortBy(lambda x: -x).collect()
        [3, 2, 1]
        """
        return self.keyBy(keyfunc).sortByKey(ascending, numPartitions).values()

    # ------------------------------------------------------------------ actions
    def collect(self) -> list[T]:
        """All elements, as a list on the driver, in partition order.

        >>> sc.parallelize(range(3)).collect()
        [0, 1, 2]
        """
        return list(itertools.chain.from_iterable(self.ctx._run_job(self, _to_list)))

    def count(self) -> int:
        """The number of elements.

        >>> sc.parallelize([2, 3, 4]).count()
        3
        """
        return sum(self.ctx._run_job(self, _count_partition))

    def first(self) -> T:
        """The first element; ``ValueError`` if the RDD is empty.

        >>> sc.parallelize([2, 3, 4]).first()
        2
        >>> sc.parallelize([]).first()
        Traceback (most recent call last):
            ...
        ValueError: RDD is empty
        """
        rows = self.take(1)
        if rows:
            return rows[0]
        raise ValueError("RDD is empty")

    def take(self, num: int) -> list[T]:
        """The first ``num`` elements, scanning as few partitions as it can.

        >>> sc.parallelize(range(100), 10).take(3)
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

            def first_rows(_: int, it: Iterator[T], n: int = left) -> list[T]:
                return list(itertools.islice(it, n))

            for chunk in self.ctx._run_job(self, first_rows, parts):
                items.extend(chunk)
            scanned += to_try
        return items[:num]

    def isEmpty(self) -> bool:
        """Whether the RDD has no elements.

        >>> sc.parallelize([]).isEmpty(), sc.parallelize([1]).isEmpty(), sc.emptyRDD().isEmpty()
        (True, False, True)
        """
        return self.getNumPartitions() == 0 or len(self.take(1)) == 0

    def reduce(self, f: Callable[[T, T], T]) -> T:
        """The elements merged with ``f`` (commutative and associative); ``ValueError`` if
        the RDD is empty.

        >>> sc.parallelize([1, 2, 3, 4], 2).reduce(lambda a, b: a + b)
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
            return [] if initial is _MISSING else [functools.reduce(f, it, cast(T, initial))]

        return list(itertools.chain.from_iterable(self.ctx._run_job(self, reduce_partition)))

    def fold(self, zeroValue: T, op: Callable[[T, T], T]) -> T:
        """The zero value is used once per partition and once more on the driver.

        >>> sc.parallelize([1, 2, 3, 4], 2).fold(10, lambda a, b: a + b)
        40
        """
        vals = self.ctx._run_job(
            self, lambda _, it: functools.reduce(op, it, copy.deepcopy(zeroValue)))
        return functools.reduce(op, vals, zeroValue)

    def aggregate(self, zeroValue: U, seqOp: Callable[[U, T], U], combOp: Callable[[U, U], U]) -> U:
        """Fold each partition with ``seqOp`` from ``zeroValue``, then merge the results
        with ``combOp`` from ``zeroValue`` on the driver.

        >>> seqOp = lambda acc, x: (acc[0] + x, acc[1] + 1)
        >>> combOp = lambda a, b: (a[0] + b[0], a[1] + b[1])
        >>> sc.parallelize([1, 2, 3, 4], 2).aggregate((0, 0), seqOp, combOp)
        (10, 4)
        """
        vals = self.ctx._run_job(
            self, lambda _, it: functools.reduce(seqOp, it, copy.deepcopy(zeroValue)))
        return functools.reduce(combOp, vals, zeroValue)

    def treeReduce(self, f: Callable[[T, T], T], depth: int = 2) -> T:
        """Like ``reduce`` (the partial results are few here, so there is no tree to build);
        an empty RDD raises PySpark's own message for this method.

        >>> sc.parallelize([1, 2, 3], 2).treeReduce(lambda a, b: a + b)
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

        >>> sc.parallelize([1, 2, 3], 2).treeAggregate(10, lambda a, x: a + x, lambda a, b: a + b)
        26
        """
        _check_depth(depth)
        if self.getNumPartitions() == 0:
            return zeroValue
        vals = self.ctx._run_job(
            self, lambda _, it: functools.reduce(seqOp, it, copy.deepcopy(zeroValue)))
        return functools.reduce(combOp, vals)

    def sum(self: RDD[Any]) -> Any:
        """The sum of the elements.

        >>> sc.parallelize([1.0, 2.0, 3.0]).sum()
        6.0
        """
        return self.mapPartitions(lambda it: [sum(it)]).fold(0, operator.add)

    @overload
    def max(self: RDD[SupportsRichComparisonT], key: None = None) -> SupportsRichComparisonT: ...
    @overload
    def max(self, key: Callable[[T], SupportsRichComparison]) -> T: ...

    def max(self: RDD[Any], key: Callable[[Any], SupportsRichComparison] | None = None) -> Any:
        """The largest element (by ``key`` if given).

        >>> rdd = sc.parallelize([1.0, 5.0, 43.0, 10.0])
        >>> rdd.max(), rdd.max(key=str)
        (43.0, 5.0)
        """
        return self.reduce(max if key is None else lambda a, b: max(a, b, key=key))

    @overload
    def min(self: RDD[SupportsRichComparisonT], key: None = None) -> SupportsRichComparisonT: ...
    @overload
    def min(self, key: Callable[[T], SupportsRichComparison]) -> T: ...

    def min(self: RDD[Any], key: Callable[[Any], SupportsRichComparison] | None = None) -> Any:
        """The smallest element (by ``key`` if given).

        >>> rdd = sc.parallelize([2.0, 5.0, 43.0, 10.0])
        >>> rdd.min(), rdd.min(key=str)
        (2.0, 10.0)
        """
        return self.reduce(min if key is None else lambda a, b: min(a, b, key=key))

    def stats(self: RDD[Number]) -> StatCounter:
        """Count, mean, variance, max and min in one pass.

        >>> sc.parallelize([1.0, 2.0, 3.0]).stats()
        (count: 3, mean: 2.0, stdev: 0.816496580927726, max: 3.0, min: 1.0)
        """
        return self.mapPartitions(lambda it: [StatCounter(it)]).reduce(StatCounter.mergeStats)

    def mean(self: RDD[Number]) -> float:
        """The mean of the elements.

        >>> sc.parallelize([1, 2, 3]).mean()
        2.0
        """
        return self.stats().mean()

    def variance(self: RDD[Number]) -> float:
        """The variance of the elements (divided by n).

        >>> sc.parallelize([1, 2, 3]).variance()
        0.6666666666666666
        """
        return self.stats().variance()

    def stdev(self: RDD[Number]) -> float:
        """The standard deviation of the elements (divided by n).

        >>> sc.parallelize([1, 2, 3]).stdev()
        0.816496580927726
        """
        return self.stats().stdev()

    def sampleStdev(self: RDD[Number]) -> float:
        """The sample standard deviation (divided by n - 1).

        >>> sc.parallelize([1, 2, 3]).sampleStdev()
        1.0
        """
        return self.stats().sampleStdev()

    def sampleVariance(self: RDD[Number]) -> float:
        """The sample variance (divided by n - 1).

        >>> sc.parallelize([1, 2, 3]).sampleVariance()
        1.0
        """
        return self.stats().sampleVariance()

    def countByValue(self) -> dict[T, int]:
        """Each value's count. As in PySpark the per-partition counts are merged with
        ``reduce``, so an RDD without partitions (``emptyRDD()``) raises ``ValueError``.

        >>> sorted(sc.parallelize([1, 2, 1]).countByValue().items())
        [(1, 2), (2, 1)]
        """
        def count_partition(it: Iterator[T]) -> list[dict[T, int]]:
            counts: dict[T, int] = defaultdict(int)
            for x in it:
                counts[x] += 1
            return [counts]

        return self.mapPartitions(count_partition).reduce(_merge_counts)

    @overload
    def takeOrdered(self: RDD[SupportsRichComparisonT], num: int, key: None = None
                    ) -> list[SupportsRichComparisonT]: ...
    @overload
    def takeOrdered(self, num: int, key: Callable[[T], SupportsRichComparison]) -> list[T]: ...

    def takeOrdered(self: RDD[Any], num: int,
                    key: Callable[[Any], SupportsRichComparison] | None = None) -> list[Any]:
        """The ``num`` smallest elements (by ``key``), in ascending order; ``[]`` for
        ``num == 0`` or an RDD without partitions, as in PySpark.

        >>> sc.parallelize([5, 1, 4, 2], 2).takeOrdered(2), sc.emptyRDD().takeOrdered(2)
        ([1, 2], [])
        """
        if num < 0:
            raise ValueError("top N cannot be negative.")
        if num == 0 or self.getNumPartitions() == 0:
            return []
        return (self.mapPartitions(lambda it: [heapq.nsmallest(num, it, key)])
                .reduce(lambda a, b: heapq.nsmallest(num, a + b, key)))

    @overload
    def top(self: RDD[SupportsRichComparisonT], num: int, key: None = None
            ) -> list[SupportsRichComparisonT]: ...
    @overload
    def top(self, num: int, key: Callable[[T], SupportsRichComparison]) -> list[T]: ...

    def top(self: RDD[Any], num: int, key: Callable[[Any], SupportsRichComparison] | None = None
            ) -> list[Any]:
        """The ``num`` largest elements (by ``key``), in descending order. As in PySpark the
        per-partition tops are merged with ``reduce``: an RDD without partitions
        (``emptyRDD()``) raises ``ValueError``, and a negative ``num`` gives ``[]``.

        >>> sc.parallelize([5, 1, 4, 2], 2).top(2)
        [5, 4]
        """
        return (self.mapPartitions(lambda it: [heapq.nlargest(num, it, key)])
                .reduce(lambda a, b: heapq.nlargest(num, a + b, key)))

    def foreach(self, f: Callable[[T], None]) -> None:
        """Call ``f`` on each element, in the tasks (use an accumulator to see a result).

        >>> total = sc.accumulator(0)
        >>> sc.parallelize([1, 2, 3, 4]).foreach(lambda x: total.add(x))
        >>> total.value
        10
        """
        def run(_: int, it: Iterator[T]) -> None:
            for x in it:
                f(x)

        self.ctx._run_job(self, run)

    def foreachPartition(self, f: Callable[[Iterator[T]], Iterable[Any] | None]) -> None:
        """Call ``f`` on each partition's iterator; like PySpark, an iterable that ``f``
        returns (e.g. ``f`` is a generator function) is run to its end, then dropped.

        >>> seen = sc.accumulator(0)
        >>> def count(it):
        ...     for x in it:
        ...         seen.add(1)
        ...         yield x
        >>> sc.parallelize([1, 2, 3], 2).foreachPartition(count)
        >>> seen.value
        3
        """
        def run(_: int, it: Iterator[T]) -> None:
            result = f(it)
            if isinstance(result, Iterable):
                for _item in result:
                    pass

        self.ctx._run_job(self, run)

    def saveAsTextFile(self, path: str, compressionCodecClass: str | None = None) -> None:
        """One ``part-NNNNN`` file per partition under directory ``path``, then ``_SUCCESS``.

        >>> import os, tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = os.path.join(tmp, "out")
        ...     sc.parallelize(["a", "b", "c"], 2).saveAsTextFile(path)
        ...     sorted(os.listdir(path)), sorted(sc.textFile(path).collect())
        (['_SUCCESS', 'part-00000', 'part-00001'], ['a', 'b', 'c'])
        """
        save_as_text_file(lambda write: self.ctx._run_job(self, write), path, compressionCodecClass)

    def saveAsPickleFile(self, path: str, batchSize: int = 10) -> None:
        """One pickled ``part-NNNNN`` file per partition under directory ``path``, then
        ``_SUCCESS``.

        Each part holds its partition's elements as one pickled list (``batchSize`` is accepted for
        PySpark's signature and not used):

        >>> import os, pickle, tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = os.path.join(tmp, "out")
        ...     sc.parallelize([1, 2, 3], 2).saveAsPickleFile(path)
        ...     with open(os.path.join(path, "part-00001"), "rb") as f:
        ...         sorted(os.listdir(path)), pickle.load(f)
        (['_SUCCESS', 'part-00000', 'part-00001'], [2, 3])
        """
        save_as_pickle_file(lambda write: self.ctx._run_job(self, write), path)

    # ------------------------------------------------------------------ pairs: keys and values
    def keys(self: RDD[tuple[K, V]]) -> RDD[K]:
        """The key of each pair.

        >>> sc.parallelize([(1, 2), (3, 4)]).keys().collect()
        [1, 3]
        """
        return self.map(lambda kv: kv[0])

    def values(self: RDD[tuple[K, V]]) -> RDD[V]:
        """The value of each pair.

        >>> sc.parallelize([(1, 2), (3, 4)]).values().collect()
        [2, 4]
        """
        return self.map(lambda kv: kv[1])

    def mapValues(self: RDD[tuple[K, V]], f: Callable[[V], U]
                  ) -> RDD[tuple[K, U]]:
        """Apply ``f`` to each value, keeping the key and the partitioning.

        >>> sc.parallelize([("a", 1)]).mapValues(lambda v: v * 10).collect()
        [('a', 10)]
        """
        return self.map(lambda kv: (kv[0], f(kv[1])), True)

    def flatMapValues(self: RDD[tuple[K, V]],
                      f: Callable[[V], Iterable[U]]) -> RDD[tuple[K, U]]:
        """Pairs ``(k, x)`` for each ``x`` in ``f(v)``, keeping the partitioning.

        >>> x = sc.parallelize([("a", ["x", "y", "z"]), ("b", ["p", "r"])])
        >>> x.flatMapValues(lambda v: v).collect()
        [('a', 'x'), ('a', 'y'), ('a', 'z'), ('b', 'p'), ('b', 'r')]
        """
        return self.flatMap(lambda kv: ((kv[0], x) for x in f(kv[1])), True)

    def collectAsMap(self: RDD[tuple[K, V]]) -> dict[K, V]:
        """The pairs as a dict on the driver (of two pairs with one key, the later wins).

        >>> m = sc.parallelize([(1, 2), (3, 4)]).collectAsMap()
        >>> m[1], m[3]
        (2, 4)
        """
        return dict(self.collect())

    def countByKey(self: RDD[tuple[K, V]]) -> dict[K, int]:
        """Each key's number of pairs, as a dict.

        >>> rdd = sc.parallelize([("a", 1), ("b", 1), ("a", 1)])
        >>> sorted(rdd.countByKey().items())
        [('a', 2), ('b', 1)]
        """
        return self.map(lambda kv: kv[0]).countByValue()

    def lookup(self: RDD[tuple[K, V]], key: K) -> list[V]:
        """The values of ``key``; reads one partition only when the RDD has a partitioner.

        >>> rdd = sc.parallelize(zip(range(1000), range(1000)), 10)
        >>> rdd.lookup(42)
        [42]
        >>> sorted_rdd = rdd.sortByKey()
        >>> sorted_rdd.lookup(42), sorted_rdd.lookup(1024)
        ([42], [])
        """
        values = self.filter(lambda kv: kv[0] == key).values()
        if self.partitioner is not None and self.getNumPartitions() > 0:
            split = self.partitioner(key)
            return self.ctx._run_job(values, lambda _, it: list(it), [split])[0]
        return values.collect()

    # ------------------------------------------------------------------ pairs: partitioning
    def _defaultReducePartitions(self: RDD[Any]) -> int:
        if self.ctx._conf.contains("spark.default.parallelism"):
            return self.ctx.defaultParallelism
        return self.getNumPartitions()

    def partitionBy(self: RDD[tuple[K, V]], numPartitions: int | None,
                    partitionFunc: Callable[[K], int] | None = None) -> RDD[tuple[K, V]]:
        """Send each pair to partition ``partitionFunc(key) % numPartitions``.

        >>> sc.parallelize([(0, "x"), (1, "y"), (2, "z")]).partitionBy(2).glom().collect()
        [[(0, 'x'), (2, 'z')], [(1, 'y')]]
        """
        if numPartitions is None:
            numPartitions = self._defaultReducePartitions()
        partitioner = Partitioner(numPartitions, partitionFunc or portable_hash)
        if self.partitioner == partitioner:
            return self
        return ShuffledRDD(self, partitioner)

    # ------------------------------------------------------------------ pairs: aggregation by key
    def combineByKey(self: RDD[tuple[K, V]],
                     createCombiner: Callable[[V], C],
                     mergeValue: Callable[[C, V], C], mergeCombiners: Callable[[C, C], C],
                     numPartitions: int | None = None,
                     partitionFunc: Callable[[K], int] | None = None) -> RDD[tuple[K, C]]:
        """The general by-key aggregation; combines on the map side before the shuffle.

        >>> pairs = sc.parallelize([("a", 1), ("a", 2), ("b", 3)], 2)
        >>> to_list, append, extend = (lambda v: [v]), (lambda c, v: c + [v]), (lambda a, b: a + b)
        >>> sorted(pairs.combineByKey(to_list, append, extend).collect())
        [('a', [1, 2]), ('b', [3])]
        """
        if numPartitions is None:
            numPartitions = self._defaultReducePartitions()
        locally = self.mapPartitions(
            lambda it: combine_values(it, createCombiner, mergeValue).items(), True)
        shuffled = locally.partitionBy(numPartitions, partitionFunc)
        return shuffled.mapPartitions(
            lambda it: combine_combiners(it, mergeCombiners).items(), True)

    def reduceByKey(self: RDD[tuple[K, V]], func: Callable[[V, V], V],
                    numPartitions: int | None = None,
                    partitionFunc: Callable[[K], int] | None = None) -> RDD[tuple[K, V]]:
        """Each key's values merged with ``func`` (on the map side first, then after the shuffle).

        >>> from operator import add
        >>> rdd = sc.parallelize([("a", 1), ("b", 1), ("a", 1)])
        >>> sorted(rdd.reduceByKey(add).collect())
        [('a', 2), ('b', 1)]
        """
        return self.combineByKey(identity, func, func, numPartitions, partitionFunc)

    def reduceByKeyLocally(self: RDD[tuple[K, V]],
                           func: Callable[[V, V], V]) -> dict[K, V]:
        """Each key's values reduced into a dict on the driver. As in PySpark the partitions'
        dicts are merged with ``reduce``, so ``emptyRDD()`` raises ``ValueError``.

        >>> sc.parallelize([("a", 1), ("a", 2)], 2).reduceByKeyLocally(lambda x, y: x + y)
        {'a': 3}
        """
        def merge(a: dict[K, V], b: dict[K, V]) -> dict[K, V]:
            for k, v in b.items():
                a[k] = func(a[k], v) if k in a else v
            return a

        return self.mapPartitions(lambda it: [combine_values(it, identity, func)]).reduce(merge)

    def aggregateByKey(self: RDD[tuple[K, V]], zeroValue: U,
                       seqFunc: Callable[[U, V], U],
                       combFunc: Callable[[U, U], U], numPartitions: int | None = None,
                       partitionFunc: Callable[[K], int] | None = None) -> RDD[tuple[K, U]]:
        """Each key's values folded from ``zeroValue`` with ``seqFunc`` in each partition, then
        merged across partitions with ``combFunc``.

        >>> rdd = sc.parallelize([("a", 1), ("b", 1), ("a", 2)])
        >>> seqFunc = lambda acc, v: (acc[0] + v, acc[1] + 1)
        >>> combFunc = lambda a, b: (a[0] + b[0], a[1] + b[1])
        >>> sorted(rdd.aggregateByKey((0, 0), seqFunc, combFunc).collect())
        [('a', (3, 2)), ('b', (1, 1))]
        """
        return self.combineByKey(lambda v: seqFunc(copy.deepcopy(zeroValue), v), seqFunc,
                                 combFunc, numPartitions, partitionFunc)

    def foldByKey(self: RDD[tuple[K, V]], zeroValue: V,
                  func: Callable[[V, V], V],
                  numPartitions: int | None = None,
                  partitionFunc: Callable[[K], int] | None = None) -> RDD[tuple[K, V]]:
        """Each key's values folded with ``func`` from ``zeroValue`` (once per key and partition).

        >>> from operator import add
        >>> rdd = sc.parallelize([("a", 1), ("b", 1), ("a", 1)])
        >>> sorted(rdd.foldByKey(0, add).collect())
        [('a', 2), ('b', 1)]
        """
        return self.combineByKey(lambda v: func(copy.deepcopy(zeroValue), v), func, func,
                                 numPartitions, partitionFunc)

    def groupByKey(self: RDD[tuple[K, V]],
                   numPartitions: int | None = None,
                   partitionFunc: Callable[[K], int] | None = None
                   ) -> RDD[tuple[K, ResultIterable[V]]]:
        """Each key with an iterable of its values (to aggregate them, ``reduceByKey`` or
        ``aggregateByKey`` ship less data).

        >>> pairs = sc.parallelize([("a", 1), ("b", 3), ("a", 2)], 2)
        >>> sorted((k, list(v)) for k, v in pairs.groupByKey().collect())
        [('a', [1, 2]), ('b', [3])]
        """
        if numPartitions is None:
            numPartitions = self._defaultReducePartitions()
        locally = self.mapPartitions(lambda it: group_values(it).items(), True)
        shuffled = locally.partitionBy(numPartitions, partitionFunc)
        return shuffled.mapPartitions(
            lambda it: combine_combiners(it, _extend).items(), True).mapValues(ResultIterable)

    def sortByKey(self: RDD[tuple[K, V]], ascending: bool = True,
                  numPartitions: int | None = None,
                  keyfunc: Callable[[K], Any] = lambda k: k) -> RDD[tuple[K, V]]:
        """Sort by key; range-partitioned from a sample, so partition ``i`` holds smaller keys
        than partition ``i + 1``.

        >>> sc.parallelize([(3, "c"), (1, "a"), (2, "b")], 2).sortByKey().collect()
        [(1, 'a'), (2, 'b'), (3, 'c')]
        """
        if numPartitions is None:
            numPartitions = self._defaultReducePartitions()

        def sort_partition(it: Iterator[tuple[K, V]]) -> list[tuple[K, V]]:
            return sorted(it, key=lambda kv: keyfunc(kv[0]), reverse=not ascending)

        if numPartitions == 1:
            if self.getNumPartitions() > 1:
                self = self.coalesce(1)
            return self.mapPartitions(sort_partition, True)
        size = self.count()
        if not size:
            return self  # empty: nothing to sample bounds from (PySpark returns it as is)
        fraction = min(numPartitions * 20.0 / max(size, 1), 1.0)
        samples = sorted(self.sample(False, fraction, 1).map(lambda kv: kv[0]).collect(), key=keyfunc)
        bounds = [keyfunc(samples[int(len(samples) * (i + 1) / numPartitions)])
                  for i in range(numPartitions - 1)] if samples else []
        partitioner = RangePartitioner(bounds, ascending, keyfunc)
        shuffled = ShuffledRDD(self, partitioner, num_partitions=numPartitions)
        return shuffled.mapPartitions(sort_partition, True)

    # ------------------------------------------------------------------ pairs: joins
    def cogroup(self: RDD[tuple[K, V]], other: RDD[tuple[K, W]],
                numPartitions: int | None = None
                ) -> RDD[tuple[K, tuple[ResultIterable[V], ResultIterable[W]]]]:
        """Each key of either RDD with a pair of iterables: its values in this RDD and in
        ``other``.

        >>> a, b = sc.parallelize([("k", 1)]), sc.parallelize([("k", 2), ("j", 3)])
        >>> sorted((k, tuple(map(list, vs))) for k, vs in a.cogroup(b).collect())
        [('j', ([], [3])), ('k', ([1], [2]))]
        """
        return _tagged_groups((self, other), numPartitions).mapValues(
            lambda tagged: _split_tagged(tagged, 2))

    def groupWith(self: RDD[tuple[K, V]], other: RDD[tuple[K, W]],
                  *others: RDD[tuple[K, Any]]) -> RDD[tuple[K, tuple[ResultIterable[Any], ...]]]:
        """``cogroup`` of any number of RDDs: each key with a tuple of value iterables, one per
        RDD.

        >>> w = sc.parallelize([("a", 5), ("b", 6)])
        >>> x = sc.parallelize([("a", 1), ("b", 4)])
        >>> y = sc.parallelize([("a", 2)])
        >>> z = sc.parallelize([("b", 42)])
        >>> [(k, tuple(map(list, vs))) for k, vs in sorted(w.groupWith(x, y, z).collect())]
        [('a', ([5], [1], [2], [])), ('b', ([6], [4], [], [42]))]
        """
        rdds: tuple[RDD[tuple[K, Any]], ...] = (self, other, *others)
        return _tagged_groups(rdds, None).mapValues(lambda t: _split_tagged(t, len(rdds)))

    def join(self: RDD[tuple[K, V]], other: RDD[tuple[K, W]],
             numPartitions: int | None = None) -> RDD[tuple[K, tuple[V, W]]]:
        """Inner join; partitions default to the sum of both sides' counts.

        >>> sc.parallelize([("a", 1)]).join(sc.parallelize([("a", 2), ("b", 3)])).collect()
        [('a', (1, 2))]
        """
        return _tagged_groups((self, other), numPartitions).flatMapValues(
            lambda t: _dispatch_join(t, False, False))

    def leftOuterJoin(self: RDD[tuple[K, V]], other: RDD[tuple[K, W]],
                      numPartitions: int | None = None) -> RDD[tuple[K, tuple[V, W | None]]]:
        """Every pair of this RDD, with each matching value of ``other`` or None.

        >>> x = sc.parallelize([("a", 1), ("b", 4)])
        >>> y = sc.parallelize([("a", 2)])
        >>> sorted(x.leftOuterJoin(y).collect())
        [('a', (1, 2)), ('b', (4, None))]
        """
        return _tagged_groups((self, other), numPartitions).flatMapValues(
            lambda t: _dispatch_join(t, True, False))

    def rightOuterJoin(self: RDD[tuple[K, V]], other: RDD[tuple[K, W]],
                       numPartitions: int | None = None) -> RDD[tuple[K, tuple[V | None, W]]]:
        """Every pair of ``other``, with each matching value of this RDD or None.

        >>> x = sc.parallelize([("a", 1), ("b", 4)])
        >>> y = sc.parallelize([("a", 2)])
        >>> sorted(y.rightOuterJoin(x).collect())
        [('a', (2, 1)), ('b', (None, 4))]
        """
        return _tagged_groups((self, other), numPartitions).flatMapValues(
            lambda t: _dispatch_join(t, False, True))

    def fullOuterJoin(self: RDD[tuple[K, V]], other: RDD[tuple[K, W]],
                      numPartitions: int | None = None
                      ) -> RDD[tuple[K, tuple[V | None, W | None]]]:
        """Every key of either side, with None for the side that lacks it.

        >>> x = sc.parallelize([("a", 1), ("b", 4)])
        >>> y = sc.parallelize([("a", 2), ("c", 8)])
        >>> sorted(x.fullOuterJoin(y).collect())
        [('a', (1, 2)), ('b', (4, None)), ('c', (None, 8))]
        """
        return _tagged_groups((self, other), numPartitions).flatMapValues(
            lambda t: _dispatch_join(t, True, True))

    def subtractByKey(self: RDD[tuple[K, V]], other: RDD[tuple[K, Any]],
                      numPartitions: int | None = None) -> RDD[tuple[K, V]]:
        """The pairs of this RDD whose key is not in ``other``.

        >>> sc.parallelize([("a", 1), ("b", 2)]).subtractByKey(sc.parallelize([("b", 0)])).collect()
        [('a', 1)]
        """
        return (self.cogroup(other, numPartitions)
                .filter(lambda kv: bool(kv[1][0]) and not kv[1][1])
                .flatMapValues(lambda vs: vs[0]))


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


def _tagged_groups(rdds: tuple[RDD[tuple[K, Any]], ...], numPartitions: int | None
                   ) -> RDD[tuple[K, ResultIterable[tuple[int, Any]]]]:
    """Union of ``(k, (i, v))`` from the i-th RDD, grouped by key (PySpark's join plan)."""
    tagged = [rdd.mapValues(lambda v, i=i: (i, v))  # type: ignore[misc]  # a default in a lambda
              for i, rdd in enumerate(rdds)]
    return rdds[0].ctx.union(tagged).groupByKey(numPartitions)


# ---------------------------------------------------------------------- toDebugString
def _debug_string(rdd: RDD[Any]) -> str:
    """Spark's layout: ``(2) ShuffledRDD[3] at job.py:7 []``, `` |  `` for a narrow parent,
    `` +-(n) `` for a shuffle parent, whose own lineage is indented one stage deeper."""
    return "\n".join([f"({rdd.getNumPartitions()}) {_describe(rdd)}", *_parents(rdd, "")])


def _describe(node: RDD[Any]) -> str:
    cached = f" [{node.storage_level}]" if node.is_cached else " []"
    return f"{node!r}{' (checkpointed)' if node._checkpointed else ''}{cached}"


def _parents(node: RDD[Any], indent: str) -> list[str]:
    lines: list[str] = []
    for dep in node.deps:
        parent = dep.rdd
        if parent is None:
            continue
        if isinstance(dep, ShuffleDependency):
            lines.append(f"{indent} +-({parent.getNumPartitions()}) {_describe(parent)}")
            lines.extend(_parents(parent, indent + "    "))
        else:
            lines.append(f"{indent} |  {_describe(parent)}")
            lines.extend(_parents(parent, indent))
    return lines


# ---------------------------------------------------------------------- the kinds RDD's methods build
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
