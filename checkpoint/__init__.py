"""Checkpoint stores: where dstream's state, metadata and write-ahead log go.

This package saves and loads bytes under names; it knows nothing of streams
and never imports ``dstream``. Redis support needs the ``redis`` package and
is imported only when used.

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
from dstream.checkpoint.store import CheckpointStore, open_store, validate_name
from dstream.checkpoint.wal import SegmentPointer, WriteAheadLog

if TYPE_CHECKING:
    from dstream.checkpoint.redis_store import RedisStore

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


def __getattr__(name: str) -> Any:
    # RedisStore imports redis-py, an optional dependency: load it on first use.
    if name == "RedisStore":
        from dstream.checkpoint.redis_store import RedisStore

        return RedisStore
    raise AttributeError(f"module 'checkpoint' has no attribute {name!r}")
