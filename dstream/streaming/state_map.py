"""One partition of ``mapWithState``'s state, updated in place batch after batch.

A ``StateMap`` holds ``key -> (state, last update ms)`` for one partition and the *version*
(batch time) its contents are at. A batch advances it from the previous version to its own
by changing only the keys it touches, so a batch costs what it touches, not the state's size.
Each advance keeps an undo record (the entries its keys had before), so:

* a retried task (the batch ran, or failed half-way) rolls the batch back before running
  it again: updates are never applied twice;
* the recent versions stay readable (``StateVersion.items()``) while later batches run, until
  the stream forgets them (``forget_through``);
* the keys changed since the last checkpoint are known (``dirty``): a checkpoint writes
  those only (``state_checkpoints``).

>>> m = StateMap(version=0)
>>> with m.advance(0, 1) as batch:
...     batch.put("a", (1, 1)); batch.put("b", (2, 1))
>>> with m.advance(1, 2) as batch:
...     batch.put("a", (5, 2)); batch.remove("b")
>>> sorted(StateVersion(m, 2).items()), sorted(StateVersion(m, 1).items())
([('a', (5, 2))], [('a', (1, 1)), ('b', (2, 1))])
>>> with m.advance(1, 2) as batch:        # batch 2 again (a retried task): rolled back first
...     batch.put("c", (3, 2))
>>> sorted(StateVersion(m, 2).items())
[('a', (1, 1)), ('b', (2, 1)), ('c', (3, 2))]
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any, Callable, Hashable, Iterator

__all__ = ["StateMap", "StateVersion", "StateVersionGone", "Entry"]

#: one key's state and the batch time it was last updated at
Entry = tuple[Any, int]
_ABSENT: Any = object()


class StateVersionGone(RuntimeError):
    """A version of the state that is no longer held (older than what the stream remembers)."""


class _Undo:
    """What one advance changed: the previous entry of each key it touched (``_ABSENT`` for a
    new key) and the keys it made dirty."""

    __slots__ = ("version", "previous", "old", "newly_dirty")

    def __init__(self, version: int, previous: int | None) -> None:
        self.version, self.previous = version, previous
        self.old: dict[Hashable, Any] = {}
        self.newly_dirty: list[Hashable] = []


class StateMap:
    """``key -> (state, last update ms)`` of one partition, with its recent versions."""

    def __init__(self, entries: dict[Hashable, Entry] | None = None, version: int | None = None,
                 dirty: set[Hashable] | None = None, checkpointed: int | None = None,
                 ordered: bool = True) -> None:
        self._data: dict[Hashable, Entry] = entries if entries is not None else {}
        #: the batch time the contents are at (None: before the first batch)
        self.version = version
        #: keys changed since version ``checkpointed`` (None: never checkpointed)
        self.dirty: set[Hashable] = dirty if dirty is not None else set()
        self.checkpointed = checkpointed
        self._undo: list[_Undo] = []          # oldest first, each one's previous is the one before
        #: False after a rollback (or when built from a copy): not in last-update order
        self._time_ordered = ordered
        self._lock = threading.RLock()

    def __len__(self) -> int:
        return len(self._data)

    # ------------------------------------------------------------------ advancing
    def can_advance(self, previous: int | None, version: int) -> bool:
        """True when this map is at ``previous``, or at ``version`` made from ``previous``
        (then ``advance`` rolls that back first).

        >>> m = StateMap(version=1)
        >>> m.can_advance(1, 2), m.can_advance(0, 1)
        (True, False)
        """
        with self._lock:
            return self.version == previous or self._redoable(previous, version)

    def _redoable(self, previous: int | None, version: int) -> bool:
        return (self.version == version and bool(self._undo)
                and self._undo[-1].version == version and self._undo[-1].previous == previous)

    def advance(self, previous: int | None, version: int) -> Advance:
        """A context manager that makes ``version`` from ``previous`` in place; the map is
        locked meanwhile, and an exception rolls every change back. ``StateVersionGone``
        when the map holds neither (``can_advance``).

        >>> m = StateMap({"a": (1, 1)}, version=1)
        >>> try:
        ...     with m.advance(1, 2) as batch:
        ...         batch.put("a", (2, 2)); raise ValueError("the function failed")
        ... except ValueError:
        ...     pass
        >>> m.version, m.items_at(1)
        (1, [('a', (1, 1))])
        """
        self._lock.acquire()
        try:
            if self._redoable(previous, version):
                self._rollback(self._undo.pop())
            if self.version != previous:
                raise StateVersionGone(f"the state is at batch {self.version}, not {previous}")
        except BaseException:
            self._lock.release()
            raise
        undo = _Undo(version, previous)
        self._undo.append(undo)
        return Advance(self, undo)

    def _rollback(self, undo: _Undo) -> None:
        data = self._data
        for k, old in undo.old.items():
            if old is _ABSENT:
                data.pop(k, None)
            else:
                data[k] = old
        if undo.old:
            self._time_ordered = False
        self.dirty.difference_update(undo.newly_dirty)
        self.version = undo.previous

    def expired(self, threshold_ms: int) -> list[tuple[Hashable, Entry]]:
        """Entries last updated before ``threshold_ms``, oldest first: only those are read
        (entries are kept in last-update order), unless a rollback disturbed the order.

        >>> StateMap({"a": (1, 1000), "b": (1, 3000)}, version=3000).expired(2000)
        [('a', (1, 1000))]
        """
        with self._lock:
            if not self._time_ordered:
                self._data = dict(sorted(self._data.items(), key=lambda kv: kv[1][1]))
                self._time_ordered = True
            found = []
            for k, entry in self._data.items():
                if entry[1] >= threshold_ms:
                    break
                found.append((k, entry))
            return found

    # ------------------------------------------------------------------ versions
    def items_at(self, version: int | None) -> list[tuple[Hashable, Entry]]:
        """Every ``(key, entry)`` at ``version`` (the current one or a remembered older one).

        >>> m = StateMap(version=0)
        >>> with m.advance(0, 1) as batch:
        ...     batch.put("a", (1, 1))
        >>> m.items_at(1), m.items_at(0)
        ([('a', (1, 1))], [])
        """
        with self._lock:
            if version == self.version:
                return list(self._data.items())
            overlay = self._overlay(version)
            items = [(k, e) for k, e in self._data.items() if k not in overlay]
            items.extend((k, e) for k, e in overlay.items() if e is not _ABSENT)
            return items

    def dirty_at(self, version: int | None) -> set[Hashable]:
        """The keys changed since the last checkpoint, as of ``version``.

        >>> m = StateMap(version=0)
        >>> with m.advance(0, 1) as batch:
        ...     batch.put("a", (1, 1))
        >>> m.dirty_at(1), m.dirty_at(0)
        ({'a'}, set())
        """
        with self._lock:
            dirty = set(self.dirty)
            for undo in self._newer_than(version):
                dirty.difference_update(undo.newly_dirty)
            return dirty

    def _newer_than(self, version: int | None) -> list[_Undo]:
        """The undo records that lead from the current version back to ``version``."""
        chain = []
        at = self.version
        for undo in reversed(self._undo):
            if at == version:
                break
            if undo.version != at:
                break
            chain.append(undo)
            at = undo.previous
        if at != version:
            raise StateVersionGone(
                f"the state of batch {version} is no longer held (the partition is at batch "
                f"{self.version}; older batches are kept only while the stream remembers them)")
        return chain

    def _overlay(self, version: int | None) -> dict[Hashable, Any]:
        overlay: dict[Hashable, Any] = {}
        for undo in self._newer_than(version):        # newest first: the oldest record wins
            overlay.update(undo.old)
        return overlay

    def forget_through(self, version: int) -> None:
        """Versions up to ``version`` will not be read again: drop what kept them readable.

        >>> m = StateMap(version=0)
        >>> with m.advance(0, 1) as batch:
        ...     batch.put("a", (1, 1))
        >>> m.forget_through(1); m.can_advance(0, 1)      # batch 1 can no longer be redone
        False
        """
        with self._lock:
            self._undo = [u for u in self._undo if u.version > version]

    def dump_at(self, version: int | None, dump: Callable[[dict[Hashable, Entry]], bytes]) -> bytes:
        """``dump(entries at version)``, done under the lock (no copy of the current version).

        >>> StateMap({"a": (1, 1)}, version=1).dump_at(1, lambda entries: repr(entries).encode())
        b"{'a': (1, 1)}"
        """
        with self._lock:
            if version == self.version:
                return dump(self._data)
            return dump(dict(self.items_at(version)))

    def changes(self) -> tuple[dict[Hashable, Entry], list[Hashable]]:
        """The entries changed and the keys removed since the last checkpoint (``dirty``).

        >>> m = StateMap({"a": (1, 1), "b": (2, 1)}, version=1)
        >>> with m.advance(1, 2) as batch:
        ...     batch.put("a", (5, 2)); batch.remove("b")
        >>> m.changes()
        ({'a': (5, 2)}, ['b'])
        """
        with self._lock:
            data = self._data
            changed = {k: data[k] for k in self.dirty if k in data}
            return changed, [k for k in self.dirty if k not in data]

    def mark_checkpointed(self, version: int) -> None:
        """The contents at ``version`` (the current one) are saved: dirty starts afresh.

        >>> m = StateMap(version=0)
        >>> with m.advance(0, 1) as batch:
        ...     batch.put("a", (1, 1))
        >>> m.mark_checkpointed(1); m.changes(), m.checkpointed
        (({}, []), 1)
        """
        with self._lock:
            if version != self.version:
                raise StateVersionGone(f"the state is at batch {self.version}, not {version}")
            self.dirty = set()
            self.checkpointed = version
            for undo in self._undo:       # rolling back past a checkpoint cannot reset dirty
                undo.newly_dirty = []


class Advance:
    """The changes of one batch to a ``StateMap`` (see ``StateMap.advance``)."""

    __slots__ = ("_map", "_undo", "_data", "_old", "_dirty")

    def __init__(self, state_map: StateMap, undo: _Undo) -> None:
        self._map, self._undo = state_map, undo
        self._data, self._old, self._dirty = state_map._data, undo.old, state_map.dirty

    def get(self, key: Hashable) -> Entry | None:
        return self._data.get(key)

    def _touch(self, key: Hashable) -> None:
        if key not in self._old:
            self._old[key] = self._data.get(key, _ABSENT)
            if key not in self._dirty:
                self._dirty.add(key)
                self._undo.newly_dirty.append(key)

    def put(self, key: Hashable, entry: Entry, move_to_end: bool = False) -> None:
        """Set ``key``'s entry; ``move_to_end`` keeps last-update order (for timeouts)."""
        self._touch(key)
        if move_to_end:
            self._data.pop(key, None)
        self._data[key] = entry

    def remove(self, key: Hashable) -> None:
        if key in self._data:
            self._touch(key)
            del self._data[key]

    def expired(self, threshold_ms: int) -> list[tuple[Hashable, Entry]]:
        """``StateMap.expired`` (which may reorder the entries) within this batch."""
        found = self._map.expired(threshold_ms)
        self._data = self._map._data
        return found

    def __enter__(self) -> Advance:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        state_map = self._map
        try:
            if exc_type is None:
                state_map.version = self._undo.version
            else:
                state_map._undo.pop()
                state_map._rollback(self._undo)
        finally:
            state_map._lock.release()


