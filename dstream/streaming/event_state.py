"""The RDDs of an event-time windowed operator, one batch at a time.

The operator's state RDD has ``n + 1`` partitions: partitions ``0..n-1`` hold the open windows
(or sessions) of the keys that hash there, partition ``n`` the stream's ``Watermark``. A batch is
one shuffle:

1. map side (``PreAggregateRDD``), per input partition, a chunk of records at a time: read the
   watermark after the previous batch (partition ``n`` of the previous state, a few bytes),
   set aside the records that are late for it, combine the others per key and pane, and send
   one marker (largest event time, records) to the extra bucket ``n``;
2. reduce side (``EventStateRDD``), per key partition: the new watermark from the markers
   (every task computes the same value), the batch's entries merged into the open windows
   (with ``mode="final"``, into panes), and the windows the new watermark closes emitted and
   dropped.

Only the keys and windows a batch touches cost work; the state of the previous batch is
never changed in place (it may still be cached, or being written to a checkpoint).

>>> route = EventRoute(3)
>>> route(MARKER), route("a") == route("a") < 3
(3, True)
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol

from ..accumulators import Accumulator, AccumulatorParam
from ..dependency import NarrowDependency, OneToOneDependency
from ..hashing import BUILTIN_HASH_IS_PORTABLE, portable_hash
from ..partitioner import Partitioner
from ..rdd import RDD
from .event_time import Chunk, EventTimeSpec, Watermark

if TYPE_CHECKING:
    from ..taskcontext import TaskContext

__all__ = ["MARKER", "Bucket", "EventRoute", "PreAggregateRDD", "EventStateRDD", "KeyedState", "StatsParam"]


class Strategy(Protocol):
    """What an event-time operator does on each side of its batch shuffle."""

    def pre_aggregate(self, chunks: Iterator[Chunk], wm: int | None, route: EventRoute
                      ) -> tuple[list[tuple[Any, Any]], int | None, int]: ...

    def merge(self, previous: Any, entries: Iterator[tuple[Any, Any]], wm_before: int | None,
              wm_after: int | None) -> KeyedState: ...

    def open_count(self, state: Any) -> int: ...


class _Marker:
    """The shuffle key of a map task's marker (a singleton, also after unpickling)."""

    def __reduce__(self) -> str:
        return "MARKER"

    def __repr__(self) -> str:
        return "MARKER"


MARKER = _Marker()


