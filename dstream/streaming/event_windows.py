"""Windowed aggregations by event time: tumbling and sliding windows (sessions are in
``sessions.py``), and the streams that run them.

Order within a batch (as in Structured Streaming): a record is late for a window when the
watermark *after the previous batch* reached the window's end plus ``allowedLateness``; a
window closes in the first batch whose own watermark (after the batch's records) reaches its
end plus ``allowedLateness``. ``mode="final"`` emits a window once, when it closes;
``mode="update"`` emits it in every batch that changed its value, until it closes.

>>> from dstream import Context, StreamingContext
>>> from dstream.streaming.testing import run_batches
>>> import tempfile
>>> with Context("local") as ctx:
...     ssc = StreamingContext(ctx, 1, clock="manual"); ssc.checkpoint(tempfile.mkdtemp())
...     clicks = ssc.queueStream([[("a", 1.0), ("a", 4.0)], [("a", 12.0)]])
...     counts = clicks.withEventTime(lambda kv: kv[1], 0).countByKeyAndEventWindow(10)
...     [[(k, s.second, e.second, n) for (k, s, e), n in b] for b in run_batches(ssc, counts, 2)]
[[], [('a', 0, 10, 2)]]
"""

from __future__ import annotations

import copy
import math
import operator
from collections import Counter
from itertools import groupby, repeat
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Protocol

from ..accumulators import Accumulator
from ..rdd import RDD
from ..rdd_kinds import ShuffledRDD
from .dstream import DStream, TransformedDStream
from .event_state import EventRoute, EventStateRDD, KeyedState, PreAggregateRDD, StatsParam
from .event_time import Chunk, EventTimeDStream, Watermark, duration_ms, ms_datetime, window_starts
from .stateful import _StatefulDStream

if TYPE_CHECKING:
    from .scheduler import JobSet

__all__ = ["Strategy", "Aggregation", "Windows", "FinalWindows", "PaneState", "EventStateDStream",
           "EventWindowDStream", "event_windows"]

MODES = ("final", "update")


class Strategy(Protocol):
    """What an event-time operator does on each side of its batch shuffle."""

    def pre_aggregate(self, chunks: Iterator[Chunk], wm: int | None
                      ) -> tuple[list[tuple[Any, Any]], int | None, int]: ...

    def merge(self, previous: Any, entries: Iterator[tuple[Any, Any]], wm_before: int | None,
              wm_after: int | None) -> KeyedState: ...

    def open_count(self, state: Any) -> int: ...


class Aggregation:
    """``create(v)``, ``add(acc, v)`` and ``combine(acc, acc)``; with ``copies`` an
    accumulator is deep-copied before a function that may change it in place gets it.

    >>> Aggregation.reducing(max).combine(3, 5)
    5
    """

    def __init__(self, create: Callable[[Any], Any], add: Callable[[Any, Any], Any],
                 combine: Callable[[Any, Any], Any], copies: bool, counts: bool = False) -> None:
        self.create, self.add, self.combine, self.copies = create, add, combine, copies
        #: counting records: the map side adds 1 per record without a function call
        self.counts = counts

    @staticmethod
    def reducing(func: Callable[[Any, Any], Any]) -> Aggregation:
        return Aggregation(_identity, func, func, False)

    @staticmethod
    def counting() -> Aggregation:
        return Aggregation(_one, _plus_one, operator.add, False, counts=True)

    @staticmethod
    def aggregating(zero: Any, seq: Callable[[Any, Any], Any], comb: Callable[[Any, Any], Any]
                    ) -> Aggregation:
        return Aggregation(lambda v: seq(copy.deepcopy(zero), v), seq, comb, True)



_key = operator.itemgetter(0)


def _identity(v: Any) -> Any:
    return v


def _one(_v: Any) -> int:
    return 1


def _plus_one(acc: int, _v: Any) -> int:
    return acc + 1


