"""The streams behind the window operators.

With an inverse function and a window of at least five slides, each slide costs the new and
the expired batches only: the previous window's result is updated in one narrow pass per
partition (add what arrived, subtract what left), never recomputed from every batch in the
window. Shorter windows are recomputed from their batches, as PySpark does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from ..aggregation import combine_values, identity
from ..dependency import OneToOneDependency
from ..hashing import portable_hash
from ..partitioner import Partitioner
from ..rdd import RDD
from ..storagelevel import StorageLevel
from .dstream import DStream

if TYPE_CHECKING:
    from ..taskcontext import TaskContext

__all__ = ["WindowedDStream", "ReducedWindowedDStream", "WindowUpdateRDD", "INVERSE_MIN_SLIDES"]

#: PySpark uses the inverse function only for windows of at least this many slides.
INVERSE_MIN_SLIDES = 5


class _WindowBase(DStream):
    """A stream over windows of its parent: the parent must remember a window more."""

    window_ms: int

    def _parent_remember_ms(self) -> int | None:
        return None if self.remember_ms is None else self.remember_ms + self.window_ms


class WindowedDStream(_WindowBase):
    """The union of the parent's RDDs in each window; the parent's RDDs are cached meanwhile."""

    def __init__(self, parent: DStream, window_ms: int, slide_ms: int) -> None:
        self.window_ms = window_ms
        super().__init__(parent._ssc, [parent], "window", slide_ms)
        if not parent.is_cached:
            parent.persist(StorageLevel.MEMORY_ONLY)

    def _compute(self, time_ms: int) -> RDD | None:
        parent = self.parents[0]
        rdds = parent._slice_ms(time_ms - self.window_ms + parent.slide_ms, time_ms)
        return self._sc.union(rdds) if rdds else None


class ReducedWindowedDStream(_WindowBase):
    """``reduceByKeyAndWindow`` with an inverse function (PySpark's PythonReducedWindowedDStream)."""

    def __init__(self, reduced: DStream, func: Callable, inv_func: Callable, window_ms: int,
                 slide_ms: int, num_partitions: int, filter_func: Callable | None) -> None:
        self.window_ms = window_ms
        self.func, self.inv_func, self.filter_func = func, inv_func, filter_func
        self.num_partitions = num_partitions
        super().__init__(reduced._ssc, [reduced], "reduceByKeyAndWindow", slide_ms)
        self._user(func, inv_func, filter_func)
        self.storage_level = StorageLevel.MEMORY_ONLY
        self.is_cached = True
        self.must_checkpoint = True

    def _compute(self, time_ms: int) -> RDD | None:
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

    def _update(self, previous: RDD, old: list[RDD], new: list[RDD]) -> RDD:
        partitioner = Partitioner(self.num_partitions, portable_hash)
        inputs = [previous, *old, *new]
        if all(r.partitioner == partitioner for r in inputs):
            return WindowUpdateRDD(previous, old, new, self.func, self.inv_func,
                                   self.filter_func, partitioner)
        return self._update_by_joins(previous, old, new)

    def _update_by_joins(self, previous: RDD, old: list[RDD], new: list[RDD]) -> RDD:
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


class WindowUpdateRDD(RDD):
    """The next window from the previous one in one pass per partition: previous window,
    minus the expired batches (``inv_func``), plus the new ones (``func``), then ``filter_func``.
    Every input shares ``partitioner``, so partition ``i`` reads partition ``i`` of each."""

    def __init__(self, previous: RDD, old: list[RDD], new: list[RDD], func: Callable,
                 inv_func: Callable, filter_func: Callable | None, partitioner: Partitioner) -> None:
        self.previous, self.old, self.new = previous, old, new
        self.func, self.inv_func, self.filter_func = func, inv_func, filter_func
        deps = [OneToOneDependency(r) for r in (previous, *old, *new)]
        super().__init__(previous.ctx, deps, partitioner.numPartitions, partitioner)

    def compute(self, split: int, task: TaskContext) -> Iterator[tuple[Any, Any]]:
        func, inv = self.func, self.inv_func
        window = dict(self.previous.iterator(split, task))
        for k, v in self._per_key(self.old, split, task):
            if k in window:
                window[k] = inv(window[k], v)
        for k, v in self._per_key(self.new, split, task):
            window[k] = func(window[k], v) if k in window else v
        items = window.items()
        return iter(filter(self.filter_func, items) if self.filter_func else items)

    def _per_key(self, rdds: list[RDD], split: int, task: TaskContext) -> Iterable[tuple[Any, Any]]:
        """Each key once, its values over ``rdds`` reduced with ``func``. The batches are
        outputs of ``reduceByKey`` (one pair per key and partition): a single one is read as
        it is, several are combined first."""
        if len(rdds) == 1:
            return rdds[0].iterator(split, task)
        return combine_values(_chain(rdds, split, task), identity, self.func).items()


def _chain(rdds: list[RDD], split: int, task: TaskContext) -> Iterator[tuple[Any, Any]]:
    for rdd in rdds:
        yield from rdd.iterator(split, task)
