"""Event time on a stream: timestamps carried with records, window assignment, the watermark.

``stream.withEventTime(timestampFunc, maxOutOfOrderness)`` gives an ``EventTimeDStream``: its
records are the stream's own, and each carries the event time ``timestampFunc(record)`` gave
(a ``datetime`` or epoch seconds, kept as whole milliseconds). ``map``, ``flatMap``,
``filter``, ``mapValues`` and ``flatMapValues`` keep each record's event time; every other
operator gives an ordinary stream.

The watermark after a batch is the largest event time seen so far, over every partition,
minus ``maxOutOfOrderness``; it never moves back. With ``idleTimeout``, a stream that had no
record for that long (of batch time) lets its watermark run on with the batch clock.

>>> window_starts(12_500, 10_000, 5_000)
[10000, 5000]
>>> wm = Watermark.initial().advance([(9_000, 3)], 4_000, delay_ms=2_000, idle_ms=None)
>>> wm.watermark_ms, wm.max_event_ms, wm.last_data_ms
(7000, 9000, 4000)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterable, Iterator, TypeVar

from .dstream import DStream, TransformedDStream, _checked_rdd
from .durations import batch_datetime, to_ms
from .event_chunks import (CHUNK, Chunk, ChunkStep, _record_of, event_ms, filter_step,
                           flat_map_step, flat_map_values_step, map_step, map_values_step,
                           pairs_of, stamp_chunks, then, unzip_chunks)

if TYPE_CHECKING:
    from ..rdd import RDD
    from .event_windows import EventWindowDStream

T = TypeVar("T")
U = TypeVar("U")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
#: ``self``'s own type, for ``setName``
E = TypeVar("E", bound="EventTimeDStream[Any]")
#: an event-time window's key: ``(key, windowStart, windowEnd)``
WindowKey = tuple[K, dt.datetime, dt.datetime]

__all__ = ["EventTimeDStream", "StampedDStream", "EventTimeSpec", "Watermark", "Chunk", "CHUNK",
           "event_ms", "window_starts", "ms_datetime", "duration_ms", "stamp_chunks",
           "unzip_chunks"]

#: reads a partition's records as stamped chunks
ChunkReader = Callable[[Iterator[Any]], Iterator[Chunk]]


def duration_ms(seconds: float, what: str, *, allow_zero: bool = True) -> int:
    """Seconds to whole milliseconds; zero allowed unless ``allow_zero`` is false.

    >>> duration_ms(0, "allowedLateness"), duration_ms(1.5, "gap")
    (0, 1500)
    """
    if allow_zero and not isinstance(seconds, bool) and isinstance(seconds, (int, float)) \
            and seconds == 0:
        return 0
    return to_ms(seconds, what)


def ms_datetime(ms: int) -> dt.datetime:
    """Milliseconds since the epoch as a naive local datetime (as batch times are).

    >>> ms_datetime(event_ms(ms_datetime(1_500))) == ms_datetime(1_500)
    True
    """
    return dt.datetime.fromtimestamp(ms / 1000)


def window_starts(t: int, size: int, slide: int) -> list[int]:
    """Starts of the windows ``[s, s + size)`` holding time ``t``, latest first; windows
    start on multiples of ``slide`` since the epoch (as in Structured Streaming).

    >>> window_starts(10_000, 10_000, 10_000), window_starts(-1, 4, 2)
    ([10000], [-2, -4])
    """
    last = t - t % slide
    starts = []
    s = last
    while s > t - size:
        starts.append(s)
        s -= slide
    return starts


@dataclass(frozen=True)
class EventTimeSpec:
    """How a stream's watermark moves: ``maxOutOfOrderness`` and ``idleTimeout`` in ms."""

    delay_ms: int
    idle_ms: int | None


