"""Windowed aggregations by event time: tumbling and sliding windows (sessions are in
``sessions.py``; the streams that run them, ``EventStateDStream`` and ``EventWindowDStream``,
are in ``dstream.py``).

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
from itertools import compress, groupby, islice, repeat
from typing import Any, Callable, Iterable, Iterator

from .event_open import count_new_keys, distinct_keys, new_keys, open_windows
from .event_state import Bucket, EventRoute, KeyedState, Strategy
from .event_running import RunningCounts
from .event_time import Chunk, ms_datetime, window_starts

__all__ = ["Strategy", "Aggregation", "Windows", "FinalWindows", "PaneState", "MODES"]

MODES = ("final", "update")


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
_value = operator.itemgetter(1)


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

    def pre_aggregate(self, chunks: Iterator[Chunk], wm: int | None, route: EventRoute
                      ) -> tuple[list[tuple[Any, Any]], int | None, int]:
        """Each key's records combined per pane, and the records of panes with a closed
        window set aside as late: ``(entries, largest event time, records)``, one entry per
        key partition (``Bucket``: its panes' accumulators and late records). Counting, a
        chunk is counted at C speed (``_count_chunk``); other aggregations group a chunk by
        pane (its positions sorted by pane), without a tuple per record.
        """
        g = self.pane
        closed = None if wm is None else wm - self.lateness    # windows ending here are closed
        status: dict[int, int] = {}                             # pane number -> _pane_status
        late: list[tuple[Any, Any]] = []
        groups: dict[int, dict[Any, Any]] = {}
        max_event, count = None, 0
        for times, records in chunks:
            count += len(times)
            read = _pane_runs(times, g) if self.agg.counts else None
            if read is not None:
                runs, top = read
                self._count_runs(groups, runs, times, records, status, closed, late)
            else:
                self._by_record(groups, times, records, status, closed, late)
                top = max(times)
            if max_event is None or top > max_event:
                max_event = top
        shares: list[tuple[dict[int, dict[Any, Any]], list[Any]]] = [
            ({}, []) for _ in range(route.keyed)]
        for p, group in groups.items():
            if status[p] != 2:
                for share, part in zip(shares, route.split(group)):
                    if part:
                        share[0][p * g] = part
        for t, record in late:
            shares[route.partition_of(record[0])][1].append((t, record))
        return [(Bucket(i), share) for i, share in enumerate(shares) if share != ({}, [])], \
            max_event, count

    def _by_record(self, groups: dict[int, dict[Any, Any]], times: list[int],
                   records: list[Any], status: dict[int, int], closed: int | None,
                   late: list[tuple[Any, Any]]) -> None:
        """A chunk combined into ``groups`` record by record (at C speed where it can), the
        records of panes with a closed window added to ``late``."""
        panes = list(map(operator.floordiv, times, repeat(self.pane)))
        seen = set(panes)
        for p in seen - status.keys():
            status[p] = self._pane_status(p * self.pane, closed)
        lost = {p for p in seen if status[p]}
        if lost:
            for i in compress(range(len(panes)), map(lost.__contains__, panes)):
                late.append((times[i], records[i]))
        if self.agg.counts:     # all counted; the panes whose windows all closed dropped later
            _count_chunk(groups, panes, seen, records)
        else:
            self._combine_chunk(groups, panes, records, status)

    def _count_runs(self, groups: dict[int, dict[Any, Any]], runs: list[tuple[int, int, int]],
                    times: list[int], records: list[Any], status: dict[int, int],
                    closed: int | None, late: list[tuple[Any, Any]]) -> None:
        """A counting chunk given as runs of records in one pane (``_pane_runs``): each run's
        keys counted at C speed, the records of panes with a closed window added to
        ``late``, those of panes whose windows all closed not counted."""
        for p, begin, end in runs:
            state = status.get(p)
            if state is None:
                state = status[p] = self._pane_status(p * self.pane, closed)
            part = records[begin:end]
            if state:
                late.extend(zip(times[begin:end], part))
            if state != 2:
                counter = groups.get(p)
                if counter is None:
                    counter = groups[p] = Counter()
                counter.update(map(_key, part))

    def _combine_chunk(self, groups: dict[int, dict[Any, Any]], panes: list[int],
                       records: list[Any], status: dict[int, int]) -> None:
        """A chunk's records combined into ``groups`` (per pane number), but those of panes
        whose windows all closed."""
        create, add = self.agg.create, self.agg.add
        for p, grouped in groupby(sorted(range(len(panes)), key=panes.__getitem__),
                                  panes.__getitem__):
            if status[p] == 2:
                continue
            group = groups.setdefault(p, {})
            for k, v in map(records.__getitem__, grouped):
                group[k] = add(group[k], v) if k in group else create(v)

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


#: a chunk is read as runs (``_pane_runs``) when half of its first records share their time
_PROBE = 16


def _pane_runs(times: list[int], g: int) -> tuple[list[tuple[int, int, int]], int] | None:
    """``(pane number, begin, end)`` of each run of consecutive records in one pane, and the
    largest time, when the records come in runs of equal times (stamped per line, a
    ``flatMap`` giving the words their line's time): found at C speed from where the time
    changes, without a pane per record. None for other chunks (a pane per record costs less
    there).

    >>> _pane_runs([5, 5, 5, 7, 7, 12, 12, 12], 10)
    ([(0, 0, 5), (1, 5, 8)], 12)
    >>> _pane_runs(list(range(20)), 10) is None
    True
    """
    n, head = len(times), times[:_PROBE]
    if len(set(head)) * 2 > len(head):
        return None
    changes = list(compress(range(1, n), map(operator.ne, islice(times, 1, None), times)))
    if len(changes) * 4 > n:
        return None
    firsts = [0, *changes]                       # where each run of equal times begins
    panes = list(map(operator.floordiv, map(times.__getitem__, firsts), repeat(g)))
    cuts = [0, *compress(range(1, len(panes)), map(operator.ne, islice(panes, 1, None), panes))]
    bounds = [*map(firsts.__getitem__, cuts), n]
    runs = list(zip(map(panes.__getitem__, cuts), bounds, islice(bounds, 1, None)))
    return runs, max(map(times.__getitem__, firsts))


def _count_chunk(counts: dict[int, dict[Any, Any]], panes: list[int], seen: set[int],
                 records: list[Any]) -> None:
    """The keys of a chunk's ``(key, value)`` ``records`` counted into ``counts`` (per pane
    number). Most records of a chunk lie in one pane: its keys are picked out and counted at
    C speed, the few others counted one by one.

    >>> counts = {}
    >>> _count_chunk(counts, [7, 7, 6, 7], {6, 7}, [("a", 1), ("b", 1), ("a", 1), ("a", 1)])
    >>> counts
    {7: Counter({'a': 2, 'b': 1}), 6: Counter({'a': 1})}
    """
    main = panes[-1]
    if len(seen) > 1 and panes.count(main) * 2 < len(panes):
        main = max(seen, key=panes.count)
    counter = counts.get(main)
    if counter is None:
        counter = counts[main] = Counter()      # Counter.update counts at C speed
    if len(seen) == 1:
        counter.update(map(_key, records))
        return
    elsewhere = list(map(operator.ne, panes, repeat(main)))
    counter.update(map(_key, compress(records, map(operator.not_, elsewhere))))
    for (k, _v), p in zip(compress(records, elsewhere), compress(panes, elsewhere)):
        other = counts.get(p)
        if other is None:
            other = counts[p] = Counter()
        other[k] = other.get(k, 0) + 1                   # no Counter.__missing__ call


def _canonical(arrived: dict[int, list[tuple[Any, Any]]], known: dict[Any, Any]
               ) -> dict[int, list[tuple[Any, Any]]]:
    """``arrived`` with each key replaced by the equal key object of ``known`` where there is
    one. The panes of the state then share their key objects, and a pickle writes each once
    (the state of a sliding word count pickles and loads in about half the time).

    >>> a, b = "".join(["k", "1"]), "".join(["k", "1"])
    >>> _canonical({0: [(b, 2)]}, {a: 1})[0][0][0] is a
    True
    """
    get = dict(zip(known, known)).get
    return {p: list(zip(map(get, _keys(items), _keys(items)), map(_value, items)))
            for p, items in arrived.items()}


def _keys(items: list[tuple[Any, Any]]) -> Iterator[Any]:
    return map(_key, items)


def _by_pane(entries: Iterator[tuple[Any, Any]]
             ) -> tuple[list[tuple[int, Any]], dict[int, list[tuple[Any, Any]]]]:
    """A batch's shuffled shares (``Bucket`` entries): the late ``(ms, record)``s, and
    ``{pane: [(key, acc)]}``.

    >>> _by_pane(iter([(Bucket(0), ({0: {"a": 1}}, [(5, ("b", 2))])),
    ...                (Bucket(0), ({0: {"c": 3}}, []))]))
    ([(5, ('b', 2))], {0: [('a', 1), ('c', 3)]})
    """
    late: list[tuple[int, Any]] = []
    panes: dict[int, list[tuple[Any, Any]]] = {}
    for _bucket, (groups, share_late) in entries:
        late.extend(share_late)
        for p, part in groups.items():
            if p in panes:
                panes[p].extend(part.items())
            else:
                panes[p] = list(part.items())
    return late, panes


class PaneState:
    """The open panes ``{pane start: {key: accumulator}}`` of ``FinalWindows``, how many
    (key, window) pairs they hold that are still open, for counting sliding windows the next
    window to close as a running count (``event_running.py``), and the number of distinct
    keys per window start (``event_open.py``; None in a state saved before it was kept: it is
    then counted afresh from the panes)."""

    __slots__ = ("panes", "open_windows", "running", "distinct")

    def __init__(self, panes: dict[int, dict[Any, Any]], open_windows: int,
                 running: RunningCounts | None = None,
                 distinct: dict[int, int] | None = None) -> None:
        self.panes, self.open_windows, self.running = panes, open_windows, running
        self.distinct = distinct

    def __reduce__(self) -> tuple[type[PaneState], tuple[dict[int, dict[Any, Any]], int,
                                                        RunningCounts | None,
                                                        dict[int, int] | None]]:
        return (PaneState, (self.panes, self.open_windows, self.running, self.distinct))


class FinalWindows(Windows):
    """``mode="final"``: the state is the panes themselves, so a record costs one pane update
    whatever the number of windows it falls in; a window is combined from its panes once, in
    the batch that closes it. A pane leaves the state when the last window holding it closes.
    Counting windows of three panes or more run on from one window to the next (subtracting
    the panes that leave, adding those that come) instead of summing each from all its panes.

    >>> w = FinalWindows(10_000, 5_000, 0, "final", Aggregation.counting())
    >>> share = ({0: {"a": 2}, 5_000: {"a": 1}}, [])
    >>> state = w.merge(None, iter([(Bucket(0), share)]), None, 12_000)
    >>> sorted((k, s.timestamp(), e.timestamp(), n) for (k, s, e), n in state.emitted)
    [('a', -5.0, 5.0, 2), ('a', 0.0, 10.0, 3)]
    >>> sorted(state.open.panes), state.open.open_windows
    ([5000], 1)
    """

    def __init__(self, size: int, slide: int, lateness: int, mode: str, agg: Aggregation) -> None:
        super().__init__(size, slide, lateness, mode, agg)
        #: windows are counted on from the previous one (``RunningCounts``)
        self.runs = agg.counts and size // self.pane >= 3

    # its state is a PaneState where Windows keeps dicts (Strategy types the state as Any)
    def merge(self, previous: PaneState | None,  # type: ignore[override]
              entries: Iterator[tuple[Any, Any]],
              wm_before: int | None, wm_after: int | None) -> KeyedState:
        late, arrived = _by_pane(entries)
        panes = dict(previous.panes) if previous else {}
        running = previous.running.copy() if previous and previous.running else None
        distinct = self._distinct_before(previous)
        if self.runs:
            known = running.counts if running else panes[max(panes)] if panes else {}
            arrived = _canonical(arrived, known)
        for p, items in arrived.items():
            old = panes.get(p)
            count_new_keys(distinct, panes, p, new_keys(items, old), self.size, self.slide)
            panes[p] = bucket = dict(old) if old else {}     # the previous state stays intact
            self._add_pane(bucket, items, self.agg, False)
            if running is not None and running.covers(p, self.size):
                running.add(items)
        emitted: list[Any] = []
        limit = None if wm_after is None else wm_after - self.lateness
        if limit is not None:
            done = None if wm_before is None else wm_before - self.lateness   # closed before
            for s in self._starts(panes):
                if s + self.size <= limit and (done is None or s + self.size > done):
                    window = (ms_datetime(s), ms_datetime(s + self.size))
                    if self.runs:
                        running = self._running_at(panes, s, running)
                        values = running.counts
                    else:
                        values = self._combined(self._members(panes, s))
                    emitted.extend(zip(zip(values, *map(repeat, window)), values.values()))
            if running is not None and running.start + self.size <= limit:
                running.move_to(running.start + self.slide, panes, self.size, self.pane)
            for p in [p for p in panes if p - p % self.slide + self.size <= limit]:
                del panes[p]                                  # its last window has closed
        state = PaneState(panes, open_windows(distinct, self.size, limit), running, distinct)
        return KeyedState(state, emitted, late)

    def _distinct_before(self, previous: PaneState | None) -> dict[int, int]:
        """The distinct keys per window of the previous state, to change."""
        if previous is None:
            return {}
        if previous.distinct is None:                # saved before it was kept
            return distinct_keys(previous.panes, self.size, self.slide)
        return dict(previous.distinct)

    def _running_at(self, panes: dict[int, dict[Any, Any]], s: int, running: RunningCounts | None
                    ) -> RunningCounts:
        """The running window moved on to the window at ``s`` (or summed there afresh)."""
        if running is None or running.start > s:
            return RunningCounts.summed(s, panes, self.size, self.pane)
        running.move_to(s, panes, self.size, self.pane)
        return running

    def _starts(self, panes: dict[int, dict[Any, Any]]) -> list[int]:
        """Starts of the windows holding at least one of ``panes``, earliest first."""
        return sorted({s for p in panes for s in window_starts(p, self.size, self.slide)})

    def _members(self, panes: dict[int, dict[Any, Any]], s: int) -> list[dict[Any, Any]]:
        return [panes[p] for p in sorted(panes) if s <= p < s + self.size]

    def _combined(self, members: list[dict[Any, Any]]) -> dict[Any, Any]:
        """One window's accumulator per key from its panes (which stay unchanged); the
        first pane copied at C speed unless accumulators may change in place."""
        if not members:
            return {}
        out: dict[Any, Any] = {} if self.agg.copies else dict(members[0])
        for pane in members if self.agg.copies else members[1:]:
            self._add_pane(out, pane.items(), self.agg, True)
        return out

    def open_count(self, state: PaneState) -> int:  # type: ignore[override]  # as merge
        return state.open_windows