class Windows:
    """Tumbling (``slide == size``) or sliding windows ``[start, start + size)`` in ms, kept
    whole: the strategy of ``mode="update"`` (``mode="final"`` runs ``FinalWindows``, which
    gives the same results from panes, with less work per record).

    The map side combines each key's records per *pane* (``gcd(size, slide)`` long, so that
    every record of a pane lies in the same windows): one update per record, whatever the
    overlap. The reduce side adds each pane into its open windows, kept as
    ``{start: {key: accumulator}}`` (update mode emits every window a batch changed, so it
    keeps them whole). A record is *late* when the first of its windows had closed; it still
    counts in those of its windows that are open.
    """

    def __init__(self, size: int, slide: int, lateness: int, mode: str, agg: Aggregation) -> None:
        self.size, self.slide, self.lateness, self.mode, self.agg = size, slide, lateness, mode, agg
        self.pane = math.gcd(size, slide)

    def _pane_status(self, pane: int, closed: int | None) -> int:
        """0: every window of the pane is open; 1: its first is closed (its records are
        late) but not its last; 2: all are closed."""
        if closed is None:
            return 0
        starts = window_starts(pane, self.size, self.slide)
        if starts[0] + self.size <= closed:
            return 2
        return 1 if starts[-1] + self.size <= closed else 0

    def pre_aggregate(self, chunks: Iterator[Chunk], wm: int | None
                      ) -> tuple[list[tuple[Any, Any]], int | None, int]:
        """Each key's records combined per pane, and the records of panes with a closed
        window as late entries: ``(entries, largest event time, records)``. A chunk is
        grouped by pane at C speed (its positions sorted by pane), without a tuple per record.
        """
        g = self.pane
        closed = None if wm is None else wm - self.lateness    # windows ending here are closed
        counts, create, add = self.agg.counts, self.agg.create, self.agg.add
        status: dict[int, int] = {}
        groups: dict[int, dict[Any, Any]] = {}
        late: list[tuple[Any, Any]] = []
        max_event, count = None, 0
        for times, records in chunks:
            count += len(times)
            top = max(times)
            if max_event is None or top > max_event:
                max_event = top
            panes = list(map(operator.sub, times, map(operator.mod, times, repeat(g))))
            for p, grouped in groupby(sorted(range(len(panes)), key=panes.__getitem__),
                                      panes.__getitem__):
                positions = list(grouped)
                if p not in status:
                    status[p] = self._pane_status(p, closed)
                if status[p]:
                    late.extend((records[i][0], (None, (times[i], records[i][1])))
                                for i in positions)
                    if status[p] == 2:
                        continue
                mine = map(records.__getitem__, positions)
                if counts:
                    groups.setdefault(p, Counter()).update(map(_key, mine))
                    continue
                group = groups.setdefault(p, {})
                for k, v in mine:
                    group[k] = add(group[k], v) if k in group else create(v)
        entries = late
        for p, group in groups.items():
            entries.extend([(k, (p, acc)) for k, acc in group.items()])
        return entries, max_event, count

    def merge(self, previous: dict[int, dict[Any, Any]] | None, entries: Iterator[tuple[Any, Any]],
              wm_before: int | None, wm_after: int | None) -> KeyedState:
        late, panes = _by_pane(entries)
        opened = dict(previous) if previous else {}
        copied: set[int] = set()
        changed: dict[tuple[int, Any], None] = {}
        size, agg = self.size, self.agg
        closed = None if wm_before is None else wm_before - self.lateness
        for p, items in panes.items():
            for i, s in enumerate(window_starts(p, size, self.slide)):
                if closed is not None and s + size <= closed:
                    break                                   # this and earlier windows closed
                if s in copied:
                    bucket = opened[s]
                else:
                    old = opened.get(s)
                    bucket = opened[s] = dict(old) if old else {}
                    copied.add(s)
                self._add_pane(bucket, items, agg, i > 0)
                changed.update(((s, k), None) for k, _x in items)
        emitted = [self._result(k, s, opened[s][k]) for s, k in changed]
        if wm_after is not None:
            limit = wm_after - self.lateness
            for s in sorted(opened):
                if s + self.size > limit:
                    break
                del opened[s]         # closed: emitted already, in the batches that changed it
        return KeyedState(opened, emitted, late)

    @staticmethod
    def _add_pane(bucket: dict[Any, Any], items: Iterable[tuple[Any, Any]], agg: Aggregation,
                  again: bool) -> None:
        """Each ``(key, accumulator)`` of a pane into one window's ``bucket``; ``again``:
        the accumulators went into another window already (copied if they may change)."""
        combine = agg.combine
        if agg.counts:
            get = bucket.get
            for k, x in items:
                bucket[k] = get(k, 0) + x
            return
        copies = agg.copies
        for k, x in items:
            if copies and again:
                x = copy.deepcopy(x)
            if k in bucket:
                bucket[k] = combine(copy.deepcopy(bucket[k]) if copies else bucket[k], x)
            else:
                bucket[k] = x

    def _result(self, k: Any, s: int, value: Any) -> tuple[tuple[Any, Any, Any], Any]:
        return (k, ms_datetime(s), ms_datetime(s + self.size)), value

    def open_count(self, state: dict[int, dict[Any, Any]]) -> int:
        return sum(len(b) for b in state.values())


