"""The engine's block sink: a received block is pickled once, and those bytes are what the
block manager holds (for the block's whole remember duration) and what the log records."""

from __future__ import annotations

from pathlib import Path

from dstream.checkpoint import open_store
from dstream.checkpoint.signing import Signer
from dstream.checkpoint.wal import WriteAheadLog
from dstream.block_manager import BlockManager
from dstream.storagelevel import StorageLevel
from dstream.streaming.received_blocks import ReceivedBlockTracker
from dstream.streaming.log_records import decode_block
from dstream.streaming.inputs.receiver_streams import EngineBlockSink
from dstream.taskcontext import Serialized


def test_a_block_is_held_pickled_and_logged_as_the_same_bytes(tmp_path: Path) -> None:
    blocks = BlockManager(str(tmp_path / "spill"))
    tracker = ReceivedBlockTracker()
    signer = Signer(b"0123456789abcdef")
    wal = WriteAheadLog(open_store(str(tmp_path / "ckpt")), "wal/r0", roll_interval_s=60)
    sink = EngineBlockSink(blocks, tracker, {0: StorageLevel.MEMORY_AND_DISK_2}, wal=wal,
                           signer=signer, clock_ms=lambda: 1_000)
    records = [f"line {i}" for i in range(1_000)]

    sink.store_block(0, "input-0-1", records, {"offset": 41})

    held = blocks.get_for_task("input-0-1")
    assert isinstance(held, Serialized) and held.load() == records
    assert blocks.memory_used == len(held.data)          # its pickled size, not the strings'
    [block] = tracker.unallocated()
    assert (block.block_id, block.num_records, block.metadata) == ("input-0-1", 1_000, {"offset": 41})
    [(_time, signed)] = list(wal.read_all())
    stream_id, block_id, data, count, metadata = decode_block(signer.verify(signed, "test"))
    assert (stream_id, block_id, count, metadata) == (0, "input-0-1", 1_000, {"offset": 41})
    assert data.data == held.data


def test_a_block_offered_again_is_stored_once(tmp_path: Path) -> None:
    blocks = BlockManager(str(tmp_path / "spill"))
    tracker = ReceivedBlockTracker()
    sink = EngineBlockSink(blocks, tracker, {}, clock_ms=lambda: 0)
    sink.store_block(0, "input-0-1", ["a"], {})
    sink.store_block(0, "input-0-1", ["a"], {})
    assert [b.block_id for b in tracker.unallocated()] == ["input-0-1"]
    assert blocks.get_values("input-0-1") == ["a"]
