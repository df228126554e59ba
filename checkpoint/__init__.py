"""Checkpoint stores: where dstream's state, metadata and write-ahead log go.

This package saves and loads bytes under names; it knows nothing of streams
and never imports the engine. ``RedisStore`` loads redis-py when first used (it takes a
good part of a second to import).

>>> import tempfile
>>> from dstream import checkpoint
>>> with checkpoint.open_store(tempfile.mkdtemp()) as store:
...     _ = checkpoint.save_generation(store, "meta", 1, b"batch 1")
...     checkpoint.load_newest(store, "meta")
(1, b'batch 1')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dstream.checkpoint.disk import DiskStore
from dstream.checkpoint.errors import (
    CheckpointError,
    CheckpointNotFoundError,
    CheckpointStoreUnavailable,
    CorruptCheckpointError,
)
from dstream.checkpoint.retention import (
    generation_name,
    list_generations,
    load_newest,
    save_generation,
)
from dstream.checkpoint.retry import call_with_retry
from dstream.checkpoint.locations import open_store
from dstream.checkpoint.store import CheckpointStore, validate_name
from dstream.checkpoint.wal import SegmentPointer, WriteAheadLog

__all__ = [
    "CheckpointError",
    "CheckpointNotFoundError",
    "CheckpointStore",
    "CheckpointStoreUnavailable",
    "CorruptCheckpointError",
    "DiskStore",
    "RedisStore",
    "SegmentPointer",
    "WriteAheadLog",
    "call_with_retry",
    "generation_name",
    "list_generations",
    "load_newest",
    "open_store",
    "save_generation",
    "validate_name",
]

if TYPE_CHECKING:
    from dstream.checkpoint.redis_store import RedisStore


def __getattr__(name: str) -> Any:
    if name == "RedisStore":
        from dstream.checkpoint.redis_store import RedisStore

        return RedisStore
    raise AttributeError(f"module 'dstream.checkpoint' has no attribute {name!r}")
