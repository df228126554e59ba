"""DStream operations on ``(key, value)`` pairs: each batch's RDD gets the RDD operation.

Partition counts default to the context's ``defaultParallelism``, as in PySpark.

>>> from dstream import Context, StreamingContext
>>> from dstream.streaming.testing import run_batches
>>> with Context("local") as ctx:
...     ssc = StreamingContext(ctx, 1, clock="manual")
...     counts = ssc.queueStream([[("a", 1), ("b", 1), ("a", 1)]]).reduceByKey(lambda x, y: x + y)
...     [sorted(batch) for batch in run_batches(ssc, counts, 1)]
[[('a', 2), ('b', 1)]]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Hashable, Iterable, TypeVar

from .arguments import check_function, on

if TYPE_CHECKING:
    from .dstream import DStream

__all__ = ["PairDStreamOperations"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
W = TypeVar("W")
U = TypeVar("U")
C = TypeVar("C")


class PairDStreamOperations:
    """Mixed into ``DStream``: each operation is ``DStream._per_batch`` or ``_with_other``
    over the RDD operation of the same name."""

    def _partitions(self: DStream, numPartitions: int | None) -> int:
        if numPartitions is None:
            return self._sc.defaultParallelism
        if not isinstance(numPartitions, int) or numPartitions < 1:
            raise ValueError(f"{self.id}: numPartitions must be an int >= 1, got {numPartitions!r}")
        return numPartitions

    def mapValues(self: DStream[tuple[K, V]], f: Callable[[V], U]) -> DStream[tuple[K, U]]:
        """``f`` applied to the value of every ``(key, value)`` record.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     pairs = ssc.queueStream([[("a", 1), ("b", 2)]])
        ...     run_batches(ssc, pairs.mapValues(lambda v: v * 10), 1)
        [[('a', 10), ('b', 20)]]
        """
        check_function(on(self, "mapValues"), "f", f, 1)
        return self._narrow("mapValues", lambda _, it: ((kv[0], f(kv[1])) for kv in it), True, f)

    def flatMapValues(self: DStream[tuple[K, V]], f: Callable[[V], Iterable[U]]) -> DStream[tuple[K, U]]:
        """``(key, x)`` for every ``x`` of the iterable ``f(value)`` returns.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     pairs = ssc.queueStream([[("a", "x y"), ("b", "z")]])
        ...     run_batches(ssc, pairs.flatMapValues(str.split), 1)
        [[('a', 'x'), ('a', 'y'), ('b', 'z')]]
        """
        check_function(on(self, "flatMapValues"), "f", f, 1)
        return self._narrow("flatMapValues",
                            lambda _, it: ((kv[0], x) for kv in it for x in f(kv[1])), True, f)

    def combineByKey(self: DStream[tuple[K, V]], createCombiner: Callable[[V], C],
                     mergeValue: Callable[[C, V], C], mergeCombiners: Callable[[C, C], C],
                     numPartitions: int | None = None) -> DStream[tuple[K, C]]:
        """Each batch's values combined per key (the general form of ``reduceByKey``).

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     pairs = ssc.queueStream([[("a", 1), ("b", 2), ("a", 3)]])
        ...     lists = pairs.combineByKey(lambda v: [v], lambda c, v: c + [v], lambda c, d: c + d)
        ...     [sorted(batch) for batch in run_batches(ssc, lists, 1)]
        [[('a', [1, 3]), ('b', [2])]]
        """
        for name, func, arity in (("createCombiner", createCombiner, 1), ("mergeValue", mergeValue, 2),
                                  ("mergeCombiners", mergeCombiners, 2)):
            check_function(on(self, "combineByKey"), name, func, arity)
        n = self._partitions(numPartitions)
        return self._per_batch("combineByKey", lambda rdd: rdd.combineByKey(
            createCombiner, mergeValue, mergeCombiners, n))._user(createCombiner, mergeValue,
                                                                 mergeCombiners)

    def reduceByKey(self: DStream[tuple[K, V]], func: Callable[[V, V], V],
                    numPartitions: int | None = None) -> DStream[tuple[K, V]]:
        """Each batch's values merged per key with ``func``.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import operator
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     pairs = ssc.queueStream([[("a", 1), ("b", 1), ("a", 1)], [("b", 5)]])
        ...     [sorted(batch) for batch in run_batches(ssc, pairs.reduceByKey(operator.add), 2)]
        [[('a', 2), ('b', 1)], [('b', 5)]]
        """
        check_function(on(self, "reduceByKey"), "func", func, 2)
        n = self._partitions(numPartitions)
        return self._per_batch("reduceByKey", lambda rdd: rdd.reduceByKey(func, n))._user(func)

    def groupByKey(self: DStream[tuple[K, V]], numPartitions: int | None = None) -> DStream:
        """Each batch's values grouped per key (as an iterable).

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     pairs = ssc.queueStream([[("a", 1), ("b", 2), ("a", 3)]])
        ...     grouped = pairs.groupByKey().mapValues(sorted)
        ...     [sorted(batch) for batch in run_batches(ssc, grouped, 1)]
        [[('a', [1, 3]), ('b', [2])]]
        """
        n = self._partitions(numPartitions)
        return self._per_batch("groupByKey", lambda rdd: rdd.groupByKey(n))

    def partitionBy(self: DStream[tuple[K, V]], numPartitions: int,
                    partitionFunc: Callable[[K], int] | None = None) -> DStream[tuple[K, V]]:
        """Each batch hash-partitioned by key into ``numPartitions`` (``partitionFunc(key)``
        modulo ``numPartitions``).

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     pairs = ssc.queueStream([[(1, "a"), (2, "b"), (3, "c")]])
        ...     run_batches(ssc, pairs.partitionBy(2).glom(), 1)
        [[[(2, 'b')], [(1, 'a'), (3, 'c')]]]
        """
        check_function(on(self, "partitionBy"), "partitionFunc", partitionFunc, 1, optional=True)
        n = self._partitions(numPartitions)
        return self._per_batch("partitionBy",
                               lambda rdd: rdd.partitionBy(n, partitionFunc))._user(partitionFunc)

    def cogroup(self: DStream[tuple[K, V]], other: DStream[tuple[K, W]],
                numPartitions: int | None = None) -> DStream:
        """For every key of either stream, ``(key, (values here, values in other))`` per batch.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     a, b = ssc.queueStream([[("a", 1)]]), ssc.queueStream([[("a", 2), ("b", 3)]])
        ...     grouped = a.cogroup(b).mapValues(lambda vs: tuple(map(list, vs)))
        ...     [sorted(batch) for batch in run_batches(ssc, grouped, 1)]
        [[('a', ([1], [2])), ('b', ([], [3]))]]
        """
        n = self._partitions(numPartitions)
        return self._with_other(other, "cogroup", lambda a, b: a.cogroup(b, n))

    def join(self: DStream[tuple[K, V]], other: DStream[tuple[K, W]],
             numPartitions: int | None = None) -> DStream[tuple[K, tuple[V, W]]]:
        """``(key, (v, w))`` for every pair of values of a key present in both streams' batch.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     a, b = ssc.queueStream([[("a", 1), ("b", 2)]]), ssc.queueStream([[("a", "x")]])
        ...     run_batches(ssc, a.join(b), 1)
        [[('a', (1, 'x'))]]
        """
        n = self._partitions(numPartitions)
        return self._with_other(other, "join", lambda a, b: a.join(b, n))

    def leftOuterJoin(self: DStream[tuple[K, V]], other: DStream[tuple[K, W]],
                      numPartitions: int | None = None) -> DStream:
        """Like ``join``, keeping this stream's keys missing from ``other`` with None.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     a, b = ssc.queueStream([[("a", 1), ("b", 2)]]), ssc.queueStream([[("a", "x")]])
        ...     [sorted(batch) for batch in run_batches(ssc, a.leftOuterJoin(b), 1)]
        [[('a', (1, 'x')), ('b', (2, None))]]
        """
        n = self._partitions(numPartitions)
        return self._with_other(other, "leftOuterJoin", lambda a, b: a.leftOuterJoin(b, n))

    def rightOuterJoin(self: DStream[tuple[K, V]], other: DStream[tuple[K, W]],
                       numPartitions: int | None = None) -> DStream:
        """Like ``join``, keeping ``other``'s keys missing from this stream with None.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     a, b = ssc.queueStream([[("a", 1)]]), ssc.queueStream([[("a", "x"), ("c", "y")]])
        ...     [sorted(batch) for batch in run_batches(ssc, a.rightOuterJoin(b), 1)]
        [[('a', (1, 'x')), ('c', (None, 'y'))]]
        """
        n = self._partitions(numPartitions)
        return self._with_other(other, "rightOuterJoin", lambda a, b: a.rightOuterJoin(b, n))

    def fullOuterJoin(self: DStream[tuple[K, V]], other: DStream[tuple[K, W]],
                      numPartitions: int | None = None) -> DStream:
        """Like ``join``, keeping the keys of either side with None for the missing value.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     a, b = ssc.queueStream([[("a", 1), ("b", 2)]]), ssc.queueStream([[("a", "x"), ("c", "y")]])
        ...     [sorted(batch) for batch in run_batches(ssc, a.fullOuterJoin(b), 1)]
        [[('a', (1, 'x')), ('b', (2, None)), ('c', (None, 'y'))]]
        """
        n = self._partitions(numPartitions)
        return self._with_other(other, "fullOuterJoin", lambda a, b: a.fullOuterJoin(b, n))
