"""The streams behind the window operators.

With an inverse function and a window of at least five slides, each slide costs the new and
the expired batches only: the previous window's result is updated in one narrow pass per
partition (add what arrived, subtract what left), never recomputed from every batch in the
window. Shorter windows are recomputed from their batches, as PySpark does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Hashable, Iterable, Iterator, TypeVar

from ..aggregation import combine_values, identity
from ..dependency import Dependency, OneToOneDependency
from ..hashing import portable_hash
from ..partitioner import Partitioner
from ..rdd import RDD
from ..storagelevel import StorageLevel
from .dstream import DStream

if TYPE_CHECKING:
    from ..taskcontext import TaskContext

__all__ = ["WindowedDStream", "ReducedWindowedDStream", "WindowUpdateRDD", "INVERSE_MIN_SLIDES"]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: PySpark uses the inverse function only for windows of at least this many slides.
INVERSE_MIN_SLIDES = 5


class _WindowBase(DStream[T]):
    """A stream over windows of its parent: the parent must remember a window more."""

    window_ms: int

    def _parent_remember_ms(self) -> int | None:
        return None if self.remember_ms is None else self.remember_ms + self.window_ms


class WindowedDStream(_WindowBase[T]):
    """The union of the parent's RDDs in each window; the parent's RDDs are cached meanwhile."""

    parents: list[DStream[T]]

    def __init__(self, parent: DStream[T], window_ms: int, slide_ms: int) -> None:
        self.window_ms = window_ms
        super().__init__(parent._ssc, [parent], "window", slide_ms)
        if not parent.is_cached:
            parent.persist(StorageLevel.MEMORY_ONLY)

    def _compute(self, time_ms: int) -> RDD[T] | None:
        parent = self.parents[0]
        rdds = parent._slice_ms(time_ms - self.window_ms + parent.slide_ms, time_ms)
        return self._sc.union(rdds) if rdds else None


class ReducedWindowedDStream(_WindowBase[tuple[K, V]]):
    """``reduceByKeyAndWindow`` with an inverse function (PySpark's PythonReducedWindowedDStream)."""

    parents: list[DStream[tuple[K, V]]]

    def __init__(self, reduced: DStream[tuple[K, V]], func: Callable[[V, V], V],
                 inv_func: Callable[[V, V], V], window_ms: int, slide_ms: int, num_partitions: int,
                 filter_func: Callable[[tuple[K, V]], bool] | None) -> None:
        self.window_ms = window_ms
        self.func, self.inv_func, self.filter_func = func, inv_func, filter_func
        self.num_partitions = num_partitions
        super().__init__(reduced._ssc, [reduced], "reduceByKeyAndWindow", slide_ms)
        self._user(func, inv_func, filter_func)
        # each batch's reduced counts are read again when they leave the window (and, for a
        # short window, at every slide): kept, as Spark's ReducedWindowedDStream keeps them,
        # rather than merged again from the shuffle's map outputs
        if not reduced.is_cached:
            reduced.persist(StorageLevel.MEMORY_ONLY)
        self.storage_level = StorageLevel.MEMORY_ONLY
        self.is_cached = True
        self.must_checkpoint = True

    def _compute(self, time_ms: int) -> RDD[tuple[K, V]] | None:
        parent = self.parents[0]
        previous_end = time_ms - self.slide_ms
        current_begin = time_ms - self.window_ms
        previous = self._get_or_compute(previous_end)
        if previous is not None and self.window_ms >= self.slide_ms * INVERSE_MIN_SLIDES:
            old = parent._slice_ms(previous_end - self.window_ms + parent.slide_ms, current_begin)
            new = parent._slice_ms(previous_end + parent.slide_ms, time_ms)
            return self._update(previous, old, new)
        current = parent._slice_ms(current_begin + parent.slide_ms, time_ms)
        if not current:
            return None
        result = self._sc.union(current).reduceByKey(self.func, self.num_partitions)
        return result.filter(self.filter_func) if self.filter_func else result

    def _update(self, previous: RDD[tuple[K, V]], old: list[RDD[tuple[K, V]]],
                new: list[RDD[tuple[K, V]]]) -> RDD[tuple[K, V]]:
        partitioner = Partitioner(self.num_partitions, portable_hash)
        inputs = [previous, *old, *new]
        if all(r.partitioner == partitioner for r in inputs):
            return WindowUpdateRDD(previous, old, new, self.func, self.inv_func,
                                   self.filter_func, partitioner)
        return self._update_by_joins(previous, old, new)

    def _update_by_joins(self, previous: RDD[tuple[K, V]], old: list[RDD[tuple[K, V]]],
                         new: list[RDD[tuple[K, V]]]) -> RDD[tuple[K, V]]:
        """PySpark's plan, for inputs that are not co-partitioned (e.g. after recovery)."""
        n, func, inv = self.num_partitions, self.func, self.inv_func
        subtracted = previous
        if old:
            b = self._sc.union(old).reduceByKey(func, n)
            subtracted = previous.leftOuterJoin(b, n).mapValues(
                lambda vw: inv(vw[0], vw[1]) if vw[1] is not None else vw[0])
        if not new:
            return subtracted
        b = self._sc.union(new).reduceByKey(func, n)
        result = subtracted.union(b).reduceByKey(func, n)
        return result.filter(self.filter_func) if self.filter_func else result


class WindowUpdateRDD(RDD[tuple[K, V]]):
    """The next window from the previous one in one pass per partition: previous window,
    minus the expired batches (``inv_func``), plus the new ones (``func``), then ``filter_func``.
    Every input shares ``partitioner``, so partition ``i`` reads partition ``i`` of each."""

    def __init__(self, previous: RDD[tuple[K, V]], old: list[RDD[tuple[K, V]]],
                 new: list[RDD[tuple[K, V]]], func: Callable[[V, V], V], inv_func: Callable[[V, V], V],
                 filter_func: Callable[[tuple[K, V]], bool] | None, partitioner: Partitioner) -> None:
        self.previous, self.old, self.new = previous, old, new
        self.func, self.inv_func, self.filter_func = func, inv_func, filter_func
        deps: list[Dependency] = [OneToOneDependency(r) for r in (previous, *old, *new)]
        super().__init__(previous.ctx, deps, partitioner.numPartitions, partitioner)

    def compute(self, split: int, task: TaskContext) -> Iterator[tuple[K, V]]:
        func, inv = self.func, self.inv_func
        window = dict(self.previous.iterator(split, task))
        for k, v in self._per_key(self.old, split, task):
            if k in window:
                window[k] = inv(window[k], v)
        for k, v in self._per_key(self.new, split, task):
            window[k] = func(window[k], v) if k in window else v
        items = window.items()
        return iter(filter(self.filter_func, items) if self.filter_func else items)

    def _per_key(self, rdds: list[RDD[tuple[K, V]]], split: int, task: TaskContext
                 ) -> Iterable[tuple[K, V]]:
        """Each key once, its values over ``rdds`` reduced with ``func``. The batches are
        outputs of ``reduceByKey`` (one pair per key and partition): a single one is read as
        it is, several are combined first."""
        if len(rdds) == 1:
            return rdds[0].iterator(split, task)
        return combine_values(_chain(rdds, split, task), identity, self.func).items()


def _chain(rdds: list[RDD[T]], split: int, task: TaskContext) -> Iterator[T]:
    for rdd in rdds:
        yield from rdd.iterator(split, task)
