"""Windowed operations: ``window``, ``reduceByKeyAndWindow`` and the operators built on them.

The streams that compute windows are in ``windowed.py``.

>>> from dstream import Context, StreamingContext
>>> from dstream.streaming.testing import run_batches
>>> with Context("local") as ctx:
...     ssc = StreamingContext(ctx, 1, clock="manual")
...     windowed = ssc.queueStream([[1], [2], [3]]).window(2, 1)
...     run_batches(ssc, windowed, 3)
[[1], [1, 2], [2, 3]]
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, Callable, Hashable, TypeVar

from ..aggregation import ResultIterable
from .arguments import check_duration, check_function, on
from .durations import check_multiple

if TYPE_CHECKING:
    from .dstream import DStream

__all__ = ["WindowOperations"]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

class WindowOperations:
    """Mixed into ``DStream`` (``self`` types: see ``PairDStreamOperations``)."""

    def _window_params(self: DStream[Any],  # type: ignore[misc]  # DStream mixin
                       windowDuration: float, slideDuration: float | None,
                       method: str = "window") -> tuple[int, int]:
        op = on(self, method)
        window_ms = check_duration(op, "windowDuration", windowDuration)
        check_multiple(window_ms, self.slide_ms, stream=op, what="windowDuration",
                       unit_name="slide (batch) duration")
        slide_ms = (self.slide_ms if slideDuration is None
                    else check_duration(op, "slideDuration", slideDuration))
        check_multiple(slide_ms, self.slide_ms, stream=op, what="slideDuration",
                       unit_name="slide (batch) duration")
        return window_ms, slide_ms

    def window(self: DStream[T], windowDuration: float,  # type: ignore[misc]  # DStream mixin
               slideDuration: float | None = None) -> DStream[T]:
        """Every ``slideDuration`` seconds, the union of the last ``windowDuration`` seconds of batches.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     windows = ssc.queueStream([[1], [2], [3], [4]]).window(2, 2)   # every 2nd batch
        ...     run_batches(ssc, windows, 4)
        [[1, 2], [3, 4]]
        """
        from .windowed import WindowedDStream
        window_ms, slide_ms = self._window_params(windowDuration, slideDuration)
        return WindowedDStream(self, window_ms, slide_ms)

    def reduceByKeyAndWindow(self: DStream[tuple[K, V]],  # type: ignore[misc]  # DStream mixin
                             func: Callable[[V, V], V],
                             invFunc: Callable[[V, V], V] | None, windowDuration: float,
                             slideDuration: float | None = None, numPartitions: int | None = None,
                             filterFunc: Callable[[tuple[K, V]], bool] | None = None
                             ) -> DStream[tuple[K, V]]:
        """Reduce each key's values over a sliding window.

        With ``invFunc`` (which undoes ``func``) the window is updated incrementally; keys whose
        values all expired stay with the reduced-away value unless ``filterFunc`` drops them.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import operator, tempfile
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual"); ssc.checkpoint(tempfile.mkdtemp())
        ...     pairs = ssc.queueStream([[("a", 1)], [("a", 1), ("b", 1)], [("b", 1)]])
        ...     counts = pairs.reduceByKeyAndWindow(operator.add, operator.sub, 2, 1)
        ...     [sorted(b) for b in run_batches(ssc, counts, 3)]
        [[('a', 1)], [('a', 2), ('b', 1)], [('a', 1), ('b', 2)]]
        """
        from .windowed import ReducedWindowedDStream, WindowedDStream
        op = on(self, "reduceByKeyAndWindow")
        check_function(op, "func", func, 2)
        check_function(op, "invFunc", invFunc, 2, optional=True)
        check_function(op, "filterFunc", filterFunc, 1, optional=True)
        window_ms, slide_ms = self._window_params(windowDuration, slideDuration, "reduceByKeyAndWindow")
        n = self._partitions(numPartitions)
        reduced = self.reduceByKey(func, n)
        if invFunc is None:
            return WindowedDStream(reduced, window_ms, slide_ms).reduceByKey(func, n)
        return ReducedWindowedDStream(reduced, func, invFunc, window_ms, slide_ms, n, filterFunc)

    def reduceByWindow(self: DStream[T],  # type: ignore[misc]  # DStream mixin
                       reduceFunc: Callable[[T, T], T],
                       invReduceFunc: Callable[[T, T], T] | None, windowDuration: float,
                       slideDuration: float) -> DStream[T]:
        """The records of each window reduced with ``reduceFunc`` (``invReduceFunc`` as in
        ``reduceByKeyAndWindow``).

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import operator
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     sums = ssc.queueStream([[1], [2], [3]]).reduceByWindow(operator.add, None, 2, 1)
        ...     run_batches(ssc, sums, 3)
        [[1], [3], [5]]
        """
        check_function(on(self, "reduceByWindow"), "reduceFunc", reduceFunc, 2)
        check_function(on(self, "reduceByWindow"), "invReduceFunc", invReduceFunc, 2, optional=True)
        self._window_params(windowDuration, slideDuration, "reduceByWindow")
        keyed = self.map(lambda x: (1, x))
        reduced = keyed.reduceByKeyAndWindow(reduceFunc, invReduceFunc, windowDuration, slideDuration, 1)
        return reduced.map(lambda kv: kv[1])

    def countByWindow(self: DStream[Any], windowDuration: float,  # type: ignore[misc]  # DStream mixin
                      slideDuration: float) -> DStream[int]:
        """The number of records in each window (needs a checkpoint directory).

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import tempfile
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual"); ssc.checkpoint(tempfile.mkdtemp())
        ...     counts = ssc.queueStream([[1, 1], [2], [3]]).countByWindow(2, 1)
        ...     run_batches(ssc, counts, 3)
        [[2], [3], [2]]
        """
        self._window_params(windowDuration, slideDuration, "countByWindow")
        return self.map(lambda x: 1).reduceByWindow(operator.add, operator.sub, windowDuration,
                                                    slideDuration)

    def countByValueAndWindow(self: DStream[K], windowDuration: float,  # type: ignore[misc]  # DStream mixin
                              slideDuration: float, numPartitions: int | None = None
                              ) -> DStream[tuple[K, int]]:
        """``(value, count)`` for the distinct records of each window; zero counts are
        dropped (needs a checkpoint directory).

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import tempfile
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual"); ssc.checkpoint(tempfile.mkdtemp())
        ...     counts = ssc.queueStream([["a"], ["a", "b"], ["b"]]).countByValueAndWindow(2, 1)
        ...     [sorted(b) for b in run_batches(ssc, counts, 3)]
        [[('a', 1)], [('a', 2), ('b', 1)], [('a', 1), ('b', 2)]]
        """
        self._window_params(windowDuration, slideDuration, "countByValueAndWindow")
        keyed = self.map(lambda x: (x, 1))
        counted = keyed.reduceByKeyAndWindow(operator.add, operator.sub, windowDuration,
                                             slideDuration, numPartitions)
        return counted.filter(lambda kv: kv[1] > 0)

    def groupByKeyAndWindow(self: DStream[tuple[K, V]],  # type: ignore[misc]  # DStream mixin
                            windowDuration: float, slideDuration: float,
                            numPartitions: int | None = None) -> DStream[tuple[K, ResultIterable[V]]]:
        """Each key's values over a sliding window, as an iterable (needs a checkpoint
        directory).

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import tempfile
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual"); ssc.checkpoint(tempfile.mkdtemp())
        ...     pairs = ssc.queueStream([[("a", 1)], [("a", 2), ("b", 3)], []])
        ...     groups = pairs.groupByKeyAndWindow(2, 1).mapValues(sorted)
        ...     [sorted(b) for b in run_batches(ssc, groups, 3)]
        [[('a', [1])], [('a', [1, 2]), ('b', [3])], [('a', [2]), ('b', [3])]]
        """
        self._window_params(windowDuration, slideDuration, "groupByKeyAndWindow")
        singletons = self.mapValues(lambda x: [x])
        grouped = singletons.reduceByKeyAndWindow(_concat, _drop_prefix, windowDuration,
                                                  slideDuration, numPartitions)
        return grouped.mapValues(ResultIterable)


def _concat(a: list[V], b: list[V]) -> list[V]:
    return a + b


def _drop_prefix(a: list[V], b: list[V]) -> list[V]:
    return a[len(b):]
