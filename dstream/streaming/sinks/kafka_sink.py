"""A Kafka sink that writes each batch's result exactly once, with Kafka transactions.

How a batch is written (``KafkaSink.__call__(time, rdd)``, run by the batch thread):

1. The first call opens a transactional producer whose ``transactional.id`` is stable across
   restarts (``<appName>/<output stream id>`` by default, or given), and calls
   ``init_transactions()``. Kafka then *fences* any earlier producer with that id (a zombie
   driver still running after it was given up for dead: its next send or commit fails with
   ``ProducerFenced``) and aborts the transaction it left open. Then the sink reads its
   *marker*: the time of the last batch it committed (see 3).
2. A batch whose time is not after the marker was committed before a crash and is skipped.
3. Any other batch is one transaction: its records (``(key, value)`` pairs; any other record is
   a value without a key), each with a ``dstream.batch`` header holding the batch time in ms;
   the Kafka offsets the batch consumed, committed for their consumer group with
   ``send_offsets_to_transaction`` (from the input streams, see ``batch_offsets``); and the
   marker itself, committed the same way as the metadata of a committed offset of a consumer
   group of its own (``dstream-sink.<transactional id>``, on partition 0 of the output topic;
   no consumer ever joins that group). Then ``commit_transaction()``.

Why each batch's result is committed once, whatever instant the driver dies at:

- Killed before ``commit_transaction()`` took effect: the transaction is open (or its
  commit was never sent). The restarted job's ``init_transactions()`` aborts it, so a
  ``read_committed`` reader never sees those records; the marker was not committed either, so
  the batch (not checkpointed yet, hence re-run by recovery) is written again.
- Killed after the commit took effect but before the metadata checkpoint of the batch was
  written: recovery re-runs the batch; the marker, committed atomically with the records,
  says the batch is in, and the sink skips it. The records and the marker are one atomic
  commit, so "records in but marker not" (a duplicate on re-run) and "marker in but records
  not" (a loss) cannot happen.
- Killed while ``commit_transaction()`` was in flight: the broker either completed the commit
  (then as above: skipped on re-run) or not; ``init_transactions()`` of the restarted
  producer waits for a commit in progress to complete before it reads the marker.
- Batches run one at a time (``dstream.streaming.concurrentJobs`` = 1, the default; the sink
  refuses more), so a marker at batch ``t`` means every batch up to ``t`` is in.

Where the writes run: on the driver, one producer and one transaction per batch. The batch's
result is collected to the driver and produced from there. This is the simplest design that is
correct: one transaction makes the whole batch, its input offsets and its marker atomic.
Writing from the tasks would scale, but every partition's writer needs its own transactional
id, and Kafka cannot commit several transactions atomically: a crash between two partitions'
commits would leave half a batch visible, and recovery would need a marker per writer and the
same partitioning on every re-run. An output stream is typically a result (totals, windows)
much smaller than the input, so the driver is not the bottleneck; the per-batch cost is
measured in ``benchmarks/kafka_sink_cost.py``.

What the guarantee rests on: the re-run batch recomputes the same result (deterministic
functions, and the engine's recovery of state and input: the write-ahead log or replayable
offsets); the marker group's committed offset is kept (Kafka expires the offsets of a group
without members after ``offsets.retention.minutes``, 7 days by default: keep the job's
downtime below it); readers use ``isolation.level=read_committed``.

>>> sink = KafkaSink("127.0.0.1:9092", "totals", "wordcount/totals")
>>> sink.transactional_id, sink.marker_group
('wordcount/totals', 'dstream-sink.wordcount/totals')
>>> to_bytes("café"), to_bytes(3), to_bytes(None), to_bytes(b"raw")
(b'caf\\xc3\\xa9', b'3', None, b'raw')
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dstream.receivers.kafka_client import import_kafka, open_client
from dstream.receivers.kafka_params import producer_config

from ..stream_node import StreamNode
from .batch_offsets import BatchOffsets, kafka_offsets_of_batch

if TYPE_CHECKING:
    from ...rdd import RDD

__all__ = ["KafkaSink", "KafkaSinkError", "to_bytes", "BATCH_HEADER"]

log = logging.getLogger(__name__)

#: header on every record the sink writes: the batch time in ms, as ASCII digits
BATCH_HEADER = "dstream.batch"
_MARKER_PREFIX = "dstream batch "

# Chosen by the sink; kafkaParams may not change them.
_RESERVED = {
    "bootstrap_servers": "pass bootstrapServers as the argument",
    "transactional_id": "pass transactionalId as the argument",
    "enable_idempotence": "a transactional producer is idempotent",
    "key_serializer": "pass keySerializer",
    "value_serializer": "pass valueSerializer",
}


class KafkaSinkError(RuntimeError):
    """The sink cannot write a batch: fenced by another instance, or Kafka failed."""


def to_bytes(value: Any) -> bytes | None:
    """The default serializer: bytes as they are, None stays None, str as UTF-8, anything
    else as the UTF-8 of its ``str()``."""
    if value is None or isinstance(value, bytes):
        return value
    return (value if isinstance(value, str) else str(value)).encode("utf-8")


def _split(record: Any) -> tuple[Any, Any]:
    if isinstance(record, tuple) and len(record) == 2:
        return record
    return None, record


def _batch_ms(time: Any) -> int:
    if hasattr(time, "timestamp"):
        return int(round(time.timestamp() * 1000))
    return int(time)


class KafkaSink:
    """An output function (``stream.foreachRDD(KafkaSink(...))``) that writes each batch to
    ``topic`` in one Kafka transaction, exactly once across crashes (see the module).

    - ``transactionalId``: stable across restarts and unique per output of a job (a second
      writer with the same id fences the first). ``DStream.saveToKafka`` derives it from the
      application name and the output stream's id.
    - ``kafkaParams``: producer settings, Kafka's dotted names or kafka-python's.
    - ``inputs``: streams whose Kafka input offsets of each batch are committed in the batch's
      transaction (``saveToKafka`` passes the stream it saves).
    """

    def __init__(self, bootstrapServers: str | list[str], topic: str, transactionalId: str,
                 kafkaParams: Mapping[str, Any] | None = None,
                 keySerializer: Callable[[Any], bytes | None] = to_bytes,
                 valueSerializer: Callable[[Any], bytes | None] = to_bytes,
                 inputs: Sequence[StreamNode] = ()) -> None:
        if not bootstrapServers:
            raise ValueError("KafkaSink needs bootstrapServers (host:port of at least one broker)")
        if not isinstance(topic, str) or not topic:
            raise ValueError(f"KafkaSink needs a topic name, got {topic!r}")
        if not isinstance(transactionalId, str) or not transactionalId:
            raise ValueError(f"KafkaSink needs a non-empty transactionalId, stable across "
                             f"restarts, got {transactionalId!r}")
        for name, f in (("keySerializer", keySerializer), ("valueSerializer", valueSerializer)):
            if not callable(f):
                raise TypeError(f"KafkaSink: {name} must be a function value -> bytes, got {f!r}")
        config = producer_config(kafkaParams)
        for key, why in _RESERVED.items():
            if key in config:
                raise ValueError(f"KafkaSink: kafkaParams may not set {key!r}: {why}")
        self.bootstrap_servers = bootstrapServers
        self.topic = topic
        self.set_transactional_id(transactionalId)
        self.config = config
        self.key_serializer = keySerializer
        self.value_serializer = valueSerializer
        self.inputs = list(inputs)
        self._producer: Any = None
        self._kafka: Any = None
        #: the time of the last batch committed (None: none yet), read from Kafka when opened
        self.last_committed_ms: int | None = None
        self.skipped = 0
        self._lock = threading.Lock()

    transactional_id: str

    def set_transactional_id(self, transactionalId: str) -> None:
        """Name the writer (before its first batch); the marker group follows."""
        if self._producer_opened():
            raise ValueError(f"KafkaSink {self.transactional_id!r} has written already: its "
                             "transactional id cannot change")
        self.transactional_id = transactionalId
        self.marker_group = f"dstream-sink.{transactionalId}"

    def _producer_opened(self) -> bool:
        return getattr(self, "_producer", None) is not None

    # ------------------------------------------------------------------ per batch
    def __call__(self, time: Any, rdd: RDD[Any]) -> None:
        """Write the batch of ``time`` (skipped when already committed)."""
        if rdd.ctx._conf.getInt("dstream.streaming.concurrentJobs", 1) > 1:
            raise ValueError(
                f"KafkaSink {self.transactional_id!r} writes batches in order and needs "
                "dstream.streaming.concurrentJobs=1 (it is "
                f"{rdd.ctx._conf.getInt('dstream.streaming.concurrentJobs', 1)}): unset it")
        time_ms = _batch_ms(time)
        with self._lock:
            producer = self._open()
            if self.last_committed_ms is not None and time_ms <= self.last_committed_ms:
                self.skipped += 1
                log.info("KafkaSink %s: batch %d was committed before a restart; skipped",
                         self.transactional_id, time_ms)
                return
            records = rdd.collect()
            offsets = [o for stream in self.inputs for o in kafka_offsets_of_batch(stream, time_ms)]
            try:
                self._write(producer, time_ms, records, offsets)
            except BaseException as exc:
                fenced = self._fenced(exc, producer)
                self._abandon()
                if fenced:
                    raise KafkaSinkError(
                        f"KafkaSink {self.transactional_id!r}: fenced while writing the batch of "
                        f"{time_ms} ms to topic {self.topic!r}: another instance of this job (same "
                        "transactional id) has started; stop one of them") from exc
                raise
            self.last_committed_ms = time_ms

    def _write(self, producer: Any, time_ms: int, records: list[Any],
               offsets: list[BatchOffsets]) -> None:
        structs = self._kafka.structs
        header = [(BATCH_HEADER, str(time_ms).encode())]
        producer.begin_transaction()
        try:
            for record in records:
                key, value = _split(record)
                producer.send(self.topic, key=self.key_serializer(key),
                              value=self.value_serializer(value), headers=header)
            for found in offsets:
                producer.send_offsets_to_transaction(
                    {structs.TopicPartition(t, p): structs.OffsetAndMetadata(o, "", -1)
                     for (t, p), o in found.offsets.items()}, found.group_id)
            producer.send_offsets_to_transaction(
                {structs.TopicPartition(self.topic, 0):
                 structs.OffsetAndMetadata(0, f"{_MARKER_PREFIX}{time_ms}", -1)}, self.marker_group)
        except BaseException:
            # records still in the client would be dropped by the abort; it does not matter:
            # nothing of an aborted transaction is visible to read_committed readers
            _quietly(producer.abort_transaction)
            raise
        producer.commit_transaction()

    def _fenced(self, exc: BaseException, producer: Any) -> bool:
        """Whether ``exc`` means another producer with this transactional id took over:
        kafka-python raises ProducerFenced itself, or, once its transaction manager holds that
        fatal error, a KafkaError carrying it."""
        errors = self._kafka.errors
        kinds = (errors.ProducerFencedError, errors.InvalidProducerEpochError)
        seen: list[Any] = [getattr(getattr(producer, "_transaction_manager", None), "_last_error", None)]
        current: BaseException | None = exc
        while current is not None and len(seen) < 20:
            seen.append(current)
            seen.extend(current.args)
            current = current.__cause__ or current.__context__
        return any(isinstance(e, kinds) for e in seen)

    # ------------------------------------------------------------------ producer lifecycle
    def _open(self) -> Any:
        if self._producer is not None:
            return self._producer
        kafka = self._kafka = import_kafka()
        config = {"client_id": f"dstream-sink-{self.transactional_id}", **self.config,
                  "bootstrap_servers": self.bootstrap_servers,
                  "transactional_id": self.transactional_id}
        try:
            producer = open_client(kafka.KafkaProducer, **config)
        except kafka.errors.KafkaError as exc:
            raise KafkaSinkError(f"KafkaSink {self.transactional_id!r}: cannot reach Kafka at "
                                 f"{self.bootstrap_servers!r}: {exc}") from exc
        try:
            producer.init_transactions()      # fences earlier instances, aborts their open one
            self.last_committed_ms = self._read_marker(kafka)
        except BaseException:
            _quietly(lambda: producer.close(timeout=5))
            raise
        log.info("KafkaSink %s: producer ready, last committed batch %s", self.transactional_id,
                 self.last_committed_ms)
        self._producer = producer
        return producer

    def _read_marker(self, kafka: Any) -> int | None:
        consumer = open_client(kafka.KafkaConsumer, bootstrap_servers=self.bootstrap_servers,
                                group_id=self.marker_group, enable_auto_commit=False,
                                isolation_level="read_committed",
                                client_id=f"dstream-sink-{self.transactional_id}-marker")
        try:
            found = consumer.committed(kafka.structs.TopicPartition(self.topic, 0), metadata=True)
        finally:
            consumer.close(autocommit=False, timeout_ms=2000)
        if found is None or not found.metadata.startswith(_MARKER_PREFIX):
            return None
        return int(found.metadata[len(_MARKER_PREFIX):])

    def _abandon(self) -> None:
        """After a failed batch the producer's state is unknown: close it; the next batch opens
        a new one, whose ``init_transactions`` settles the old transaction and rereads the
        marker (which tells whether the failed commit went through after all)."""
        producer, self._producer = self._producer, None
        if producer is not None:
            _quietly(lambda: producer.close(timeout=5))

    def close(self) -> None:
        """Close the producer (the streaming context calls this when it stops)."""
        with self._lock:
            self._abandon()


def _quietly(action: Callable[[], Any]) -> None:
    try:
        action()
    except Exception as exc:   # noqa: BLE001 - cleanup after an error that is being raised
        log.debug("KafkaSink cleanup step failed: %r", exc)