@dataclass(frozen=True)
class Watermark:
    """An event-time stream's clock after a batch: the watermark (None before any record),
    the largest event time seen, and the last batch time that brought records."""

    watermark_ms: int | None
    max_event_ms: int | None
    last_data_ms: int | None

    @staticmethod
    def initial() -> Watermark:
        return Watermark(None, None, None)

    def advance(self, markers: Iterable[tuple[int | None, int]], batch_ms: int, *,
                delay_ms: int, idle_ms: int | None) -> Watermark:
        """The clock after the batch of ``batch_ms`` whose partitions saw ``markers``
        (each ``(largest event time or None, records)``).

        Idle: when no record came for ``idle_ms`` of batch time, event time is taken to have
        run on with the batch clock since the last record (never backwards).

        >>> w = Watermark(8_000, 10_000, 3_000)
        >>> w.advance([], 5_000, delay_ms=2_000, idle_ms=2_000).watermark_ms
        10000
        >>> w.advance([], 5_000, delay_ms=2_000, idle_ms=None).watermark_ms
        8000
        """
        max_event, records = self.max_event_ms, 0
        for batch_max, count in markers:
            records += count
            if batch_max is not None and (max_event is None or batch_max > max_event):
                max_event = batch_max
        last_data = batch_ms if records else self.last_data_ms
        wm = self.watermark_ms
        if max_event is not None:
            candidate = max_event - delay_ms
            if idle_ms is not None and last_data is not None and batch_ms - last_data >= idle_ms:
                candidate += batch_ms - last_data
            if wm is None or candidate > wm:
                wm = candidate
        return Watermark(wm, max_event, last_data)


# ---------------------------------------------------------------------- the stream
#: a stream's function of its parent's RDD (``TransformedDStream.func``)
RDDFunc = Callable[[dt.datetime, "RDD[Any]"], "RDD[Any]"]


def _strip(_time: dt.datetime, rdd: RDD[tuple[int, T]]) -> RDD[T]:
    return rdd.map(_record_of, True)


def _same(_time: dt.datetime, rdd: RDD[T]) -> RDD[T]:
    return rdd


def _pairs_from(source: RDDFunc, chunks_of: ChunkReader
                ) -> Callable[[dt.datetime, RDD[Any]], RDD[tuple[int, Any]]]:
    def pairs(t: dt.datetime, rdd: RDD[Any]) -> RDD[tuple[int, Any]]:
        return source(t, rdd).mapPartitions(lambda records: pairs_of(chunks_of(records)))
    return pairs


class StampedDStream(TransformedDStream[tuple[int, T]]):
    """The ``(event ms, record)`` pairs of an event-time stream, kept as a recipe: the
    *source* records (``source_func`` over ``prev``'s RDD: the records before
    ``withEventTime``) and ``chunks_of``, which reads them as stamped chunks (the timestamp
    function, then the steps of ``map``, ``filter``, ...). The windowed operators run the
    recipe in their map task (``source_rdd`` and ``chunks_of``); the pairs are made only for
    the stream's records as such.

    >>> from dstream import Context, StreamingContext
    >>> from dstream.streaming.testing import run_batches
    >>> with Context("local") as ctx:
    ...     ssc = StreamingContext(ctx, 1, clock="manual")
    ...     events = ssc.queueStream([[("a", 3.0)]]).withEventTime(lambda kv: kv[1], 1)
    ...     run_batches(ssc, events.stamped, 1), events.stamped.id
    ([[(3000, ('a', 3.0))]], 'queueStream-0.withEventTime')
    """

    def __init__(self, prev: DStream[Any], source_func: RDDFunc, chunks_of: ChunkReader,
                 chain: str) -> None:
        self.prev, self.chain = prev, chain
        self.source_func, self.chunks_of = source_func, chunks_of
        self.func = _pairs_from(source_func, chunks_of)
        DStream.__init__(self, prev._ssc, [prev], chain.rsplit(".", 1)[-1])

    @staticmethod
    def stamping(parent: DStream[Any], chunks_of: ChunkReader, op: str) -> StampedDStream[Any]:
        """``parent``'s records read by ``chunks_of`` (``parent``'s own folded operators run
        first, in the same pass)."""
        if isinstance(parent, TransformedDStream) and not (parent.is_cached or parent.is_checkpointed):
            return StampedDStream(parent.prev, parent.func, chunks_of, f"{parent.chain}.{op}")
        return StampedDStream(parent, _same, chunks_of, op)

    def then(self, step: ChunkStep, op: str) -> StampedDStream[Any]:
        """These stamped records through ``step`` (an operator that keeps event time)."""
        if self.is_cached or self.is_checkpointed:
            return StampedDStream(self, _same, then(unzip_chunks, step), op)
        return StampedDStream(self.prev, self.source_func, then(self.chunks_of, step),
                              f"{self.chain}.{op}")

    def source_rdd(self, time_ms: int) -> RDD[Any] | None:
        """The batch's source records (``chunks_of`` reads them), or None without a batch."""
        if self.is_cached or self.is_checkpointed:
            raise ValueError(f"{self.id}: a cached stamped stream is read as pairs")
        rdd = self.prev._get_or_compute(time_ms)
        if rdd is None:
            return None
        return _checked_rdd(self.source_func(batch_datetime(time_ms), rdd), self)