def _by_pane(entries: Iterator[tuple[Any, Any]]
             ) -> tuple[list[tuple[int, Any]], dict[int, list[tuple[Any, Any]]]]:
    """A batch's shuffled entries: the late ``(ms, record)``s, and ``{pane: [(key, acc)]}``."""
    late: list[tuple[int, Any]] = []
    panes: dict[int, list[tuple[Any, Any]]] = {}
    for k, (p, x) in entries:
        if p is None:
            late.append((x[0], (k, x[1])))
        elif p in panes:
            panes[p].append((k, x))
        else:
            panes[p] = [(k, x)]
    return late, panes


class PaneState:
    """The open panes ``{pane start: {key: accumulator}}`` of ``FinalWindows``, and how many
    (key, window) pairs they hold that are still open."""

    __slots__ = ("panes", "open_windows")

    def __init__(self, panes: dict[int, dict[Any, Any]], open_windows: int) -> None:
        self.panes, self.open_windows = panes, open_windows

    def __reduce__(self) -> tuple:
        return (PaneState, (self.panes, self.open_windows))


class FinalWindows(Windows):
    """``mode="final"``: the state is the panes themselves, so a record costs one pane update
    whatever the number of windows it falls in; a window is combined from its panes once, in
    the batch that closes it. A pane leaves the state when the last window holding it closes.

    >>> w = FinalWindows(10_000, 5_000, 0, "final", Aggregation.counting())
    >>> state = w.merge(None, iter([("a", (0, 2)), ("a", (5_000, 1))]), None, 12_000)
    >>> sorted((k, s.timestamp(), e.timestamp(), n) for (k, s, e), n in state.emitted)
    [('a', -5.0, 5.0, 2), ('a', 0.0, 10.0, 3)]
    >>> sorted(state.open.panes), state.open.open_windows
    ([5000], 1)
    """

    def merge(self, previous: PaneState | None, entries: Iterator[tuple[Any, Any]],
              wm_before: int | None, wm_after: int | None) -> KeyedState:
        late, arrived = _by_pane(entries)
        panes = dict(previous.panes) if previous else {}
        for p, items in arrived.items():
            old = panes.get(p)
            panes[p] = bucket = dict(old) if old else {}     # the previous state stays intact
            self._add_pane(bucket, items, self.agg, False)
        emitted: list[Any] = []
        limit = None if wm_after is None else wm_after - self.lateness
        if limit is not None:
            done = None if wm_before is None else wm_before - self.lateness   # closed before
            for s in self._starts(panes):
                if s + self.size <= limit and (done is None or s + self.size > done):
                    window = (ms_datetime(s), ms_datetime(s + self.size))
                    values = self._combined(self._members(panes, s))
                    emitted.extend(((k, *window), v) for k, v in values.items())
            for p in [p for p in panes if p - p % self.slide + self.size <= limit]:
                del panes[p]                                  # its last window has closed
        return KeyedState(PaneState(panes, self._count_open(panes, limit)), emitted, late)

    def _starts(self, panes: dict[int, dict[Any, Any]]) -> list[int]:
        """Starts of the windows holding at least one of ``panes``, earliest first."""
        return sorted({s for p in panes for s in window_starts(p, self.size, self.slide)})

    def _members(self, panes: dict[int, dict[Any, Any]], s: int) -> list[dict[Any, Any]]:
        return [panes[p] for p in sorted(panes) if s <= p < s + self.size]

    def _combined(self, members: list[dict[Any, Any]]) -> dict[Any, Any]:
        """One window's accumulator per key from its panes (which stay unchanged)."""
        out: dict[Any, Any] = {}
        for pane in members:
            self._add_pane(out, pane.items(), self.agg, True)
        return out

    def _count_open(self, panes: dict[int, dict[Any, Any]], limit: int | None) -> int:
        """(key, window) pairs of the windows not closed by ``limit``.

        A pane's open windows are a run of consecutive ones, and a later pane's run ends no
        earlier: so, panes in time order, a key counts the windows of its pane past the last
        one it counted. A key that was in the pane before counted up to that pane's last
        window, a key never seen counted none: those are counted together (set operations,
        at C speed), the others one by one from ``reached``, each key's last window counted.
        """
        starts = [s for s in self._starts(panes) if limit is None or s + self.size > limit]
        index = {s: i for i, s in enumerate(starts)}
        reached: dict[Any, int] = {}
        total, before, before_last = 0, {}.keys(), -1
        for p in sorted(panes):
            run = [index[s] for s in window_starts(p, self.size, self.slide) if s in index]
            if not run:
                continue
            first, last = min(run), max(run)
            keys = panes[p].keys()
            total += len(keys & before) * max(0, last - max(before_last + 1, first) + 1)
            fresh = keys - before
            unseen = fresh - reached.keys()
            total += len(unseen) * (last - first + 1)
            for k in fresh - unseen:
                total += last - max(reached[k] + 1, first) + 1
            reached.update(dict.fromkeys(keys, last))
            before, before_last = keys, last
        return total

    def open_count(self, state: PaneState) -> int:
        return state.open_windows


