"""A write-ahead log of timed records in rolling segments on a checkpoint store.

Each record carries its time (ms), so replay returns it and cleaning can drop
whole segments that only hold old records. Segments are store logs named
``{name_prefix}/{start_ms:020d}`` after the time of their first record; a
write whose time is ``roll_interval_s`` or more past the current segment's
start opens a new one. Each record is durable when ``write`` returns (the
store's ``append`` guarantees it).

>>> import tempfile
>>> from dstream.checkpoint.disk import DiskStore
>>> wal = WriteAheadLog(DiskStore(tempfile.mkdtemp()), "wal/receiver-0", roll_interval_s=1)
>>> wal.write(b"block-a", 0)
SegmentPointer(segment='wal/receiver-0/00000000000000000000', index=0, time_ms=0)
>>> wal.write(b"block-b", 1500).segment
'wal/receiver-0/00000000000000001500'
>>> list(wal.read_all())
[(0, b'block-a'), (1500, b'block-b')]
>>> wal.clean(older_than_ms=1000)
>>> list(wal.read_all())
[(1500, b'block-b')]
>>> wal.close()
"""

from __future__ import annotations

import re
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from dstream.checkpoint.errors import CheckpointNotFoundError, CorruptCheckpointError
from dstream.checkpoint.store import CheckpointStore, OnCorrupt, validate_name

_TIME = struct.Struct(">q")
_SEGMENT = re.compile(r"\d{20}")


@dataclass(frozen=True)
class SegmentPointer:
    """Where :meth:`WriteAheadLog.write` put a record: segment name, index in it, and time.

    >>> SegmentPointer("wal/r0/00000000000000001000", 3, 1200).index
    3
    """

    segment: str
    index: int
    time_ms: int


