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
import math
import operator
from dataclasses import dataclass
from itertools import chain, islice, repeat
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from .dstream import DStream, TransformedDStream
from .durations import to_ms

if TYPE_CHECKING:
    from .event_windows import EventWindowDStream

__all__ = ["EventTimeDStream", "EventTimeSpec", "Watermark", "Chunk", "CHUNK", "event_ms",
           "window_starts", "ms_datetime", "duration_ms", "stamp_chunks", "unzip_chunks"]


def duration_ms(seconds: float, what: str, *, allow_zero: bool = True) -> int:
    """Seconds to whole milliseconds; zero allowed unless ``allow_zero`` is false.

    >>> duration_ms(0, "allowedLateness"), duration_ms(1.5, "gap")
    (0, 1500)
    """
    if allow_zero and not isinstance(seconds, bool) and isinstance(seconds, (int, float)) \
            and seconds == 0:
        return 0
    return to_ms(seconds, what)


def event_ms(value: Any) -> int:
    """An event time (a ``datetime``, naive meaning local time, or epoch seconds) in ms.

    >>> event_ms(1.25), event_ms(dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc))
    (1250, 0)
    """
    kind = type(value)
    if kind is float or kind is int:
        if kind is float and not math.isfinite(value):
            raise ValueError(f"an event time must be finite, got {value!r}")
        return round(value * 1000)
    if isinstance(value, dt.datetime):
        return round(value.timestamp() * 1000)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return event_ms(float(value))
    raise TypeError(f"an event time must be a datetime or epoch seconds (int or float), "
                    f"got {kind.__name__} {value!r:.80}")


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


def _checked_ms(sid: str, value: Any, record: Any) -> int:
    try:
        return event_ms(value)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{sid}.withEventTime: the timestamp function gave a bad event time for "
                      f"record {record!r:.120}: {e}") from e


# ---------------------------------------------------------------------- records in chunks
#: Records per chunk: enough for C-speed passes (``map``, ``sorted``, ``Counter``) to pay off,
#: few enough that a chunk is freed before the garbage collector promotes it to an old
#: generation (a whole batch held at once makes the collector walk it again and again).
CHUNK = 1024

Chunk = tuple[list[int], list[Any]]       # (event ms of each record, the records)

_time_of = operator.itemgetter(0)          # of an (event ms, record) pair
_record_of = operator.itemgetter(1)


def stamp_chunks(records: Iterable[Any], timestampFunc: Callable[[Any], Any], sid: str
                 ) -> Iterator[Chunk]:
    """``records`` in chunks with the event time ``timestampFunc`` gives each, in ms.

    >>> [(ms, len(rs)) for ms, rs in stamp_chunks([("a", 1.5), ("b", 2)], lambda r: r[1], "s")]
    [([1500, 2000], 2)]
    """
    it = iter(records)
    while chunk := list(islice(it, CHUNK)):
        times = list(map(timestampFunc, chunk))
        yield _times_ms(sid, times, chunk), chunk


def _times_ms(sid: str, times: list[Any], records: list[Any]) -> list[int]:
    if set(map(type, times)) <= {float, int}:             # the common case, at C speed
        try:
            return list(map(round, map(operator.mul, times, repeat(1000))))
        except (OverflowError, ValueError):                  # inf or nan: say which
            pass
    return [_checked_ms(sid, x, r) for x, r in zip(times, records)]


def unzip_chunks(stamped: Iterable[tuple[int, Any]]) -> Iterator[Chunk]:
    """``(event ms, record)`` pairs in chunks.

    >>> list(unzip_chunks([(1000, "a"), (2000, "b")]))
    [([1000, 2000], ['a', 'b'])]
    """
    it = iter(stamped)
    while chunk := list(islice(it, CHUNK)):
        yield list(map(_time_of, chunk)), list(map(_record_of, chunk))


# ---------------------------------------------------------------------- the stream
def _strip(_time: Any, rdd: Any) -> Any:
    return rdd.map(_record_of, True)



