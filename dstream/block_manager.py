"""The block manager: cached RDD partitions and received blocks, by id, at a storage level.

Blocks live in memory up to a budget; levels that allow disk spill the least recently used
blocks to files past it, and ``DISK_ONLY`` blocks go straight to disk. A block released early
(``release``: nothing is expected to read it again) gives up its memory copy, and its disk copy
too when its bytes can be read back from elsewhere (the write-ahead log); a read of it after
all still works (disk copy, or read back) and is counted in ``reads_after_release``.

>>> import tempfile
>>> bm = BlockManager(tempfile.mkdtemp(), memory_budget=1 << 20)
>>> bm.put("rdd_1_0", [1, 2, 3])
>>> bm.get_values("rdd_1_0"), bm.contains("rdd_1_1")
([1, 2, 3], False)
>>> bm.release("rdd_1_0", reread=lambda: Serialized(pickle.dumps([1, 2, 3])))
True
>>> bm.memory_used, bm.get_values("rdd_1_0"), bm.reads_after_release
(0, [1, 2, 3], 1)
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from typing import Any, Callable

from .storagelevel import StorageLevel
from .taskcontext import Serialized

__all__ = ["BlockManager", "BlockNotFoundError", "RemoteBlock", "rdd_block_id"]


class BlockNotFoundError(KeyError):
    """A block that a task needs is in no store (evicted, removed, or lost with its executor)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "block not found"


def rdd_block_id(rdd_id: int, split: int) -> str:
    return f"rdd_{rdd_id}_{split}"


class RemoteBlock(ABC):
    """What the driver keeps of a block that executors hold (a handle, not the records).

    The block manager holds it in place of the block and hands it to the scheduler as the
    task input; only the backend that made it knows how a task reads it.
    """

    block_id: str

    @abstractmethod
    def release(self) -> None:
        """The block is no longer needed: the executors drop their copies."""

    @abstractmethod
    def fetch(self) -> Serialized:
        """The block's pickled records, brought to the driver (for a checkpoint)."""

    def lost(self) -> bool:
        """True when the block is gone for good: the scheduler computes it again."""
        return False

    def driver_copy(self) -> bytes | None:
        """The block's bytes that the driver holds in memory as a replica of its own, if any."""
        return None

    def shed(self, reread: Callable[[], Serialized]) -> None:
        """Drop the driver's in-memory copy; ``reread`` gives its bytes back when needed."""


class _Entry:
    __slots__ = ("value", "level", "size", "path", "released", "reread")

    def __init__(self, value: list[Any] | Serialized | RemoteBlock | None, level: StorageLevel,
                 size: int, path: str | None) -> None:
        self.value, self.level, self.size, self.path = value, level, size, path
        self.released = False
        #: where a released block's bytes come back from when it has no copy left here
        self.reread: Callable[[], Serialized] | None = None


