"""Which logged blocks completed batches consumed, and when a log segment may go.

Exactly-once replay rests on one rule: every block in the write-ahead log is, in each
retained metadata checkpoint, either

- allocated to a batch the checkpoint lists (replayed into that batch),
- *settled*: consumed by a batch the checkpoint saw complete, and no longer needed by any
  window (skipped), or
- neither: no completed batch took it, so it is new data (replayed once, unallocated).

The checkpoint lists settled blocks per log segment for as long as the segment exists, and
a segment is deleted only when every retained checkpoint (so the oldest too) says each one
of its records is settled. So whichever retained checkpoint recovery reads, it can tell the fate of
every block the log still holds, for any run length, block, batch, checkpoint or segment
interval.

>>> from dstream.checkpoint.wal import SegmentPointer
>>> blocks = {f"input-0-{i}": ReceivedBlock(0, f"input-0-{i}", 1, {}, SegmentPointer("wal/s1", i, 0))
...           for i in (0, 1, 2, 5)}
>>> data = settled_to_data(blocks)
>>> data
{'wal/s1': [[0, 0, 2], [0, 5, 5]]}
>>> sorted(settled_ids(data))
['input-0-0', 'input-0-1', 'input-0-2', 'input-0-5']
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Union

from dstream.receivers.block_generator import parse_block_id

from .received_blocks import ReceivedBlock, ReceivedBlockTracker

__all__ = ["settled_to_data", "settled_ids", "settled_counts", "LogCleaner", "ledger_of",
           "ReplayPlan", "block_to_data"]

log = logging.getLogger(__name__)

#: per segment: ``[stream, first seq, last seq]`` ranges of ``input-STREAM-SEQ`` ids, or an
#: id as is when it does not have that form
SettledData = dict[str, list[Union[list[int], str]]]


def settled_to_data(settled: dict[str, ReceivedBlock]) -> SettledData:
    """Settled blocks as plain data, grouped by log segment, runs of ids as ranges."""
    by_segment: dict[str, list[str]] = {}
    for block in settled.values():
        segment = getattr(block.wal_pointer, "segment", None)
        if segment is not None:
            by_segment.setdefault(segment, []).append(block.block_id)
    return {segment: _ranges(ids) for segment, ids in sorted(by_segment.items())}


def _ranges(block_ids: list[str]) -> list[list[int] | str]:
    parsed: list[tuple[int, int]] = []
    others: list[list[int] | str] = []
    for block_id in block_ids:
        try:
            parsed.append(parse_block_id(block_id))
        except ValueError:
            others.append(block_id)
    out: list[list[int] | str] = []
    for stream, seq in sorted(parsed):
        last = out[-1] if out else None
        if isinstance(last, list) and last[0] == stream and last[2] + 1 == seq:
            last[2] = seq
        else:
            out.append([stream, seq, seq])
    return out + sorted(others, key=str)


def settled_ids(data: SettledData) -> set[str]:
    """Every block id ``data`` (from :func:`settled_to_data`) names.

    >>> sorted(settled_ids({"wal/s": [[1, 3, 4], "custom"]}))
    ['custom', 'input-1-3', 'input-1-4']
    """
    ids: set[str] = set()
    for entries in data.values():
        for entry in entries:
            if isinstance(entry, str):
                ids.add(entry)
            else:
                stream, first, last = entry
                ids.update(f"input-{stream}-{seq}" for seq in range(first, last + 1))
    return ids


def settled_counts(data: SettledData) -> dict[str, int]:
    """How many settled blocks each segment holds.

    >>> settled_counts({"wal/s": [[1, 3, 4], "custom"]})
    {'wal/s': 3}
    """
    return {segment: sum(1 if isinstance(e, str) else e[2] - e[1] + 1 for e in entries)
            for segment, entries in data.items()}


class LogCleaner:
    """Deletes a log segment once every retained checkpoint has all its records settled.

    ``saved(metadata)`` is called on the checkpoint writer thread right after each metadata
    generation is saved; ``take_cleaned()`` hands the batch thread the segments deleted since,
    so the next checkpoints stop listing their blocks.

    >>> import tempfile
    >>> from dstream.checkpoint.disk import DiskStore
    >>> from dstream.checkpoint.wal import WriteAheadLog
    >>> wal = WriteAheadLog(DiskStore(tempfile.mkdtemp()), "wal/r", roll_interval_s=1)
    >>> old = wal.write(b"a", 0).segment; _ = wal.write(b"b", 1000)
    >>> cleaner = LogCleaner(wal, retained=2)
    >>> cleaner.saved({"time_ms": 1, "settled": {old: [[0, 0, 0]]}})   # one generation: keep
    >>> cleaner.saved({"time_ms": 2, "settled": {old: [[0, 0, 0]]}})   # the oldest of 2 agrees
    >>> cleaner.take_cleaned() == {old}, wal.segments() == [wal.current_segment]
    (True, True)
    """

    def __init__(self, wal: Any, retained: int) -> None:
        self._wal = wal
        self._retained = max(1, retained)
        #: settled blocks per segment of each generation this process saved that the store
        #: still keeps (by the rule of ``save_generation``)
        self._generations: dict[int, dict[str, int]] = {}
        self._cleaned: set[str] = set()
        self._lock = threading.Lock()
        self.deleted_segments = 0

    def saved(self, metadata: dict[str, Any]) -> None:
        """A metadata generation was saved: clean what every retained one allows."""
        seq = int(metadata["time_ms"])
        self._generations[seq] = settled_counts(metadata.get("settled") or {})
        # save_generation keeps the one just saved and the newest ``retained - 1`` others
        others = sorted(t for t in self._generations if t != seq)
        for old in others[: max(0, len(others) - (self._retained - 1))]:
            del self._generations[old]
        if len(self._generations) < self._retained:
            return    # older generations this process did not write may still be read back
        generations = list(self._generations.values())
        for segment in set().union(*generations):
            settled = min(g.get(segment, 0) for g in generations)
            if segment == self._wal.current_segment:
                continue
            records = self._wal.record_count(segment)
            if records == 0 or settled < records:     # gone already, or a block not settled
                continue
            if self._wal.delete_segment(segment):
                self.deleted_segments += 1
                with self._lock:
                    self._cleaned.add(segment)
                log.debug("write-ahead log segment %s deleted: all %d blocks settled", segment, settled)

    def take_cleaned(self) -> set[str]:
        """Segments deleted since the last call."""
        with self._lock:
            cleaned, self._cleaned = self._cleaned, set()
            return cleaned


def block_to_data(b: ReceivedBlock) -> dict[str, Any]:
    """A block as plain data; ``wal`` is ``[segment, index, time]`` of its log record.

    >>> block_to_data(ReceivedBlock(0, "input-0-3", 2, {}))["id"]
    'input-0-3'
    """
    p = b.wal_pointer
    pointer = None if p is None else [p.segment, p.index, p.time_ms]
    return {"stream": b.stream_id, "id": b.block_id, "records": b.num_records,
            "metadata": b.metadata, "wal": pointer}


def ledger_of(tracker: ReceivedBlockTracker, cleaned: set[str]) -> dict[str, Any]:
    """The checkpoint's account of received blocks, read at one instant: blocks of each
    remembered batch (``allocated``), blocks no batch took yet (``unallocated``, for the
    record) and the logged blocks of forgotten batches (``settled``), once the settled blocks
    of the segments in ``cleaned`` (deleted) are dropped.

    >>> tracker = ReceivedBlockTracker()
    >>> tracker.add(ReceivedBlock(0, "input-0-0", 1, {}))
    0
    >>> sorted(ledger_of(tracker, set()))
    ['allocated', 'settled', 'unallocated']
    """
    tracker.drop_settled(cleaned)
    batches, unallocated, settled = tracker.snapshot()
    return {
        "allocated": {t: [block_to_data(b) for blocks in per.values() for b in blocks]
                      for t, per in batches.items()},
        "unallocated": [block_to_data(b) for b in unallocated],
        # logged blocks completed batches consumed: never replayed as new data
        "settled": settled_to_data(settled),
    }


class ReplayPlan:
    """What recovery does with each logged block, by a checkpoint's ledger.

    ``batches`` are the allocations to restore (none on a fresh start); ``fate`` classifies
    one logged block: ``batch`` (back to the batch the checkpoint gives it), ``settled`` (a
    completed batch consumed it: skipped), ``new`` (no completed batch took it: unallocated
    again) or ``duplicate`` (a second record of a block already replayed).

    >>> plan = ReplayPlan({"time_ms": 2000, "allocated": {3000: [{"stream": 0, "id": "input-0-5",
    ...                    "records": 1, "metadata": {}}]}, "settled": {"wal/s": [[0, 0, 4]]}})
    >>> [plan.fate(f"input-0-{i}") for i in (4, 5, 6, 6)]
    ['settled', 'batch', 'new', 'duplicate']
    >>> ReplayPlan(plan.meta, keep_batches=False).fate("input-0-5")   # a batch after the checkpoint
    'new'
    """

    def __init__(self, meta: dict[str, Any], keep_batches: bool = True) -> None:
        self.meta = meta
        self.keep_batches = keep_batches
        self.checkpoint_ms = int(meta["time_ms"])
        self.known: dict[str, ReceivedBlock] = {}
        self._batch_of: dict[str, int] = {}
        self.batches: dict[int, dict[int, list[ReceivedBlock]]] = {}
        for t, blocks in (meta.get("allocated") or {}).items():
            per: dict[int, list[ReceivedBlock]] = {}
            for data in blocks:
                block = ReceivedBlock(data["stream"], data["id"], data["records"], data["metadata"])
                self.known[block.block_id] = block
                self._batch_of[block.block_id] = int(t)
                per.setdefault(block.stream_id, []).append(block)
            if keep_batches:
                self.batches[int(t)] = per
        self._settled = settled_ids(meta.get("settled") or {})
        self._seen: set[str] = set()
        self.counts = {"batch": 0, "settled": 0, "new": 0, "duplicate": 0}

    def fate(self, block_id: str) -> str:
        """The fate of the next logged record of ``block_id`` (counted in ``counts``)."""
        if block_id in self._seen:
            fate = "duplicate"
        else:
            self._seen.add(block_id)
            batch_ms = self._batch_of.get(block_id)
            if block_id in self._settled:
                fate = "settled"
            elif batch_ms is None:
                fate = "new"
            elif self.keep_batches:
                fate = "batch"
            else:
                fate = "settled" if batch_ms <= self.checkpoint_ms else "new"
        self.counts[fate] += 1
        return fate
