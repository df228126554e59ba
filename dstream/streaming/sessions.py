"""Session windows by event time: per key, records closer than ``gap`` form one session
``[first record, last record + gap)``; a record arriving out of order can join two sessions.

Lateness is decided from the record's own time: a record is late when its event time is
below the watermark after the previous batch minus ``allowedLateness``. A session closes in
the first batch whose watermark reaches its end plus ``allowedLateness``; a record that is not
late can never touch a session that was already emitted, so each session is emitted once.

>>> merge_sessions([(0, 0, 1), (12, 12, 1), (5, 5, 1)], 10, lambda a, b: a + b)
[(0, 12, 3)]
>>> merge_sessions([(0, 0, 1), (10, 10, 1)], 10, lambda a, b: a + b)
[(0, 0, 1), (10, 10, 1)]
"""

from __future__ import annotations

import heapq
from typing import Any, Callable, Iterator

from .event_state import EventRoute, KeyedState
from .event_time import Chunk, ms_datetime

__all__ = ["Sessions", "merge_sessions"]

Session = tuple[int, int, Any]          # (first ms, last ms, accumulator)


def merge_sessions(sessions: list[Session], gap: int, func: Callable[[Any, Any], Any]
                   ) -> list[Session]:
    """Sessions of one key merged where a record is closer than ``gap`` to the next one."""
    sessions.sort(key=lambda s: (s[0], s[1]))
    out: list[Session] = []
    first, last, acc = sessions[0]
    for s_first, s_last, s_acc in sessions[1:]:
        if s_first < last + gap:
            last = max(last, s_last)
            acc = func(acc, s_acc)
        else:
            out.append((first, last, acc))
            first, last, acc = s_first, s_last, s_acc
    out.append((first, last, acc))
    return out


class SessionState:
    """Open sessions ``{key: [session, ...]}`` and a heap of the session ends (ms) with the
    keys that have a session ending there, so closing visits only the sessions that close."""

    __slots__ = ("sessions", "ends", "by_end")

    def __init__(self, sessions: dict[Any, list[Session]], ends: list[int],
                 by_end: dict[int, frozenset[Any]]) -> None:
        self.sessions, self.ends, self.by_end = sessions, ends, by_end

    def __reduce__(self) -> tuple[type[SessionState], tuple[dict[Any, list[Session]], list[int],
                                                             dict[int, frozenset[Any]]]]:
        return (SessionState, (self.sessions, self.ends, self.by_end))


class Sessions:
    """The strategy of ``reduceByKeyAndSessionWindow`` (see ``event_state.py``)."""

    def __init__(self, gap: int, lateness: int, func: Callable[[Any, Any], Any]) -> None:
        self.gap, self.lateness, self.func = gap, lateness, func

    def pre_aggregate(self, chunks: Iterator[Chunk], wm: int | None, route: EventRoute
                      ) -> tuple[list[tuple[Any, Any]], int | None, int]:
        limit = None if wm is None else wm - self.lateness
        entries: list[tuple[Any, Any]] = []
        max_event, count = None, 0
        for times, records in chunks:
            count += len(times)
            top = max(times)
            if max_event is None or top > max_event:
                max_event = top
            for t, (k, v) in zip(times, records):
                entries.append((k, (None, (t, v)) if limit is not None and t < limit else (t, v)))
        return entries, max_event, count

    def merge(self, previous: SessionState | None, entries: Iterator[tuple[Any, Any]],
              wm_before: int | None, wm_after: int | None) -> KeyedState:
        sessions = dict(previous.sessions) if previous else {}
        ends = list(previous.ends) if previous else []
        by_end = dict(previous.by_end) if previous else {}
        late: list[tuple[int, Any]] = []
        arrived: dict[Any, list[Session]] = {}
        for k, (t, x) in entries:
            if t is None:
                late.append((x[0], (k, x[1])))
            else:
                arrived.setdefault(k, []).append((t, t, x))
        gap = self.gap
        for k, new in arrived.items():
            old = sessions.get(k, [])
            merged = merge_sessions(old + new, gap, self.func)
            sessions[k] = merged
            kept = {(s[0], s[1]) for s in old}
            for s in merged:
                if (s[0], s[1]) not in kept:
                    self._index(ends, by_end, s[1] + gap, k)
        emitted: list[Any] = []
        if wm_after is not None:
            self._close(sessions, ends, by_end, wm_after - self.lateness, emitted)
        return KeyedState(SessionState(sessions, ends, by_end), emitted, late)

    @staticmethod
    def _index(ends: list[int], by_end: dict[int, frozenset[Any]], end: int, key: Any) -> None:
        keys = by_end.get(end)
        if keys is None:
            heapq.heappush(ends, end)
            by_end[end] = frozenset((key,))
        elif key not in keys:
            by_end[end] = keys | {key}

    def _close(self, sessions: dict[Any, list[Session]], ends: list[int],
               by_end: dict[int, frozenset[Any]], limit: int, emitted: list[Any]) -> None:
        gap = self.gap
        while ends and ends[0] <= limit:
            for k in by_end.pop(heapq.heappop(ends)):
                current = sessions.get(k)
                if not current:
                    continue
                still = []
                for first, last, acc in current:
                    if last + gap <= limit:
                        emitted.append(((k, ms_datetime(first), ms_datetime(last + gap)), acc))
                    else:
                        still.append((first, last, acc))
                if still:
                    sessions[k] = still
                else:
                    del sessions[k]

    def open_count(self, state: SessionState) -> int:
        return sum(len(s) for s in state.sessions.values())
