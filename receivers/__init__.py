"""Where data comes from: the Receiver API, its supervisor, and the socket, Kafka and file sources.

This package never imports ``dstream``. A receiver hands records to its
:class:`ReceiverSupervisor`; the supervisor cuts them into blocks
(:class:`BlockGenerator`) and hands each block to a :class:`BlockSink`, and
reports lifecycle events to an :class:`EventSink`. The engine implements both
sinks; :class:`MemorySink` is a plain in-memory one for examples and tests.

File streams have no receiver (as in Spark, the driver lists the directory
each batch): :class:`FileScanner` decides which files belong to a batch.

>>> from dstream.receivers import MemorySink, ReceiverSupervisor, Receiver
>>> class Words(Receiver):
...     def onStart(self):
...         self.start_thread(lambda: self.store_all("to be or not to be".split()))
...     def onStop(self):
...         pass
>>> sink = MemorySink()
>>> supervisor = ReceiverSupervisor(Words(), 0, sink, sink)
>>> supervisor.start()
>>> len(sink.wait_for_records(6, timeout=5))
6
>>> supervisor.stop()
True
"""

from __future__ import annotations

from dstream.receivers.block_generator import (
    BlockGenerator,
    BlockIds,
    GeneratorStoppedError,
    default_block_ids,
    parse_block_id,
)
from dstream.receivers.files import FileScanner, read_binary_records
from dstream.receivers.kafka import KafkaReceiver, KafkaReceiverConfigError, KafkaReceiverError
from dstream.receivers.lines import BadLine, LineSplitter
from dstream.receivers.ratelimit import RateLimiter
from dstream.receivers.receiver import Receiver, ReceiverNotAttachedError
from dstream.receivers.sink import EVENT_KINDS, BlockSink, EventSink, MemorySink, StoredBlock
from dstream.receivers.socket import SocketReceiver, SocketTextReceiver
from dstream.receivers.supervisor import ReceiverSupervisor

__all__ = [
    "EVENT_KINDS",
    "BadLine",
    "BlockGenerator",
    "BlockIds",
    "BlockSink",
    "EventSink",
    "FileScanner",
    "GeneratorStoppedError",
    "KafkaReceiver",
    "KafkaReceiverConfigError",
    "KafkaReceiverError",
    "LineSplitter",
    "MemorySink",
    "RateLimiter",
    "Receiver",
    "ReceiverNotAttachedError",
    "ReceiverSupervisor",
    "SocketReceiver",
    "SocketTextReceiver",
    "StoredBlock",
    "default_block_ids",
    "parse_block_id",
    "read_binary_records",
]