class WriteAheadLog:
    """Append timed records to ``store`` under ``name_prefix``; replay and clean them.

    Thread-safe. ``close`` does not close ``store``, which the caller owns.
    ``on_corrupt(name, error)`` is told about torn segment tails dropped on
    reading (default: the store's own report).

    >>> import tempfile
    >>> from dstream.checkpoint.disk import DiskStore
    >>> store = DiskStore(tempfile.mkdtemp())
    >>> wal = WriteAheadLog(store, "wal/r0")
    >>> pointer = wal.write(b"x", 10)
    >>> wal.read(pointer)
    b'x'
    >>> WriteAheadLog(store, "wal/r0").segments()  # a restarted log sees the same segments
    ['wal/r0/00000000000000000010']
    """

    def __init__(
        self,
        store: CheckpointStore,
        name_prefix: str,
        roll_interval_s: float = 60,
        *,
        on_corrupt: OnCorrupt | None = None,
    ) -> None:
        if not isinstance(roll_interval_s, (int, float)) or not roll_interval_s > 0:
            raise ValueError(f"roll_interval_s must be a number > 0, got {roll_interval_s!r}")
        self.store = store
        self.name_prefix = validate_name(name_prefix)
        self.roll_interval_ms = max(1, round(roll_interval_s * 1000))
        self._on_corrupt = on_corrupt
        self._lock = threading.Lock()
        self._current: str | None = None
        self._current_start = 0
        self._current_count = 0
        self._newest: dict[str, int] = {}
        self._counts: dict[str, int] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"WriteAheadLog({self.store!r}, {self.name_prefix!r})"

    def segment_name(self, start_ms: int) -> str:
        """The store name of the segment that starts at ``start_ms``.

        >>> import tempfile
        >>> from dstream.checkpoint.disk import DiskStore
        >>> WriteAheadLog(DiskStore(tempfile.mkdtemp()), "wal/r0").segment_name(2000)
        'wal/r0/00000000000000002000'
        """
        return f"{self.name_prefix}/{start_ms:020d}"

    def segments(self) -> list[str]:
        """Names of the stored segments, oldest first.

        >>> import tempfile
        >>> from dstream.checkpoint.disk import DiskStore
        >>> wal = WriteAheadLog(DiskStore(tempfile.mkdtemp()), "wal/r0", roll_interval_s=1)
        >>> for t in (0, 500, 1000):
        ...     _ = wal.write(b"x", t)
        >>> wal.segments()
        ['wal/r0/00000000000000000000', 'wal/r0/00000000000000001000']
        """
        head = self.name_prefix + "/"
        return [n for n in self.store.list(head) if _SEGMENT.fullmatch(n[len(head) :])]

    def write(self, record: bytes, time_ms: int) -> SegmentPointer:
        """Append ``record`` with its time; returns where it went. Durable on return.

        >>> import tempfile
        >>> from dstream.checkpoint.disk import DiskStore
        >>> wal = WriteAheadLog(DiskStore(tempfile.mkdtemp()), "wal/r0")
        >>> first, second = wal.write(b"a", 5), wal.write(b"b", 7)
        >>> second
        SegmentPointer(segment='wal/r0/00000000000000000005', index=1, time_ms=7)
        """
        if not isinstance(time_ms, int) or isinstance(time_ms, bool) or time_ms < 0:
            raise ValueError(f"time_ms must be an int >= 0, got {time_ms!r}")
        if not isinstance(record, (bytes, bytearray, memoryview)):
            raise TypeError(f"record must be bytes, got {type(record).__name__}")
        with self._lock:
            self._check_open()
            segment = self._current
            if segment is None or time_ms >= self._current_start + self.roll_interval_ms:
                segment = self._open_segment(time_ms)
            self.store.append(segment, _TIME.pack(time_ms) + bytes(record))
            index = self._current_count
            self._current_count += 1
            self._counts[segment] = self._current_count
            self._newest[segment] = max(self._newest.get(segment, time_ms), time_ms)
        return SegmentPointer(segment, index, time_ms)

    def read_all(self) -> Iterator[tuple[int, bytes]]:
        """Yield ``(time_ms, record)`` for every record, segment by segment in write order.

        >>> import tempfile
        >>> from dstream.checkpoint.disk import DiskStore
        >>> wal = WriteAheadLog(DiskStore(tempfile.mkdtemp()), "wal/r0", roll_interval_s=1)
        >>> for t in (0, 1500, 1600):
        ...     _ = wal.write(b"at %d" % t, t)
        >>> list(wal.read_all())
        [(0, b'at 0'), (1500, b'at 1500'), (1600, b'at 1600')]
        """
        self._check_open()
        for segment in self.segments():
            for time_ms, record in self._read_segment(segment):
                yield time_ms, record

    def read_with_pointers(self) -> Iterator[tuple[SegmentPointer, bytes]]:
        """Yield ``(pointer, record)`` for every record, in write order; the pointers are the
        ones :meth:`write` returned, so a replayed record is addressed like a fresh one.

        >>> import tempfile
        >>> from dstream.checkpoint.disk import DiskStore
        >>> wal = WriteAheadLog(DiskStore(tempfile.mkdtemp()), "wal/r0", roll_interval_s=1)
        >>> written = [wal.write(b"at %d" % t, t) for t in (0, 1500)]
        >>> [p for p, _ in wal.read_with_pointers()] == written
        True
        """
        self._check_open()
        for segment in self.segments():
            records = self._read_segment(segment)
            with self._lock:
                if segment != self._current:
                    self._counts[segment] = len(records)
            for index, (time_ms, record) in enumerate(records):
                yield SegmentPointer(segment, index, time_ms), record

    @property
    def current_segment(self) -> str | None:
        """The segment writes go to now (never deleted by :meth:`delete_segment`)."""
        return self._current

    def record_count(self, segment: str) -> int:
        """How many records ``segment`` holds (read once, then kept up to date by writes).

        >>> import tempfile
        >>> from dstream.checkpoint.disk import DiskStore
        >>> wal = WriteAheadLog(DiskStore(tempfile.mkdtemp()), "wal/r0")
        >>> _ = wal.write(b"a", 0); _ = wal.write(b"b", 1)
        >>> wal.record_count("wal/r0/00000000000000000000")
        2
        """
        with self._lock:
            self._check_open()
            if segment not in self._counts:
                if not self.store.exists(segment):
                    return 0
                self._counts[segment] = len(self._read_segment(segment))
            return self._counts[segment]

    def delete_segment(self, segment: str) -> bool:
        """Delete one segment, unless writes still go to it; True when it was deleted.

        >>> import tempfile
        >>> from dstream.checkpoint.disk import DiskStore
        >>> wal = WriteAheadLog(DiskStore(tempfile.mkdtemp()), "wal/r0", roll_interval_s=1)
        >>> old, new = wal.write(b"a", 0).segment, wal.write(b"b", 1000).segment
        >>> wal.delete_segment(new), wal.delete_segment(old), wal.segments() == [new]
        (False, True, True)
        """
        with self._lock:
            self._check_open()
            if segment == self._current:
                return False
            self.store.delete(segment)
            self._newest.pop(segment, None)
            self._counts.pop(segment, None)
            return True

    def read(self, pointer: SegmentPointer) -> bytes:
        """Return the record that ``pointer`` points to.

        Raises :class:`~checkpoint.errors.CheckpointNotFoundError` when its
        segment was cleaned or it was lost in a torn tail.

        >>> import tempfile
        >>> from dstream.checkpoint.disk import DiskStore
        >>> wal = WriteAheadLog(DiskStore(tempfile.mkdtemp()), "wal/r0")
        >>> wal.read(wal.write(b"block", 10))
        b'block'
        """
        self._check_open()
        records = self._read_segment(pointer.segment)
        if pointer.index >= len(records):
            raise CheckpointNotFoundError(
                pointer.segment,
                f"write-ahead log segment {pointer.segment!r} has {len(records)} records, "
                f"no record {pointer.index}",
            )
        time_ms, record = records[pointer.index]
        if time_ms != pointer.time_ms:
            raise CorruptCheckpointError(
                pointer.segment,
                f"record {pointer.index} has time {time_ms} ms, pointer says {pointer.time_ms} ms",
            )
        return record

    def clean(self, older_than_ms: int) -> None:
        """Delete every segment whose newest record is older than ``older_than_ms``.

        >>> import tempfile
        >>> from dstream.checkpoint.disk import DiskStore
        >>> wal = WriteAheadLog(DiskStore(tempfile.mkdtemp()), "wal/r0", roll_interval_s=1)
        >>> for t in (0, 999, 1000):
        ...     _ = wal.write(b"x", t)
        >>> wal.clean(999); len(wal.segments())
        2
        >>> wal.clean(1000); wal.segments()
        ['wal/r0/00000000000000001000']
        """
        with self._lock:
            self._check_open()
            for segment in self.segments():
                newest = self._newest.get(segment)
                if newest is None:
                    times = [t for t, _ in self._read_segment(segment)]
                    newest = max(times, default=int(segment.rsplit("/", 1)[1]))
                    self._newest[segment] = newest
                if newest < older_than_ms:
                    self.store.delete(segment)
                    self._newest.pop(segment, None)
                    self._counts.pop(segment, None)
                    if segment == self._current:
                        self._current = None

    def close(self) -> None:
        """Stop accepting writes (the store stays open).

        >>> import tempfile
        >>> from dstream.checkpoint.disk import DiskStore
        >>> store = DiskStore(tempfile.mkdtemp())
        >>> wal = WriteAheadLog(store, "wal/r0"); _ = wal.write(b"x", 0); wal.close()
        >>> WriteAheadLog(store, "wal/r0").read_all().__next__()
        (0, b'x')
        """
        with self._lock:
            self._closed = True
            self._current = None

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self!r} is closed")

    def _open_segment(self, start_ms: int) -> str:
        name = self.segment_name(start_ms)
        # A restarted log may reuse a segment name; continue after its records.
        existing = self._read_segment(name) if self.store.exists(name) else []
        self._current = name
        self._current_start = start_ms
        self._current_count = len(existing)
        self._counts[name] = len(existing)
        if existing:
            self._newest[name] = max(t for t, _ in existing)
        return name

    def _read_segment(self, segment: str) -> list[tuple[int, bytes]]:
        out = []
        for index, raw in enumerate(self.store.read_log(segment, self._on_corrupt)):
            if len(raw) < _TIME.size:
                raise CorruptCheckpointError(
                    segment, f"record {index} is {len(raw)} bytes, shorter than its time stamp"
                )
            out.append((_TIME.unpack_from(raw)[0], raw[_TIME.size :]))
        return out
