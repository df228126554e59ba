"""Stateful operations: ``updateStateByKey`` (PySpark) and ``mapWithState`` (Spark's Scala API).

The streams that keep the state are in ``stateful.py``.

>>> from dstream import Context, StreamingContext
>>> from dstream.streaming.testing import run_batches
>>> import tempfile
>>> with Context("local") as ctx:
...     ssc = StreamingContext(ctx, 1, clock="manual"); ssc.checkpoint(tempfile.mkdtemp())
...     pairs = ssc.queueStream([[("a", 1)], [("a", 2), ("b", 5)], []])
...     totals = pairs.updateStateByKey(lambda new, old: sum(new) + (old or 0))
...     [sorted(b) for b in run_batches(ssc, totals, 3)]
[[('a', 1)], [('a', 3), ('b', 5)], [('a', 3), ('b', 5)]]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Hashable, TypeVar

from ..rdd import RDD
from .arguments import check_function, on

if TYPE_CHECKING:
    from .dstream import DStream
    from .stateful import MapWithStateDStream, StateSpec

__all__ = ["StateOperations"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
S = TypeVar("S")
U = TypeVar("U")


class StateOperations:
    """Mixed into ``DStream`` (``self`` types: see ``PairDStreamOperations``)."""

    def updateStateByKey(self: DStream[tuple[K, V]],  # type: ignore[misc]  # DStream mixin
                         updateFunc: Callable[[list[V], S | None], S | None],
                         numPartitions: int | None = None,
                         initialRDD: RDD[tuple[K, S]] | list[tuple[K, S]] | None = None
                         ) -> DStream[tuple[K, S]]:
        """Keep a state per key: every batch ``updateFunc(new_values, state)`` runs for every
        key (``[]`` when it had no new values; ``state`` is None for a new key); returning
        None drops the key.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import tempfile
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual"); ssc.checkpoint(tempfile.mkdtemp())
        ...     pairs = ssc.queueStream([[("a", 1)], [("a", 1), ("b", 1)], [("b", 1)]])
        ...     counts = pairs.updateStateByKey(lambda new, old: (old or 0) + len(new))
        ...     [sorted(b) for b in run_batches(ssc, counts, 3)]
        [[('a', 1)], [('a', 2), ('b', 1)], [('a', 2), ('b', 2)]]
        """
        from .stateful import StateDStream
        check_function(on(self, "updateStateByKey"), "updateFunc", updateFunc, 2)
        n = self._partitions(numPartitions)
        if initialRDD is not None and not isinstance(initialRDD, RDD):
            initialRDD = self._sc.parallelize(list(initialRDD))
        return StateDStream(self, updateFunc, n, initialRDD)

    def mapWithState(self: DStream[tuple[K, V]],  # type: ignore[misc]  # DStream mixin
                     spec: StateSpec[K, V, S, U]) -> MapWithStateDStream[K, S, U]:
        """Spark's ``mapWithState``: ``spec``'s function sees only keys with new data (once per
        record) or keys timing out, and returns the records of the resulting stream;
        ``.stateSnapshots()`` on the result gives every key's state each batch.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import tempfile
        >>> from dstream.streaming import StateSpec
        >>> def running_total(key, value, state):
        ...     state.update((state.getOption() or 0) + value)
        ...     return key, state.get()
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual"); ssc.checkpoint(tempfile.mkdtemp())
        ...     pairs = ssc.queueStream([[("a", 1)], [("a", 2), ("b", 5)], []])
        ...     totals = pairs.mapWithState(StateSpec.function(running_total))
        ...     [sorted(b) for b in run_batches(ssc, totals, 3)]
        [[('a', 1)], [('a', 3), ('b', 5)], []]
        """
        from .stateful import MapWithStateDStream, StateSpec
        if not isinstance(spec, StateSpec):
            raise TypeError(f"{self.id}: mapWithState takes a StateSpec "
                            f"(StateSpec.function(f)), got {type(spec).__name__}")
        return MapWithStateDStream(self, spec)

    def _state_partitions(self: DStream[Any],  # type: ignore[misc]  # DStream mixin
                          spec: StateSpec[Any, Any, Any, Any]) -> int:
        return spec._num_partitions or self._sc.defaultParallelism
