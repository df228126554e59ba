"""A running window of counts for sliding event-time windows (``countByKeyAndEventWindow``).

Counts can be subtracted, so the next window need not be summed from all its panes: it is the
previous window less the panes that leave it plus the panes that come in (two pane merges a
slide with 10 s / 1 s windows, instead of ten), as the batch-time ``reduceByKeyAndWindow``
does with an inverse function. The running window is kept equal to the sum of the panes it
covers: a batch's records for one of those panes are added to it as well.

>>> panes = {0: {"a": 1}, 1000: {"a": 2, "b": 1}, 2000: {"b": 5}}
>>> run = RunningCounts.summed(0, panes, 2000, 1000)
>>> run.counts
{'a': 3, 'b': 1}
>>> run.move_to(1000, panes, 2000, 1000); run.counts
{'a': 2, 'b': 6}
"""

from __future__ import annotations

from typing import Any, Iterable

__all__ = ["RunningCounts"]


class RunningCounts:
    """The counts per key of the window ``[start, start + size)``: the sum of its panes'."""

    __slots__ = ("start", "counts")

    def __init__(self, start: int, counts: dict[Any, int]) -> None:
        self.start, self.counts = start, counts

    def __reduce__(self) -> tuple[type[RunningCounts], tuple[int, dict[Any, int]]]:
        return (RunningCounts, (self.start, self.counts))

    @staticmethod
    def summed(start: int, panes: dict[int, dict[Any, int]], size: int, pane: int
               ) -> RunningCounts:
        """The window at ``start`` summed from ``panes`` (``pane`` ms long each)."""
        run = RunningCounts(start, {})
        run._add_panes(panes, start, start + size, pane)
        return run

    def copy(self) -> RunningCounts:
        """A copy to change (the previous batch's state stays as it was)."""
        return RunningCounts(self.start, dict(self.counts))

    def covers(self, p: int, size: int) -> bool:
        """True when the pane starting at ``p`` lies in this window."""
        return self.start <= p < self.start + size

    def add(self, items: Iterable[tuple[Any, int]]) -> None:
        """Counts ``(key, n)`` of a pane in this window, added."""
        counts = self.counts
        get = counts.get
        for k, n in items:
            counts[k] = get(k, 0) + n

    def move_to(self, start: int, panes: dict[int, dict[Any, int]], size: int, pane: int) -> None:
        """Slide on to the window at ``start`` (not before this one): the panes that leave
        subtracted (a key whose count reaches 0 dropped), those that come in added."""
        end = self.start + size
        if start >= end:                                  # no pane in common: sum afresh
            self.start, self.counts = start, {}
            self._add_panes(panes, start, start + size, pane)
            return
        counts = self.counts
        for p in range(self.start, start, pane):
            for k, n in panes.get(p, {}).items():
                left = counts[k] - n
                if left:
                    counts[k] = left
                else:
                    del counts[k]
        self._add_panes(panes, end, start + size, pane)
        self.start = start

    def _add_panes(self, panes: dict[int, dict[Any, int]], begin: int, end: int, pane: int) -> None:
        for p in range(begin, end, pane):
            if p in panes:
                if self.counts:
                    self.add(panes[p].items())
                else:
                    self.counts = dict(panes[p])          # at C speed