# ---------------------------------------------------------------------- the streams
class EventStateDStream(_StatefulDStream):
    """The operator's state, one RDD of ``n + 1`` partitions per batch (``event_state.py``);
    checkpointed under its stable id like every stateful operator. After each batch it
    reports the watermark, open windows and late records to the batch's ``BatchInfo``."""

    def __init__(self, events: EventTimeDStream, strategy: Strategy, n: int, op: str) -> None:
        super().__init__(events.stamped, op, n)
        self.events_id = events.id
        self.strategy, self.spec, self.n = strategy, events.event_time, n
        self.stats: Accumulator = Accumulator({}, StatsParam())
        self._ssc._scheduler.before_complete.append(self._report)

    def _compute(self, time_ms: int) -> RDD | None:
        previous = self._get_or_compute(time_ms - self.slide_ms)
        if previous is not None and previous.getNumPartitions() != self.n + 1:
            raise ValueError(
                f"{self.id}: the saved state has {previous.getNumPartitions() - 1} key partitions "
                f"and this job asks for {self.n}: pass numPartitions={previous.getNumPartitions() - 1}"
                " to keep the state")
        batch = self.parents[0]._get_or_compute(time_ms) or self._sc.emptyRDD()
        shuffled = ShuffledRDD(PreAggregateRDD(batch, previous, self.strategy, self.n),
                               EventRoute(self.n))
        return EventStateRDD(previous, shuffled, self.strategy, self.n, time_ms, self.spec,
                             self.stats)

    def _report(self, jobset: JobSet) -> None:
        """Move this batch's statistics from the tasks into its ``BatchInfo``."""
        from .listener import EventTimeInfo
        with self.stats._lock:
            entries = self.stats._value
            mine = {split: v for (t, split), v in entries.items() if t == jobset.time_ms}
            for key in [key for key in entries if key[0] <= jobset.time_ms]:
                del entries[key]
        wm = mine.pop(self.n, None)
        if not isinstance(wm, Watermark):
            return
        late = sum(v[0] for v in mine.values())
        open_windows = sum(v[1] for v in mine.values())
        jobset.info.event_time[self.id] = EventTimeInfo(self.events_id, wm.watermark_ms, late,
                                                        open_windows)


