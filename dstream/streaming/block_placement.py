"""Where a received block is kept: on the executors (a backend that stores blocks, such as
Dask) or in the driver's block manager.

On a backend that stores blocks the driver keeps only a handle (``RemoteBlock``) and the
executors keep the pickled records, one copy on each of ``level.replication`` executors. When
every copy is lost with its executors, the block is read back from the write-ahead log when it
was logged, or the batch fails with ``BlockLostError`` naming the block, its batch and the
setting that prevents it.

>>> import pickle, tempfile
>>> from dstream.block_manager import BlockManager
>>> from dstream.executors.inprocess import InProcessBackend
>>> bm = BlockManager(tempfile.mkdtemp())
>>> data = Serialized(pickle.dumps(["a", "b"]))
>>> place_block(InProcessBackend(), bm, "input-0-1", data, StorageLevel.MEMORY_ONLY, None)
>>> bm.get_values("input-0-1")
['a', 'b']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ..errors import BlockLostError
from ..storagelevel import StorageLevel
from ..taskcontext import Serialized
from .log_records import decode_block

if TYPE_CHECKING:
    from ..block_manager import BlockManager
    from ..executors.base import ExecutorBackend
    from .received_blocks import ReceivedBlockTracker

__all__ = ["place_block", "recovery_of"]

WAL_SETTING = "dstream.streaming.receiver.writeAheadLog.enable"


def place_block(backend: ExecutorBackend | None, block_manager: BlockManager, block_id: str,
                data: Serialized, level: StorageLevel,
                recover: Callable[[], Serialized] | None) -> None:
    """Put a received block (its pickled records) on the executors when the backend stores
    blocks (the block manager then keeps its handle), else into the block manager itself."""
    value: Any = data
    if backend is not None and backend.stores_blocks:
        handle = backend.store_block(block_id, data, level.replication, recover)
        if handle is not None:
            value = handle
    block_manager.put(block_id, value, level)


def recovery_of(block_id: str, tracker: ReceivedBlockTracker, wal: Any = None, signer: Any = None,
                pointer: Any = None) -> Callable[[], Serialized]:
    """What gives a block's bytes back once every executor copy is lost: its write-ahead log
    record when it has one, else a ``BlockLostError`` that names the block and its batch."""

    def recover() -> Serialized:
        if wal is None or pointer is None or not hasattr(pointer, "segment"):
            raise _lost(block_id, tracker, "the write-ahead log is off")
        try:
            return decode_block(signer.verify(wal.read(pointer), "write-ahead log record"))[2]
        except Exception as e:
            raise _lost(block_id, tracker, f"reading it back from the write-ahead log failed "
                                           f"({e})") from e

    return recover


def _lost(block_id: str, tracker: ReceivedBlockTracker, why: str) -> BlockLostError:
    batches = [t for t, per in tracker.allocated_batches().items()
               for blocks in per.values() if any(b.block_id == block_id for b in blocks)]
    batch = f"batch {batches[0]} ms" if batches else "no batch yet"
    return BlockLostError(
        f"received block {block_id} ({batch}) is lost: every executor that held a replica of it "
        f"died, and {why}. Set {WAL_SETTING}=true (with a checkpoint directory) so that lost "
        "blocks are read back from the log, or give the stream a storage level with more "
        "replicas (e.g. StorageLevel(True, True, False, False, 3)).")
