"""Event time on a stream: timestamps carried with records, window assignment, the watermark.

``stream.withEventTime(timestampFunc, maxOutOfOrderness)`` gives an ``EventTimeDStream``: its
records are the stream's own, and each carries the event time ``timestampFunc(record)`` gave
(a ``datetime`` or epoch seconds, kept as whole milliseconds). ``map``, ``flatMap``,
``filter``, ``mapValues`` and ``flatMapValues`` keep each record's event time; every other
operator gives an ordinary stream. The streams are in ``dstream.py``; this module holds the
event-time arithmetic they use.

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
from typing import Iterable

from .durations import to_ms
from .event_chunks import CHUNK, Chunk, event_ms, stamp_chunks, unzip_chunks

__all__ = ["EventTimeSpec", "Watermark", "Chunk", "CHUNK", "event_ms", "window_starts", "ms_datetime",
           "duration_ms", "stamp_chunks", "unzip_chunks"]


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
