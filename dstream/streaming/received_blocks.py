"""Received blocks: which blocks arrived, and which batch each was allocated to.

Receivers hand finished blocks to ``EngineBlockSink``: it writes them ahead to the log
(when enabled), stores them in the block manager at the stream's storage level, and then
records them here. At each batch time the job generator allocates every unallocated block
to that batch; the allocation is what recovery replays.

>>> tracker = ReceivedBlockTracker()
>>> tracker.add(ReceivedBlock(0, "input-0-0", 3, {}))
0
>>> [b.block_id for b in tracker.allocate(1000)[0]], tracker.allocate(2000)
(['input-0-0'], {})
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ReceivedBlock", "ReceivedBlockTracker"]


@dataclass
class ReceivedBlock:
    stream_id: int
    block_id: str
    num_records: int
    metadata: dict[str, Any] = field(default_factory=dict)
    #: where the block sits in the write-ahead log, when it was logged
    wal_pointer: Any = None


class ReceivedBlockTracker:
    """Unallocated blocks per stream, and the blocks of each batch."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._unallocated: dict[int, list[ReceivedBlock]] = {}
        self._batches: dict[int, dict[int, list[ReceivedBlock]]] = {}
        self._settled: dict[str, ReceivedBlock] = {}
        self.records_received = 0

    def add(self, block: ReceivedBlock) -> int:
        """Record a stored block; its place among its stream's unallocated blocks (the
        partition it will be in the next batch, unless that batch is cut meanwhile)."""
        with self._lock:
            waiting = self._unallocated.setdefault(block.stream_id, [])
            waiting.append(block)
            self.records_received += block.num_records
            self._lock.notify_all()
            return len(waiting) - 1

    def wait_for_records(self, total: int, timeout: float) -> bool:
        """Block until ``total`` records have arrived in all (True), or ``timeout`` seconds."""
        with self._lock:
            return self._lock.wait_for(lambda: self.records_received >= total, timeout)

    def allocate(self, time_ms: int) -> dict[int, list[ReceivedBlock]]:
        """Give every unallocated block to the batch of ``time_ms`` (idempotent per time)."""
        with self._lock:
            if time_ms in self._batches:
                return self._batches[time_ms]
            allocated = {sid: blocks for sid, blocks in self._unallocated.items() if blocks}
            self._unallocated = {}
            self._batches[time_ms] = allocated
            return allocated

    def restore_allocation(self, time_ms: int, blocks: dict[int, list[ReceivedBlock]]) -> None:
        """Recovery: the batch of ``time_ms`` gets exactly these blocks again."""
        with self._lock:
            self._batches[time_ms] = blocks

    def blocks_of(self, time_ms: int, stream_id: int) -> list[ReceivedBlock]:
        with self._lock:
            return list(self._batches.get(time_ms, {}).get(stream_id, ()))

    def has_unallocated(self) -> bool:
        with self._lock:
            return any(self._unallocated.values())

    def unallocated(self) -> list[ReceivedBlock]:
        with self._lock:
            return [b for blocks in self._unallocated.values() for b in blocks]

    def forget_batches(self, up_to_ms: int) -> list[ReceivedBlock]:
        """Drop the allocations of batches at or before ``up_to_ms``; return their blocks.
        Those that were logged stay on record as settled until their log segment is gone.

        >>> tracker = ReceivedBlockTracker()
        >>> tracker.add(ReceivedBlock(0, "input-0-0", 1, {}, wal_pointer="somewhere"))
        0
        >>> _ = tracker.allocate(1000)
        >>> [b.block_id for b in tracker.forget_batches(1000)], list(tracker.settled())
        (['input-0-0'], ['input-0-0'])
        """
        with self._lock:
            old = [t for t in self._batches if t <= up_to_ms]
            blocks = [b for t in old for per in self._batches.pop(t).values() for b in per]
            self._settled.update((b.block_id, b) for b in blocks if b.wal_pointer is not None)
            return blocks

    def settled(self) -> dict[str, ReceivedBlock]:
        """Logged blocks of forgotten batches, by id (a copy)."""
        with self._lock:
            return dict(self._settled)

    def restore_settled(self, block: ReceivedBlock) -> None:
        """Recovery: ``block`` was consumed by a batch the checkpoint saw complete."""
        with self._lock:
            self._settled[block.block_id] = block

    def drop_settled(self, segments: set[str]) -> int:
        """Forget settled blocks whose log segment was deleted; how many were dropped."""
        with self._lock:
            gone = [i for i, b in self._settled.items() if getattr(b.wal_pointer, "segment", None) in segments]
            for block_id in gone:
                del self._settled[block_id]
            return len(gone)

    def snapshot(self) -> tuple[dict[int, dict[int, list[ReceivedBlock]]], list[ReceivedBlock],
                                dict[str, ReceivedBlock]]:
        """``(batches, unallocated, settled)`` read together, under one lock."""
        with self._lock:
            batches = {t: {s: list(b) for s, b in per.items()} for t, per in self._batches.items()}
            unallocated = [b for blocks in self._unallocated.values() for b in blocks]
            return batches, unallocated, dict(self._settled)

    def drop_blocks(self, block_ids: set[str]) -> None:
        """Recovery: forget blocks that are lost (not in the write-ahead log)."""
        with self._lock:
            for per in self._batches.values():
                for stream_id in per:
                    per[stream_id] = [b for b in per[stream_id] if b.block_id not in block_ids]

    def allocated_batches(self) -> dict[int, dict[int, list[ReceivedBlock]]]:
        with self._lock:
            return {t: {s: list(b) for s, b in per.items()} for t, per in self._batches.items()}