class BlockManager:
    """Blocks of records held by the driver for the local backends."""

    def __init__(self, spill_dir: str, memory_budget: int = 512 << 20) -> None:
        self._dir = spill_dir
        self._budget = memory_budget
        self._blocks: OrderedDict[str, _Entry] = OrderedDict()   # least recently used first
        self._memory_used = 0
        self._lock = threading.RLock()
        #: blocks released early so far, and reads of such blocks (expected: none)
        self.released_blocks = 0
        self.reads_after_release = 0

    # ------------------------------------------------------------------ put / get
    def put(self, block_id: str, values: list[Any] | Serialized | RemoteBlock,
            level: StorageLevel = StorageLevel.MEMORY_ONLY) -> None:
        """Store a block (a list of records, or the pickled list), or the handle of a block
        that executors hold (``RemoteBlock``: kept as it is, released when removed)."""
        if isinstance(values, RemoteBlock):
            with self._lock:
                self.remove(block_id)
                entry = _Entry(values, level, len(values.driver_copy() or b""), None)
                self._blocks[block_id] = entry
                self._memory_used += entry.size
                self._evict_over_budget()
            return
        size = _estimate_size(values)
        with self._lock:
            self.remove(block_id)
            path = None
            in_memory = level.useMemory
            if level.useDisk and (not level.useMemory or level.replication > 1):
                # DISK_ONLY, or a second copy where there is only one executor to hold replicas
                path = self._write(block_id, values)
            entry = _Entry(values if in_memory else None, level, size if in_memory else 0, path)
            self._blocks[block_id] = entry
            self._memory_used += entry.size
            self._evict_over_budget()

    def contains(self, block_id: str) -> bool:
        with self._lock:
            return block_id in self._blocks

    def get_for_task(self, block_id: str) -> list[Any] | Serialized | RemoteBlock:
        """The block in whatever form it is held (a task unpickles a ``Serialized``)."""
        with self._lock:
            entry = self._blocks.get(block_id)
            if entry is None:
                raise BlockNotFoundError(f"block {block_id} is not in the block manager "
                                         "(removed after it was last needed, or never stored)")
            self._blocks.move_to_end(block_id)
            if entry.released:
                self.reads_after_release += 1
            if entry.value is not None:
                return entry.value
            if entry.path is not None or entry.reread is None:
                return Serialized(self._read(entry.path))
            reread = entry.reread
        return reread()             # read back (from the write-ahead log), outside the lock

    def get_values(self, block_id: str) -> list[Any] | RemoteBlock:
        value = self.get_for_task(block_id)
        return value.load() if isinstance(value, Serialized) else value

    def release(self, block_id: str, reread: Callable[[], Serialized] | None = None) -> bool:
        """Nothing is expected to read ``block_id`` again: drop its memory copy when it has a
        disk copy, and also the disk copy when ``reread`` gives its bytes back; of a block the
        executors hold (a ``RemoteBlock``), the driver's own copy. The id stays known until
        ``remove``. False (nothing dropped) when no copy would be left, the driver holds none of
        an executors' block, or the block is unknown."""
        with self._lock:
            entry = self._blocks.get(block_id)
            if entry is None:
                return False
            if isinstance(entry.value, RemoteBlock):
                if not self._shed(block_id, entry, reread):
                    return False
            elif reread is None and entry.path is None:
                return False
            else:
                self._memory_used -= entry.size
                entry.value, entry.size = None, 0
                if reread is not None:
                    if entry.path:
                        _unlink(entry.path)
                    entry.path, entry.reread = None, reread
            if not entry.released:
                entry.released = True
                self.released_blocks += 1
            return True

    def _shed(self, block_id: str, entry: _Entry,
              reread: Callable[[], Serialized] | None = None) -> bool:
        """Drop the driver's in-memory copy of an executors' block (its own replica) when it
        can be read back: from ``reread`` (the write-ahead log), else from a disk copy written
        now when the level allows disk. False when it holds none, or could not keep one."""
        block = entry.value
        assert isinstance(block, RemoteBlock)
        data = block.driver_copy()
        if data is None:
            return False
        if reread is None:
            if not entry.level.useDisk:
                return False
            path = entry.path = self._write(block_id, Serialized(data))
            reread = lambda: Serialized(self._read(path))  # noqa: E731
        block.shed(reread)
        self._memory_used -= entry.size
        entry.size = 0
        return True

    def remove(self, block_id: str) -> None:
        with self._lock:
            entry = self._blocks.pop(block_id, None)
            if entry is None:
                return
            self._memory_used -= entry.size
            if entry.path:
                _unlink(entry.path)
            if isinstance(entry.value, RemoteBlock):
                entry.value.release()

    def remove_rdd(self, rdd_id: int) -> None:
        prefix = f"rdd_{rdd_id}_"
        with self._lock:
            for block_id in [b for b in self._blocks if b.startswith(prefix)]:
                self.remove(block_id)

    def block_ids(self) -> list[str]:
        with self._lock:
            return list(self._blocks)

    @property
    def memory_used(self) -> int:
        return self._memory_used

    def clear(self) -> None:
        with self._lock:
            for block_id in list(self._blocks):
                self.remove(block_id)

    # ------------------------------------------------------------------ disk
    def _evict_over_budget(self) -> None:
        for block_id, entry in list(self._blocks.items()):
            if self._memory_used <= self._budget:
                return
            if isinstance(entry.value, RemoteBlock):
                self._shed(block_id, entry)   # the driver's replica to disk (executors keep theirs)
                continue
            if entry.value is None:
                continue
            if entry.level.useDisk:
                if entry.path is None:
                    entry.path = self._write(block_id, entry.value)
                entry.value = None
                self._memory_used -= entry.size
                entry.size = 0
            elif entry.level.useMemory and block_id.startswith("rdd_"):
                # a MEMORY_ONLY cached partition is dropped; it is recomputed from lineage
                self.remove(block_id)

    def _write(self, block_id: str, values: list[Any] | Serialized) -> str:
        os.makedirs(self._dir, exist_ok=True)
        path = os.path.join(self._dir, block_id)
        data = values.data if isinstance(values, Serialized) else pickle.dumps(values, protocol=5)
        with open(path, "wb") as f:
            f.write(data)
        return path

    @staticmethod
    def _read(path: str | None) -> bytes:
        if path is None:
            raise BlockNotFoundError("block has neither a memory nor a disk copy")
        with open(path, "rb") as f:
            return f.read()


def _estimate_size(values: list[Any] | Serialized) -> int:
    if isinstance(values, Serialized):
        return len(values.data)
    n = len(values)
    if n == 0:
        return 64
    sample = values[:: max(1, n // 20)][:20]
    return 64 + 8 * n + n * sum(sys.getsizeof(v) for v in sample) // len(sample)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
