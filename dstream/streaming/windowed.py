"""How a window's result is computed from its batches (the streams are in ``dstream.py``).

With an inverse function and a window of at least five slides, each slide costs the new and
the expired batches only: the previous window's result is updated in one narrow pass per
partition (add what arrived, subtract what left), never recomputed from every batch in the
window. Shorter windows are recomputed from their batches, as PySpark does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterable, Iterator, TypeVar

from ..aggregation import combine_values, identity
from ..dependency import Dependency, OneToOneDependency
from ..hashing import portable_hash
from ..partitioner import Partitioner
from ..rdd import RDD

if TYPE_CHECKING:
    from ..taskcontext import TaskContext

__all__ = ["next_window", "WindowUpdateRDD", "INVERSE_MIN_SLIDES", "concat", "drop_prefix"]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: PySpark uses the inverse function only for windows of at least this many slides.
INVERSE_MIN_SLIDES = 5


def next_window(previous: RDD[tuple[K, V]], old: list[RDD[tuple[K, V]]], new: list[RDD[tuple[K, V]]],
                func: Callable[[V, V], V], inv_func: Callable[[V, V], V],
                filter_func: Callable[[tuple[K, V]], bool] | None, num_partitions: int) -> RDD[tuple[K, V]]:
    """The window after ``previous``: the batches that left it (``old``) taken out with
    ``inv_func``, the ones that arrived (``new``) added with ``func``, then ``filter_func``.
    One narrow pass per partition when every input is hash-partitioned into
    ``num_partitions``, else PySpark's plan of joins (e.g. after recovery)."""
    partitioner = Partitioner(num_partitions, portable_hash)
    if all(r.partitioner == partitioner for r in (previous, *old, *new)):
        return WindowUpdateRDD(previous, old, new, func, inv_func, filter_func, partitioner)
    subtracted = previous
    if old:
        b = previous.ctx.union(old).reduceByKey(func, num_partitions)
        subtracted = previous.leftOuterJoin(b, num_partitions).mapValues(
            lambda vw: inv_func(vw[0], vw[1]) if vw[1] is not None else vw[0])
    if not new:
        return subtracted
    b = previous.ctx.union(new).reduceByKey(func, num_partitions)
    result = subtracted.union(b).reduceByKey(func, num_partitions)
    return result.filter(filter_func) if filter_func else result


class WindowUpdateRDD(RDD[tuple[K, V]]):
    """The next window from the previous one in one pass per partition: previous window,
    minus the expired batches (``inv_func``), plus the new ones (``func``), then ``filter_func``.
    Every input shares ``partitioner``, so partition ``i`` reads partition ``i`` of each."""

    def __init__(self, previous: RDD[tuple[K, V]], old: list[RDD[tuple[K, V]]],
                 new: list[RDD[tuple[K, V]]], func: Callable[[V, V], V], inv_func: Callable[[V, V], V],
                 filter_func: Callable[[tuple[K, V]], bool] | None, partitioner: Partitioner) -> None:
        self.previous, self.old, self.new = previous, old, new
        self.func, self.inv_func, self.filter_func = func, inv_func, filter_func
        deps: list[Dependency[RDD[Any]]] = [OneToOneDependency(r) for r in (previous, *old, *new)]
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


def concat(a: list[V], b: list[V]) -> list[V]:
    """``groupByKeyAndWindow``'s reduce: a key's values in the window, then the new ones."""
    return a + b


def drop_prefix(a: list[V], b: list[V]) -> list[V]:
    """``groupByKeyAndWindow``'s inverse reduce: ``a`` without the expired values ``b``, its first ones."""
    return a[len(b):]