class EventWindowDStream(TransformedDStream):
    """The results of an event-time windowed operator: ``((key, windowStart, windowEnd),
    value)`` with naive local datetimes; ``lateRecords()`` for the records it left out."""

    def __init__(self, state: EventStateDStream) -> None:
        super().__init__(state, _emitted, "windows")
        self.state = state

    def lateRecords(self) -> EventTimeDStream:
        """The records this operator left out as late, with their event times, per batch.

        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> import tempfile
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual"); ssc.checkpoint(tempfile.mkdtemp())
        ...     clicks = ssc.queueStream([[("a", 20.0)], [("b", 3.0)]])
        ...     counts = clicks.withEventTime(lambda kv: kv[1], 5).countByKeyAndEventWindow(10)
        ...     run_batches(ssc, counts.lateRecords(), 2)
        [[], [('b', 3.0)]]
        """
        stamped = TransformedDStream(self.state, _late, "lateRecords")
        return EventTimeDStream(stamped, self.state.spec)

    def checkpoint(self, interval: float) -> DStream:
        """Save the operator's state every ``interval`` seconds (a multiple of the batch
        duration; default: the smallest multiple at least 10 s)."""
        self.state.checkpoint(interval)
        return self

    def setName(self, name: str) -> DStream:
        """Name the results; the state is saved under ``<name>.state``."""
        self.state.setName(f"{name}.state")
        return super().setName(name)


def _emitted(_time: Any, rdd: RDD) -> RDD:
    return rdd.flatMap(_emitted_of)


def _emitted_of(record: Any) -> list[Any]:
    return record.emitted if type(record) is KeyedState else []


def _late(_time: Any, rdd: RDD) -> RDD:
    return rdd.flatMap(_late_of)


def _late_of(record: Any) -> list[Any]:
    return record.late if type(record) is KeyedState else []


def event_windows(events: EventTimeDStream, op: str, agg: Aggregation, windowDuration: float,
                  slideDuration: float | None, allowedLateness: float, mode: str,
                  numPartitions: int | None, *user_funcs: Callable[..., Any]) -> EventWindowDStream:
    """Build a tumbling or sliding event-time window operator (arguments checked here)."""
    size = duration_ms(windowDuration, f"{events.id}: {op} windowDuration", allow_zero=False)
    slide = size if slideDuration is None else duration_ms(
        slideDuration, f"{events.id}: {op} slideDuration", allow_zero=False)
    if slide > size:
        raise ValueError(f"{events.id}: {op} slideDuration ({slide / 1000:g} s) must not exceed "
                         f"windowDuration ({size / 1000:g} s)")
    lateness = duration_ms(allowedLateness, f"{events.id}: {op} allowedLateness")
    if mode not in MODES:
        raise ValueError(f"{events.id}: {op} mode must be 'final' or 'update', got {mode!r}")
    n = events._partitions(numPartitions)
    windows = (FinalWindows if mode == "final" else Windows)(size, slide, lateness, mode, agg)
    state = EventStateDStream(events, windows, n, op)
    state._user(*user_funcs)
    return EventWindowDStream(state)