class Bucket:
    """The shuffle key of a map task's share for one key partition (``index``): the window
    strategies send one entry per partition, ``({pane: {key: accumulator}}, late records)``,
    cut by ``EventRoute.split`` (a dict pickles faster than a pair per key)."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __reduce__(self) -> tuple[type[Bucket], tuple[int]]:
        return (Bucket, (self.index,))

    def __repr__(self) -> str:
        return f"Bucket({self.index})"


class EventRoute(Partitioner):
    """Keys by their portable hash over ``n`` partitions; a ``Bucket`` to its own, the
    marker to partition ``n``.

    >>> route = EventRoute(2)
    >>> [sorted(part) for part in route.split({"a": 1, "b": 2, "c": 3})] == [
    ...     sorted(k for k in "abc" if route(k) == i) for i in range(2)]
    True
    """

    def __init__(self, n: int) -> None:
        super().__init__(n + 1, portable_hash)
        self.keyed = n

    def __call__(self, key: Any) -> int:
        if key is MARKER:
            return self.keyed
        if type(key) is Bucket:
            return key.index
        return self.partition_of(key)

    def partition_of(self, key: Any) -> int:
        """The key partition of ``key``."""
        if BUILTIN_HASH_IS_PORTABLE and (type(key) is str or type(key) is int):
            return hash(key) % self.keyed
        return portable_hash(key) % self.keyed

    def split(self, group: dict[Any, Any]) -> list[dict[Any, Any]]:
        """``group`` cut into one dict per key partition."""
        n = self.keyed
        if n == 1:
            return [group]
        parts: list[dict[Any, Any]] = [{} for _ in range(n)]
        if BUILTIN_HASH_IS_PORTABLE:
            for k, x in group.items():
                if type(k) is str or type(k) is int:
                    parts[hash(k) % n][k] = x
                else:
                    parts[portable_hash(k) % n][k] = x
        else:
            for k, x in group.items():
                parts[portable_hash(k) % n][k] = x
        return parts


class _Fixed(NarrowDependency[RDD[Any]]):
    """Every child partition reads the parent partitions ``extra`` (plus its own if ``own``)."""

    def __init__(self, rdd: RDD[Any], extra: list[int], own_below: int = 0) -> None:
        super().__init__(rdd)
        self.extra, self.own_below = extra, own_below

    def parents(self, split: int) -> list[int]:
        own = [split] if split < self.own_below else []
        return own + [p for p in self.extra if p not in own]


class KeyedState:
    """One key partition of the state after a batch: the open windows or sessions (owned by
    the strategy), and what the batch gave: emitted results and late ``(ms, record)``s.

    A pickle holds ``emitted`` and ``late`` as pickles of their own, loaded when read: the
    next batch loads the state for its open windows alone.

    >>> import pickle
    >>> state = pickle.loads(pickle.dumps(KeyedState({}, [(("a", 0, 1), 2)], [])))
    >>> type(state._emitted), state.emitted
    (<class 'bytes'>, [(('a', 0, 1), 2)])
    """

    __slots__ = ("open", "_emitted", "_late")

    def __init__(self, open: Any, emitted: list[Any] | bytes,
                 late: list[tuple[int, Any]] | bytes) -> None:
        self.open, self._emitted, self._late = open, emitted, late

    @property
    def emitted(self) -> list[Any]:
        emitted = self._emitted
        if isinstance(emitted, bytes):
            emitted = self._emitted = pickle.loads(emitted)
        return emitted

    @property
    def late(self) -> list[tuple[int, Any]]:
        late = self._late
        if isinstance(late, bytes):
            late = self._late = pickle.loads(late)
        return late

    def __reduce__(self) -> tuple[type[KeyedState], tuple[Any, bytes, bytes]]:
        return (KeyedState, (self.open, _pickled(self._emitted), _pickled(self._late)))


def _pickled(value: list[Any] | bytes) -> bytes:
    return value if isinstance(value, bytes) else pickle.dumps(value, protocol=5)


#: per-batch statistics: ``(batch ms, partition)`` to the partition's ``Watermark`` (partition
#: ``n``) or ``(late records, open windows)``
Stats = dict[tuple[int, int], Any]


class StatsParam(AccumulatorParam[Stats]):
    """Per-batch statistics from the tasks, keyed ``(batch ms, partition)``; a recomputed
    partition overwrites its own entry, so nothing counts twice."""

    def zero(self, value: Stats) -> Stats:
        return {}

    def addInPlace(self, value1: Stats, value2: Stats) -> Stats:
        value1.update(value2)
        return value1


def _watermark_of(previous: RDD[Any] | None, n: int, task: TaskContext) -> Watermark:
    if previous is None:
        return Watermark.initial()
    watermark: Watermark = next(iter(previous.iterator(n, task)))
    return watermark


class PreAggregateRDD(RDD[tuple[Any, Any]]):
    """Map side of a batch: the batch's records read as stamped chunks by ``chunks_of`` (the
    timestamp function and the operators after it run here), late records set aside, the
    others combined per key and window, one marker per partition."""

    def __init__(self, batch: RDD[Any], chunks_of: Callable[[Iterator[Any]], Iterator[Chunk]],
                 previous: RDD[Any] | None, strategy: Strategy, n: int) -> None:
        self.batch, self.chunks_of = batch, chunks_of
        self.previous, self.strategy, self.n = previous, strategy, n
        deps: list[Any] = [OneToOneDependency(batch)]
        if previous is not None:
            deps.append(_Fixed(previous, [n]))
        super().__init__(batch.ctx, deps, batch.getNumPartitions())

    def compute(self, split: int, task: TaskContext) -> Iterator[tuple[Any, Any]]:
        wm = _watermark_of(self.previous, self.n, task).watermark_ms
        chunks = self.chunks_of(self.batch.iterator(split, task))
        entries, max_event, count = self.strategy.pre_aggregate(chunks, wm, EventRoute(self.n))
        entries.append((MARKER, (max_event, count)))
        return iter(entries)


class EventStateRDD(RDD[Any]):
    """Reduce side of a batch: partition ``n`` is the new ``Watermark``, the others the new
    ``KeyedState`` of their keys."""

    def __init__(self, previous: RDD[Any] | None, shuffled: RDD[Any], strategy: Strategy, n: int,
                 time_ms: int, spec: EventTimeSpec, stats: Accumulator[Stats]) -> None:
        self.previous, self.shuffled, self.strategy, self.n = previous, shuffled, strategy, n
        # not ``stats``: that is RDD.stats()
        self.time_ms, self.spec, self.batch_stats = time_ms, spec, stats
        deps: list[Any] = [_Fixed(shuffled, [n], own_below=n)]
        if previous is not None:
            deps.append(_Fixed(previous, [n], own_below=n))
        super().__init__(shuffled.ctx, deps, n + 1)

    def _watermarks(self, task: TaskContext) -> tuple[Watermark, Watermark]:
        before = _watermark_of(self.previous, self.n, task)
        markers = (v for _k, v in self.shuffled.iterator(self.n, task))
        after = before.advance(markers, self.time_ms, delay_ms=self.spec.delay_ms,
                               idle_ms=self.spec.idle_ms)
        return before, after

    def compute(self, split: int, task: TaskContext) -> Iterator[Any]:
        before, after = self._watermarks(task)
        if split == self.n:
            self.batch_stats.add({(self.time_ms, split): after})
            return iter([after])
        previous = None if self.previous is None else next(iter(self.previous.iterator(split, task)))
        state = self.strategy.merge(previous.open if previous is not None else None,
                                    self.shuffled.iterator(split, task), before.watermark_ms,
                                    after.watermark_ms)
        self.batch_stats.add({(self.time_ms, split): (len(state.late), self.strategy.open_count(state.open))})
        return iter([state])