class StateVersion:
    """One version of a partition's state, as a stream's RDD partition holds it. Pickled (to
    another process) it is the plain entries of that version.

    >>> import pickle
    >>> m = StateMap({"a": (1, 5)}, version=5)
    >>> copy = pickle.loads(pickle.dumps(StateVersion(m, 5)))
    >>> copy.items(), copy.state_map is m
    ([('a', (1, 5))], False)
    """

    __slots__ = ("state_map", "version")

    def __init__(self, state_map: StateMap, version: int | None) -> None:
        self.state_map, self.version = state_map, version

    def items(self) -> list[tuple[Hashable, Entry]]:
        return self.state_map.items_at(self.version)

    def __iter__(self) -> Iterator[Hashable]:
        return (k for k, _ in self.items())

    def __reduce__(self) -> tuple[Any, ...]:
        m = self.state_map
        with m._lock:
            ordered = m._time_ordered and self.version == m.version
            return (_rebuilt, (dict(self.items()), self.version, m.dirty_at(self.version),
                               m.checkpointed, ordered))


def _rebuilt(entries: dict[Hashable, Entry], version: int | None, dirty: set[Hashable],
             checkpointed: int | None, ordered: bool) -> StateVersion:
    return StateVersion(StateMap(entries, version, dirty, checkpointed, ordered), version)