class EventTimeDStream(TransformedDStream[T]):
    """A stream whose records carry their event time (``withEventTime``).

    Its RDDs hold the records as they are; ``stamped`` is the stream of ``(event ms,
    record)`` pairs behind them (the event-time operators read its recipe a chunk at a
    time, ``StampedDStream``).

    >>> from dstream import Context, StreamingContext
    >>> from dstream.streaming.testing import run_batches
    >>> with Context("local") as ctx:
    ...     ssc = StreamingContext(ctx, 1, clock="manual")
    ...     clicks = ssc.queueStream([[("a", 3.0)]]).withEventTime(lambda kv: kv[1], 1)
    ...     run_batches(ssc, clicks.mapValues(lambda t: t * 2), 1)
    [[('a', 6.0)]]
    """

    def __init__(self, stamped: StampedDStream[T], spec: EventTimeSpec) -> None:
        super().__init__(stamped, _strip, "events")
        self.stamped = stamped
        self.event_time = spec

    @staticmethod
    def stamp(parent: DStream[U], timestampFunc: Callable[[U], dt.datetime | float],
              spec: EventTimeSpec) -> EventTimeDStream[U]:
        """``parent``'s records with the event time ``timestampFunc`` gives each."""
        sid = parent.id
        chunks_of: ChunkReader = lambda records: stamp_chunks(records, timestampFunc, sid)
        stamped: StampedDStream[U] = StampedDStream.stamping(parent, chunks_of, "withEventTime")
        stamped._user(timestampFunc)
        return EventTimeDStream(stamped, spec)

    def _keep_time(self, op: str, step: ChunkStep, user: Callable[..., Any]
                   ) -> EventTimeDStream[Any]:
        stamped = self.stamped.then(step, op)
        stamped._user(user)
        return EventTimeDStream(stamped, self.event_time)

    def setName(self: E, name: str) -> E:
        """Name this stream (and its stamped records, ``<name>.stamped``) for stable ids."""
        self.stamped.setName(f"{name}.stamped")
        return super().setName(name)

    # -------------------------------------------------- narrow operators that keep event time
    def map(self, f: Callable[[T], U], preservesPartitioning: bool = False) -> EventTimeDStream[U]:
        return self._keep_time("map", map_step(f), f)

    def flatMap(self, f: Callable[[T], Iterable[U]], preservesPartitioning: bool = False
                ) -> EventTimeDStream[U]:
        return self._keep_time("flatMap", flat_map_step(f), f)

    def filter(self, f: Callable[[T], bool]) -> EventTimeDStream[T]:
        return self._keep_time("filter", filter_step(f), f)

    def mapValues(self: EventTimeDStream[tuple[K, V]], f: Callable[[V], U]
                  ) -> EventTimeDStream[tuple[K, U]]:
        return self._keep_time("mapValues", map_values_step(f), f)

    def flatMapValues(self: EventTimeDStream[tuple[K, V]], f: Callable[[V], Iterable[U]]
                      ) -> EventTimeDStream[tuple[K, U]]:
        return self._keep_time("flatMapValues", flat_map_values_step(f), f)

    # -------------------------------------------------- windows by event time
    def reduceByKeyAndEventWindow(self: EventTimeDStream[tuple[K, V]], func: Callable[[V, V], V],
                                  windowDuration: float, slideDuration: float | None = None,
                                  allowedLateness: float = 0, mode: str = "final",
                                  numPartitions: int | None = None
                                  ) -> EventWindowDStream[tuple[WindowKey[K], V], tuple[K, V]]:
        """Each key's values reduced with ``func`` per event-time window (tumbling, or
        sliding every ``slideDuration`` seconds): ``((key, windowStart, windowEnd), value)``."""
        from .event_windows import Aggregation, event_windows
        _check_function(self, func, "reduceByKeyAndEventWindow")
        return event_windows(self, "reduceByKeyAndEventWindow", Aggregation.reducing(func),
                             windowDuration, slideDuration, allowedLateness, mode, numPartitions,
                             func)

    def countByKeyAndEventWindow(self: EventTimeDStream[tuple[K, V]], windowDuration: float,
                                 slideDuration: float | None = None, allowedLateness: float = 0,
                                 mode: str = "final", numPartitions: int | None = None
                                 ) -> EventWindowDStream[tuple[WindowKey[K], int], tuple[K, V]]:
        """Records per key and event-time window: ``((key, windowStart, windowEnd), count)``."""
        from .event_windows import Aggregation, event_windows
        return event_windows(self, "countByKeyAndEventWindow", Aggregation.counting(),
                             windowDuration, slideDuration, allowedLateness, mode, numPartitions)

    def aggregateByKeyAndEventWindow(self: EventTimeDStream[tuple[K, V]], zeroValue: U,
                                     seqFunc: Callable[[U, V], U], combFunc: Callable[[U, U], U],
                                     windowDuration: float, slideDuration: float | None = None,
                                     allowedLateness: float = 0, mode: str = "final",
                                     numPartitions: int | None = None
                                     ) -> EventWindowDStream[tuple[WindowKey[K], U], tuple[K, V]]:
        """``aggregateByKey`` per event-time window: ``seqFunc`` adds a value to an
        accumulator that starts as a copy of ``zeroValue``, ``combFunc`` merges two (both
        may change their first argument in place)."""
        from .event_windows import Aggregation, event_windows
        _check_function(self, seqFunc, "aggregateByKeyAndEventWindow")
        _check_function(self, combFunc, "aggregateByKeyAndEventWindow")
        return event_windows(self, "aggregateByKeyAndEventWindow",
                             Aggregation.aggregating(zeroValue, seqFunc, combFunc),
                             windowDuration, slideDuration, allowedLateness, mode, numPartitions,
                             seqFunc, combFunc)

    def reduceByKeyAndSessionWindow(self: EventTimeDStream[tuple[K, V]], func: Callable[[V, V], V],
                                    gap: float, allowedLateness: float = 0,
                                    numPartitions: int | None = None
                                    ) -> EventWindowDStream[tuple[WindowKey[K], V], tuple[K, V]]:
        """Per key, records closer than ``gap`` seconds form a session; each session's
        values reduced with ``func``, emitted once it closes:
        ``((key, first record, last record + gap), value)``.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import operator, tempfile
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual"); ssc.checkpoint(tempfile.mkdtemp())
        ...     visits = ssc.queueStream([[("u", 1.0), ("u", 3.0)], [("u", 30.0)]])
        ...     pages = visits.withEventTime(lambda kv: kv[1], 0).mapValues(lambda t: 1)
        ...     sessions = pages.reduceByKeyAndSessionWindow(operator.add, 5)
        ...     [[(k, s.second, e.second, n) for (k, s, e), n in b] for b in run_batches(ssc, sessions, 2)]
        [[], [('u', 1, 8, 2)]]
        """
        from .event_windows import EventStateDStream, EventWindowDStream
        from .sessions import Sessions
        _check_function(self, func, "reduceByKeyAndSessionWindow")
        gap_ms = duration_ms(gap, f"{self.id}: reduceByKeyAndSessionWindow gap", allow_zero=False)
        lateness = duration_ms(allowedLateness, f"{self.id}: reduceByKeyAndSessionWindow allowedLateness")
        n = self._partitions(numPartitions)
        state = EventStateDStream(self, Sessions(gap_ms, lateness, func), n,
                                  "reduceByKeyAndSessionWindow")
        state._user(func)
        return EventWindowDStream(state)


def _check_function(stream: DStream[Any], func: object, op: str) -> None:
    if not callable(func):
        raise TypeError(f"{stream.id}: {op} needs a function, got {type(func).__name__} {func!r:.60}")
