"""The transactional Kafka sink on Apache Kafka itself: one transaction per batch, a batch
committed before a restart is skipped, a zombie writer is fenced, a transaction left open by a
dead writer is aborted, and the batch's input offsets commit with its output."""

from __future__ import annotations

import datetime
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from dstream import Context, StreamingContext
from dstream.rdd import RDD
from dstream.streaming.inputs.queue import QueueInputDStream
from dstream.streaming.sinks import BatchOffsets, KafkaSink, kafka_offsets_of_batch
from dstream.streaming.sinks.kafka_sink import BATCH_HEADER, KafkaSinkError
from dstream.streaming.testing import advance_batch


def new_topic(bootstrap: str, prefix: str, partitions: int = 2) -> str:
    topic = f"{prefix}-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()
    return topic


def read_committed(bootstrap: str, topic: str) -> list[tuple[int, str, str]]:
    """Every committed record of ``topic``: ``(batch ms, key, value)``, up to the end offsets."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                             enable_auto_commit=False, isolation_level="read_committed")
    seen: list[tuple[int, str, str]] = []
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(partitions)
        ends = consumer.end_offsets(partitions)
        deadline = time.monotonic() + 60
        while any(consumer.position(p) < ends[p] for p in partitions):
            assert time.monotonic() < deadline, f"reading {topic} did not reach {ends}"
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    batch = int(dict(r.headers)[BATCH_HEADER])
                    seen.append((batch, r.key.decode() if r.key is not None else None, r.value.decode()))
    finally:
        consumer.close()
    return sorted(seen, key=lambda x: (x[0], str(x[1]), x[2]))


def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, Any]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                             isolation_level="read_committed")
    try:
        return {p: consumer.committed(TopicPartition(topic, p), metadata=True) for p in range(partitions)}
    finally:
        consumer.close(autocommit=False)


def at(ms: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ms / 1000)


@pytest.fixture
def sinks() -> Iterator[list[KafkaSink]]:
    """Sinks a test opens, closed afterwards."""
    opened: list[KafkaSink] = []
    yield opened
    for sink in opened:
        sink.close()


def test_save_to_kafka_writes_each_batch_in_one_transaction(apache_kafka_bootstrap: str,
                                                            tmp_path: Any) -> None:
    topic = new_topic(apache_kafka_bootstrap, "totals")
    with Context("local[2]", "sink-test") as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        stream = ssc.queueStream([[("a", 1), ("b", 2)], [], ["plain"]])
        stream.saveToKafka(apache_kafka_bootstrap, topic, {"linger.ms": "5"},
                           transactionalId=f"sink-test-{uuid.uuid4().hex[:6]}")
        sink = ssc._graph.outputs[0].func
        ssc.start()
        times = [advance_batch(ssc) for _ in range(3)]
        ssc.awaitTerminationOrTimeout(0)
        ssc.stop(stopSparkContext=False)
        assert sink._producer is None          # closed by stop()
    assert read_committed(apache_kafka_bootstrap, topic) == [
        (times[0], "a", "1"), (times[0], "b", "2"), (times[2], None, "plain")]
    marker = committed_offsets(apache_kafka_bootstrap, sink.marker_group, topic, 1)[0]
    assert marker.metadata == f"dstream batch {times[2]}" and sink.last_committed_ms == times[2]


def test_a_batch_committed_before_a_restart_is_skipped(apache_kafka_bootstrap: str,
                                                       sinks: list[KafkaSink]) -> None:
    topic = new_topic(apache_kafka_bootstrap, "rerun")
    tid = f"rerun-{uuid.uuid4().hex[:6]}"
    with Context("local", "sink-test") as ctx:
        first = KafkaSink(apache_kafka_bootstrap, topic, tid)
        sinks.append(first)
        first(at(1000), ctx.parallelize([("x", 1)]))
        first(at(2000), ctx.parallelize([("x", 2)]))
        first.close()
        # the restarted job: recovery re-runs batch 2000 (its checkpoint was not written)
        again = KafkaSink(apache_kafka_bootstrap, topic, tid)
        sinks.append(again)
        again(at(2000), ctx.parallelize([("x", 2)]))
        again(at(3000), ctx.parallelize([("x", 3)]))
        assert (again.skipped, again.last_committed_ms) == (1, 3000)
    assert read_committed(apache_kafka_bootstrap, topic) == [
        (1000, "x", "1"), (2000, "x", "2"), (3000, "x", "3")]


def test_a_zombie_writer_is_fenced(apache_kafka_bootstrap: str, sinks: list[KafkaSink]) -> None:
    topic = new_topic(apache_kafka_bootstrap, "zombie")
    tid = f"zombie-{uuid.uuid4().hex[:6]}"
    with Context("local", "sink-test") as ctx:
        zombie = KafkaSink(apache_kafka_bootstrap, topic, tid)
        sinks.append(zombie)
        zombie(at(1000), ctx.parallelize([("k", "zombie-1")]))
        successor = KafkaSink(apache_kafka_bootstrap, topic, tid)
        sinks.append(successor)
        successor(at(2000), ctx.parallelize([("k", "successor-2")]))
        with pytest.raises(KafkaSinkError, match=f"KafkaSink '{tid}': fenced while writing the "
                                                 "batch of 3000 ms"):
            zombie(at(3000), ctx.parallelize([("k", "zombie-3")]))
        successor(at(3000), ctx.parallelize([("k", "successor-3")]))
    assert read_committed(apache_kafka_bootstrap, topic) == [
        (1000, "k", "zombie-1"), (2000, "k", "successor-2"), (3000, "k", "successor-3")]


def test_a_transaction_left_open_by_a_dead_writer_is_aborted(apache_kafka_bootstrap: str,
                                                             sinks: list[KafkaSink]) -> None:
    topic = new_topic(apache_kafka_bootstrap, "open")
    tid = f"open-{uuid.uuid4().hex[:6]}"
    with Context("local", "sink-test") as ctx:
        dead = KafkaSink(apache_kafka_bootstrap, topic, tid)
        sinks.append(dead)
        dead(at(1000), ctx.parallelize([("k", "one")]))
        # the writer of batch 2000 got its records into the log, then died before committing
        producer = dead._open()
        producer.begin_transaction()
        producer.send(topic, key=b"k", value=b"uncommitted", headers=[(BATCH_HEADER, b"2000")])
        producer.flush(timeout=30)
        restarted = KafkaSink(apache_kafka_bootstrap, topic, tid)
        sinks.append(restarted)
        restarted(at(2000), ctx.parallelize([("k", "two")]))
        assert restarted.skipped == 0
    assert read_committed(apache_kafka_bootstrap, topic) == [(1000, "k", "one"), (2000, "k", "two")]


class OffsetQueueStream(QueueInputDStream):
    """A queue stream that reports Kafka offsets for its batches, as a Kafka input does."""

    def __init__(self, ssc: StreamingContext, rdds: list[RDD], group: str,
                 offsets: dict[int, dict[tuple[str, int], int]]) -> None:
        super().__init__(ssc, rdds, True, None)
        self.group = group
        self.offsets = offsets

    def kafka_batch_offsets(self, time_ms: int) -> BatchOffsets | None:
        found = self.offsets.get(time_ms)
        return BatchOffsets(self.group, found) if found else None


def test_input_offsets_commit_in_the_batch_transaction(apache_kafka_bootstrap: str) -> None:
    source = new_topic(apache_kafka_bootstrap, "source", partitions=2)
    out = new_topic(apache_kafka_bootstrap, "out")
    group = f"reader-{uuid.uuid4().hex[:6]}"
    with Context("local", "sink-test") as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        offsets = {1000: {(source, 0): 5, (source, 1): 2}, 3000: {(source, 1): 9}}
        stream = OffsetQueueStream(ssc, [ctx.parallelize([("a", 1)]), ctx.parallelize([]),
                                         ctx.parallelize([])], group, offsets)
        doubled = stream.map(lambda kv: (kv[0], kv[1] * 2))
        assert kafka_offsets_of_batch(doubled, 1000) == [BatchOffsets(group, offsets[1000])]
        doubled.saveToKafka(apache_kafka_bootstrap, out, transactionalId=f"offsets-{group}")
        ssc.start()
        advance_batch(ssc)
        after_first = committed_offsets(apache_kafka_bootstrap, group, source, 2)
        advance_batch(ssc)
        advance_batch(ssc)
        ssc.awaitTerminationOrTimeout(0)
        ssc.stop(stopSparkContext=False)
    assert {p: o.offset for p, o in after_first.items()} == {0: 5, 1: 2}
    final = committed_offsets(apache_kafka_bootstrap, group, source, 2)
    assert {p: o.offset for p, o in final.items()} == {0: 5, 1: 9}
    # batch 3000 had no records but consumed input: its transaction carried the offsets only
    assert read_committed(apache_kafka_bootstrap, out) == [(1000, "a", "2")]


def test_kafka_sink_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="KafkaSink needs a non-empty transactionalId"):
        KafkaSink("127.0.0.1:9092", "t", "")
    with pytest.raises(ValueError, match="kafkaParams may not set 'transactional_id'"):
        KafkaSink("127.0.0.1:9092", "t", "x", {"transactional.id": "other"})
    with pytest.raises(TypeError, match="valueSerializer must be a function"):
        KafkaSink("127.0.0.1:9092", "t", "x", valueSerializer="utf-8")  # type: ignore[arg-type]


def test_fencing_is_recognised_in_each_form_kafka_python_raises_it() -> None:
    """kafka-python raises ProducerFenced from the call that meets it, or a KafkaError that
    carries it from every later call (the sender thread may meet it first)."""
    from kafka import errors

    sink = KafkaSink("127.0.0.1:9092", "t", "x")
    sink._kafka = __import__("kafka")
    fenced = errors.ProducerFencedError()
    assert sink._fenced(fenced, None)
    assert sink._fenced(errors.KafkaError("Cannot perform send because at least one previous "
                                          "transactional or idempotent request has failed", fenced), None)
    try:
        try:
            raise fenced
        except errors.ProducerFencedError as e:
            raise errors.KafkaError("Cannot execute transactional method") from e
    except errors.KafkaError as chained:
        assert sink._fenced(chained, None)
    assert not sink._fenced(errors.KafkaTimeoutError("Timeout expired"), None)
