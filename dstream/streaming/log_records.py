"""The write-ahead log's record of a received block, written when the block is stored and
read at recovery (or when every executor copy of the block is lost).

>>> from dstream.taskcontext import Serialized
>>> record = encode_block(3, "input-3-7", Serialized(pickle.dumps(["a", "b"])), 2, {"offset": 9})
>>> stream_id, block_id, data, count, metadata = decode_block(record)
>>> stream_id, block_id, data.load(), count, metadata
(3, 'input-3-7', ['a', 'b'], 2, {'offset': 9})
"""

from __future__ import annotations

import pickle
from typing import Any

from ..serialization import dumps_data
from ..taskcontext import Serialized

__all__ = ["encode_block", "decode_block"]


def encode_block(stream_id: int, block_id: str, data: Serialized, num_records: int,
                 metadata: dict[str, Any]) -> bytes:
    """The record's bytes (to be signed before they go to the log)."""
    return pickle.dumps((stream_id, block_id, data.data, num_records, metadata), protocol=5)


def decode_block(payload: bytes) -> tuple[int, str, Serialized, int, dict[str, Any]]:
    """``(stream, block id, pickled records, count, metadata)`` from a verified record; logs
    written before blocks were pickled once hold ``(stream, block id, records, metadata)``."""
    record = pickle.loads(payload)
    if len(record) == 4:
        stream_id, block_id, records, metadata = record
        return stream_id, block_id, Serialized(dumps_data(records)), len(records), metadata
    stream_id, block_id, data, num_records, metadata = record
    return stream_id, block_id, Serialized(data), num_records, metadata
