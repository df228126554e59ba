"""Kafka offset ranges as an RDD: one partition per topic-partition range, read by its task.

A ``KafkaRDD`` holds only the ranges ``[fromOffset, untilOffset)`` and the client settings;
each task opens its own consumer where it runs (the driver thread, a ``local[N]`` worker
process, a Dask worker), assigns its partition, seeks to ``fromOffset`` and polls until its
position reaches ``untilOffset``. Positions, not record counts, end a range: in a
transactional topic commit markers take offsets too, and ``read_committed`` skips aborted
records, so a range may hold fewer records than ``untilOffset - fromOffset``.

>>> r = OffsetRange("events", 0, 10, 25)
>>> r, r.count()
(OffsetRange(topic: events, partition: 0, range: [10 -> 25]), 15)
>>> OffsetRange.from_dict(r.as_dict()) == r, TopicAndPartition("events", 0) == r.topicAndPartition()
(True, True)
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from dstream.receivers.kafka_client import import_kafka

from .rdd import RDD

if TYPE_CHECKING:
    from .accumulators import Accumulator
    from .context import Context
    from .taskcontext import TaskContext

__all__ = ["Broker", "KafkaMessageAndMetadata", "KafkaRDD", "OffsetRange", "TopicAndPartition",
           "read_range", "utf8_decoder", "READ_STALL_SECONDS"]

log = logging.getLogger(__name__)

#: a task whose consumer makes no progress for this long fails, naming its range and brokers
READ_STALL_SECONDS = 120.0


def utf8_decoder(data: bytes | None) -> str | None:
    """PySpark's default decoder: UTF-8 text, None stays None.

    >>> utf8_decoder(b"caf\\xc3\\xa9"), utf8_decoder(None)
    ('café', None)
    """
    return None if data is None else data.decode("utf-8")


@dataclass(frozen=True)
class TopicAndPartition:
    """A topic and one of its partitions (PySpark's ``TopicAndPartition``).

    >>> {TopicAndPartition("t", 1): 5}[TopicAndPartition("t", 1)]
    5
    """

    topic: str
    partition: int

    def __post_init__(self) -> None:
        _check_topic_partition(self.topic, self.partition)


@dataclass(frozen=True)
class Broker:
    """A Kafka broker's address (PySpark's ``Broker``; accepted, the brokers in kafkaParams are used).

    >>> Broker("127.0.0.1", 9092)
    Broker(host='127.0.0.1', port=9092)
    """

    host: str
    port: int


@dataclass(frozen=True)
class OffsetRange:
    """The offsets ``[fromOffset, untilOffset)`` of one topic-partition (PySpark's ``OffsetRange``).

    >>> OffsetRange("t", 2, 5, 5).count()
    0
    """

    topic: str
    partition: int
    fromOffset: int
    untilOffset: int

    def __post_init__(self) -> None:
        _check_topic_partition(self.topic, self.partition)
        for name in ("fromOffset", "untilOffset"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"OffsetRange {name} must be an int >= 0, got {value!r} "
                                 f"(topic {self.topic!r}, partition {self.partition})")
        if self.untilOffset < self.fromOffset:
            raise ValueError(f"OffsetRange of {self.topic}-{self.partition}: untilOffset "
                             f"{self.untilOffset} is before fromOffset {self.fromOffset}")

    def count(self) -> int:
        """The number of offsets in the range (records, unless markers or aborted records sit in it)."""
        return self.untilOffset - self.fromOffset

    def topicAndPartition(self) -> TopicAndPartition:
        """The range's topic and partition.

        >>> OffsetRange("t", 1, 0, 3).topicAndPartition()
        TopicAndPartition(topic='t', partition=1)
        """
        return TopicAndPartition(self.topic, self.partition)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (checkpoints, the REST API, ``BatchInfo``).

        >>> OffsetRange("t", 1, 0, 3).as_dict()
        {'topic': 't', 'partition': 1, 'fromOffset': 0, 'untilOffset': 3}
        """
        return {"topic": self.topic, "partition": self.partition,
                "fromOffset": self.fromOffset, "untilOffset": self.untilOffset}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OffsetRange:
        """The range ``as_dict`` gave.

        >>> OffsetRange.from_dict({"topic": "t", "partition": 0, "fromOffset": 1, "untilOffset": 2})
        OffsetRange(topic: t, partition: 0, range: [1 -> 2])
        """
        return cls(str(data["topic"]), int(data["partition"]), int(data["fromOffset"]),
                   int(data["untilOffset"]))

    def __repr__(self) -> str:
        return (f"OffsetRange(topic: {self.topic}, partition: {self.partition}, "
                f"range: [{self.fromOffset} -> {self.untilOffset}])")

    __str__ = __repr__


def _check_topic_partition(topic: object, partition: object) -> None:
    if not isinstance(topic, str) or not topic:
        raise ValueError(f"a Kafka topic must be a non-empty str, got {topic!r}")
    if isinstance(partition, bool) or not isinstance(partition, int) or partition < 0:
        raise ValueError(f"partition of topic {topic!r} must be an int >= 0, got {partition!r}")


class KafkaMessageAndMetadata:
    """What ``messageHandler`` receives: one record with its coordinates (PySpark's class,
    plus ``timestamp`` in ms since the epoch).

    >>> m = KafkaMessageAndMetadata("t", 0, 7, "k", "v", 1000)
    >>> (m.topic, m.partition, m.offset, m.key, m.message, m.timestamp)
    ('t', 0, 7, 'k', 'v', 1000)
    """

    __slots__ = ("topic", "partition", "offset", "key", "message", "timestamp")

    def __init__(self, topic: str, partition: int, offset: int, key: Any, message: Any,
                 timestamp: int | None = None) -> None:
        self.topic, self.partition, self.offset = topic, partition, offset
        self.key, self.message, self.timestamp = key, message, timestamp

    def __repr__(self) -> str:
        return (f"KafkaMessageAndMetadata(topic={self.topic!r}, partition={self.partition}, "
                f"offset={self.offset}, key={self.key!r}, message={self.message!r})")


Decoder = Callable[[bytes | None], Any]


def read_range(config: dict[str, Any], offset_range: OffsetRange,
               key_decoder: Decoder = utf8_decoder, value_decoder: Decoder = utf8_decoder,
               message_handler: Callable[[KafkaMessageAndMetadata], Any] | None = None,
               stall_seconds: float = READ_STALL_SECONDS) -> Iterator[Any]:
    """The records of ``offset_range``, read by a consumer of this process (kafka-python
    ``config``): ``(key, value)`` pairs, or what ``message_handler`` returns for each record.
    Ends when the consumer's position reaches ``untilOffset``; raises TimeoutError when it
    makes no progress for ``stall_seconds`` (broker gone, or the range fell out of retention)."""
    if offset_range.count() == 0:
        return
    kafka = import_kafka()
    tp = kafka.TopicPartition(offset_range.topic, offset_range.partition)
    until = offset_range.untilOffset
    settings = dict(config)
    settings.update(enable_auto_commit=False, group_id=None, auto_offset_reset="none",
                    key_deserializer=None, value_deserializer=None)
    consumer = kafka.KafkaConsumer(**settings)
    try:
        consumer.assign([tp])
        consumer.seek(tp, offset_range.fromOffset)
        last_progress = time.monotonic()
        position = offset_range.fromOffset
        while position < until:
            batches = consumer.poll(timeout_ms=500, max_records=5000)
            records = batches.get(tp, ())
            for record in records:
                if record.offset >= until:
                    break
                key = key_decoder(record.key)
                value = value_decoder(record.value)
                if message_handler is None:
                    yield (key, value)
                else:
                    yield message_handler(KafkaMessageAndMetadata(
                        record.topic, record.partition, record.offset, key, value, record.timestamp))
            new_position = consumer.position(tp)
            if new_position > position:
                position, last_progress = new_position, time.monotonic()
            elif time.monotonic() - last_progress > stall_seconds:
                raise TimeoutError(
                    f"reading {offset_range} from {config.get('bootstrap_servers')}: no progress "
                    f"past offset {position} for {stall_seconds:g} s (is the broker reachable, and "
                    "is the range still within the topic's retention?)")
    finally:
        consumer.close()


class KafkaRDD(RDD[Any]):
    """One partition per offset range; each task reads its range from Kafka where it runs.

    Its elements are ``(key, value)`` pairs, or what ``message_handler`` makes of each message.
    ``reads`` (an accumulator of lists), when given, collects ``(range, host, pid)`` of every
    range read, so the driver can log where ranges were read."""

    def __init__(self, ctx: Context, config: dict[str, Any], offset_ranges: list[OffsetRange],
                 key_decoder: Decoder = utf8_decoder, value_decoder: Decoder = utf8_decoder,
                 message_handler: Callable[[KafkaMessageAndMetadata], Any] | None = None,
                 reads: Accumulator[list[tuple[dict[str, Any], str, int]]] | None = None) -> None:
        for r in offset_ranges:
            if not isinstance(r, OffsetRange):
                raise TypeError(f"KafkaRDD takes OffsetRange objects, got {type(r).__name__}: {r!r}")
        super().__init__(ctx, [], len(offset_ranges))
        self._ranges = list(offset_ranges)
        self._config = dict(config)
        self._decoders = (key_decoder, value_decoder, message_handler)
        self._reads = reads

    def offsetRanges(self) -> list[OffsetRange]:
        """The ranges of this RDD, one per partition, in partition order (PySpark's ``KafkaRDD``)."""
        return list(self._ranges)

    def compute(self, split: int, task: TaskContext) -> Iterable[Any]:
        offset_range = self._ranges[split]
        if self._reads is not None:
            self._reads.add([(offset_range.as_dict(), socket.gethostname(), os.getpid())])
        log.debug("reading %s in process %d", offset_range, os.getpid())
        return read_range(self._config, offset_range, *self._decoders)