class EventTimeDStream(TransformedDStream):
    """A stream whose records carry their event time (``withEventTime``).

    Its RDDs hold the records as they are; ``stamped`` is the stream of ``(event ms,
    record)`` pairs the event-time operators read (a chunk at a time, ``unzip_chunks``).

    >>> from dstream import Context, StreamingContext
    >>> from dstream.streaming.testing import run_batches
    >>> with Context("local") as ctx:
    ...     ssc = StreamingContext(ctx, 1, clock="manual")
    ...     clicks = ssc.queueStream([[("a", 3.0)]]).withEventTime(lambda kv: kv[1], 1)
    ...     run_batches(ssc, clicks.mapValues(lambda t: t * 2), 1)
    [[('a', 6.0)]]
    """

    def __init__(self, stamped: DStream, spec: EventTimeSpec) -> None:
        super().__init__(stamped, _strip, "events")
        self.stamped = stamped
        self.event_time = spec

    @staticmethod
    def stamp(parent: DStream, timestampFunc: Callable[[Any], Any], spec: EventTimeSpec
              ) -> EventTimeDStream:
        """``parent``'s records with the event time ``timestampFunc`` gives each."""
        sid = parent.id

        def stamp_all(_split: int, records: Iterator[Any]) -> Iterator[tuple[int, Any]]:
            chunks = stamp_chunks(records, timestampFunc, sid)
            return chain.from_iterable(zip(times, batch) for times, batch in chunks)

        # (event ms, record) pairs are not partitioned by their first element: no partitioner
        stamped = parent._narrow("withEventTime", stamp_all, False, timestampFunc)
        return EventTimeDStream(stamped, spec)

    def _keep_time(self, op: str, f: Callable[[Iterator[tuple[int, Any]]], Iterable[Any]],
                   user: Callable[..., Any]) -> EventTimeDStream:
        stamped = self.stamped._narrow(op, lambda _, it: f(it), False, user)
        return EventTimeDStream(stamped, self.event_time)

    def setName(self, name: str) -> DStream:
        """Name this stream (and its stamped records, ``<name>.stamped``) for stable ids."""
        self.stamped.setName(f"{name}.stamped")
        return super().setName(name)

    # -------------------------------------------------- narrow operators that keep event time
    def map(self, f: Callable[[Any], Any], preservesPartitioning: bool = False) -> EventTimeDStream:
        return self._keep_time("map", lambda it: ((t, f(r)) for t, r in it), f)

    def flatMap(self, f: Callable[[Any], Iterable[Any]], preservesPartitioning: bool = False
                ) -> EventTimeDStream:
        return self._keep_time("flatMap", lambda it: ((t, x) for t, r in it for x in f(r)), f)

    def filter(self, f: Callable[[Any], bool]) -> EventTimeDStream:
        return self._keep_time("filter", lambda it: ((t, r) for t, r in it if f(r)), f)

    def mapValues(self, f: Callable[[Any], Any]) -> EventTimeDStream:
        return self._keep_time("mapValues", lambda it: ((t, (r[0], f(r[1]))) for t, r in it), f)

    def flatMapValues(self, f: Callable[[Any], Iterable[Any]]) -> EventTimeDStream:
        return self._keep_time("flatMapValues",
                               lambda it: ((t, (r[0], x)) for t, r in it for x in f(r[1])), f)

    # -------------------------------------------------- windows by event time
    def reduceByKeyAndEventWindow(self, func: Callable[[Any, Any], Any], windowDuration: float,
                                  slideDuration: float | None = None, allowedLateness: float = 0,
                                  mode: str = "final", numPartitions: int | None = None
                                  ) -> EventWindowDStream:
        """Each key's values reduced with ``func`` per event-time window (tumbling, or
        sliding every ``slideDuration`` seconds): ``((key, windowStart, windowEnd), value)``."""
        from .event_windows import Aggregation, event_windows
        _check_function(self, func, "reduceByKeyAndEventWindow")
        return event_windows(self, "reduceByKeyAndEventWindow", Aggregation.reducing(func),
                             windowDuration, slideDuration, allowedLateness, mode, numPartitions,
                             func)

    def countByKeyAndEventWindow(self, windowDuration: float, slideDuration: float | None = None,
                                 allowedLateness: float = 0, mode: str = "final",
                                 numPartitions: int | None = None) -> EventWindowDStream:
        """Records per key and event-time window: ``((key, windowStart, windowEnd), count)``."""
        from .event_windows import Aggregation, event_windows
        return event_windows(self, "countByKeyAndEventWindow", Aggregation.counting(),
                             windowDuration, slideDuration, allowedLateness, mode, numPartitions)

    def aggregateByKeyAndEventWindow(self, zeroValue: Any, seqFunc: Callable[[Any, Any], Any],
                                     combFunc: Callable[[Any, Any], Any], windowDuration: float,
                                     slideDuration: float | None = None, allowedLateness: float = 0,
                                     mode: str = "final", numPartitions: int | None = None
                                     ) -> EventWindowDStream:
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

    def reduceByKeyAndSessionWindow(self, func: Callable[[Any, Any], Any], gap: float,
                                    allowedLateness: float = 0, numPartitions: int | None = None
                                    ) -> EventWindowDStream:
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


def _check_function(stream: DStream, func: Any, op: str) -> None:
    if not callable(func):
        raise TypeError(f"{stream.id}: {op} needs a function, got {type(func).__name__} {func!r:.60}")
