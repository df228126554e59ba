"""The direct Kafka stream on Apache Kafka itself: offset ranges planned per batch by the
driver, read by the tasks, bounded by the rate limits, replayed exactly after a restart,
committed to the consumer group and reported in ``BatchInfo``.

Records are produced first; batches are then stepped with the manual clock, so no test waits
for a wall-clock batch.
"""

from __future__ import annotations

import collections
import logging
import operator
import os
import random
import socket
import threading
from typing import Any, Iterator

import pytest

from dstream import Conf, Context, KafkaUtils, OffsetRange, StreamingContext, StreamingListener, TopicAndPartition
from dstream.streaming.inputs.kafka_direct import (DEFAULT_INITIAL_RATE_PER_PARTITION,
                                            KafkaConfigurationError)
from dstream.streaming.testing import advance_batch
from tests import servers

WORDS = [f"w{i}" for i in range(50)]


def produce(bootstrap: str, topic: str, n: int, seed: int = 7,
            partitions: int | None = None) -> collections.Counter[str]:
    """``n`` words, spread over the partitions by key; their counts."""
    from kafka import KafkaProducer

    rng = random.Random(seed)
    counts: collections.Counter[str] = collections.Counter()
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=50, batch_size=512 * 1024,
                             max_in_flight_requests_per_connection=5)
    try:
        for i in range(n):
            word = rng.choice(WORDS)
            counts[word] += 1
            producer.send(topic, word.encode(), key=str(i).encode(),
                          partition=None if partitions is None else i % partitions)
        producer.flush()
    finally:
        producer.close()
    return counts


def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
        return {tp.partition: o for tp, o in ends.items()}
    finally:
        consumer.close()


def committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int | None]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return {p: consumer.committed(TopicPartition(topic, p)) for p in range(partitions)}
    finally:
        consumer.close()


def step_to(ssc: StreamingContext, time_ms: int, timeout: float = 60.0) -> None:
    """Move the manual clock to ``time_ms`` and wait until that batch completed."""
    ssc._clock.set_time(time_ms)
    if not ssc._scheduler.wait_for_batch(time_ms, timeout):
        raise TimeoutError(f"the batch of {time_ms} ms did not complete within {timeout} s")


@pytest.fixture
def context() -> Iterator[Any]:
    made: list[Context] = []

    def make(master: str = "local[2]", **settings: str) -> Context:
        conf = Conf()
        for key, value in settings.items():
            conf.set(key, value)
        ctx = Context(master, "kafka-direct-test", conf=conf)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.stop()


def check_cover(ranges: list[OffsetRange], ends: dict[int, int], start: int = 0) -> None:
    """Every offset of ``[start, end)`` of every partition in exactly one range."""
    by_partition: dict[int, list[OffsetRange]] = collections.defaultdict(list)
    for r in ranges:
        by_partition[r.partition].append(r)
    assert set(by_partition) == {p for p, end in ends.items() if end > start}
    for p, rs in by_partition.items():
        rs.sort(key=lambda r: r.fromOffset)
        assert rs[0].fromOffset == start
        for a, b in zip(rs, rs[1:]):
            assert a.untilOffset == b.fromOffset, (a, b)
        assert rs[-1].untilOffset == ends[p]


def test_counts_200000_records_exactly_with_a_window_and_running_totals(
        apache_kafka_bootstrap: str, context: Any, tmp_path: Any) -> None:
    topic = servers.create_topic(apache_kafka_bootstrap, "direct-count", 3)
    produced = produce(apache_kafka_bootstrap, topic, 200_000)
    ends = end_offsets(apache_kafka_bootstrap, topic, 3)
    assert sum(ends.values()) == 200_000
    rate = 25_000
    ctx = context("local[2]", **{"dstream.streaming.kafka.maxRatePerPartition": str(rate)})
    ssc = StreamingContext(ctx, 1, clock="manual")
    ssc.checkpoint(os.fspath(tmp_path / "checkpoint"))
    stream = KafkaUtils.createDirectStream(ssc, [topic], {"metadata.broker.list": apache_kafka_bootstrap,
                                                          "auto.offset.reset": "smallest"})
    batch_ranges: list[list[OffsetRange]] = []
    stream.foreachRDD(lambda rdd: batch_ranges.append(rdd.offsetRanges()))
    words = stream.map(lambda kv: (kv[1], 1))
    totals: list[dict[str, int]] = []
    words.updateStateByKey(lambda new, old: sum(new) + (old or 0)).foreachRDD(
        lambda rdd: totals.append(dict(rdd.collect())))
    windows: list[dict[str, int]] = []
    words.reduceByKeyAndWindow(operator.add, operator.sub, 20, 1).foreachRDD(
        lambda rdd: windows.append(dict(rdd.collect())))
    ssc.start()
    try:
        batches = -(-max(ends.values()) // rate) + 1
        for _ in range(batches):
            advance_batch(ssc)
    finally:
        ssc.stop(stopSparkContext=False)
    assert totals[-1] == dict(produced)
    assert {k: v for k, v in windows[-1].items() if v} == dict(produced)
    assert all(r.count() <= rate for ranges in batch_ranges for r in ranges)
    assert batch_ranges[-1] == []          # everything was read by the batch before
    check_cover([r for ranges in batch_ranges for r in ranges], ends)


def test_ranges_are_read_by_tasks_in_the_worker_processes(apache_kafka_bootstrap: str,
                                                          context: Any, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="dstream.streaming.inputs.kafka_direct")
    topic = servers.create_topic(apache_kafka_bootstrap, "direct-workers", 3)
    produce(apache_kafka_bootstrap, topic, 3000, partitions=3)
    ssc = StreamingContext(context("local[2]"), 1, clock="manual")
    stream = KafkaUtils.createDirectStream(
        ssc, topic, {"bootstrap.servers": apache_kafka_bootstrap, "auto.offset.reset": "earliest"},
        messageHandler=lambda m: (m.topic, m.partition, m.offset, os.getpid()))
    seen: list[list[Any]] = []
    partitions: list[int] = []
    stream.foreachRDD(lambda rdd: (seen.append(rdd.collect()), partitions.append(rdd.getNumPartitions())))
    ssc.start()
    try:
        advance_batch(ssc)
    finally:
        ssc.stop(stopSparkContext=False)
    assert partitions == [3]
    records = seen[0]
    assert sorted((t, p, o) for t, p, o, _ in records) == [(topic, p, o) for p in range(3) for o in range(1000)]
    assert os.getpid() not in {pid for *_, pid in records}
    read_lines = [r.getMessage() for r in caplog.records if "read by process" in r.getMessage()]
    assert sorted(read_lines) == sorted(
        f"directKafkaStream-0 batch 1000: OffsetRange(topic: {topic}, partition: {p}, range: [0 -> 1000]) "
        f"read by process {pid} on {socket.gethostname()}" for p, pid in
        sorted({(p, pid) for _, p, _, pid in records}))
    assert stream.reads.value == []            # logged, then emptied


def test_max_rate_bounds_every_batch_and_the_first_after_a_restart(
        apache_kafka_bootstrap: str, context: Any, tmp_path: Any) -> None:
    topic = servers.create_topic(apache_kafka_bootstrap, "direct-rate", 3)
    produce(apache_kafka_bootstrap, topic, 3000, partitions=3)
    checkpoint = os.fspath(tmp_path / "checkpoint")
    settings = {"dstream.streaming.kafka.maxRatePerPartition": "200"}
    params = {"metadata.broker.list": apache_kafka_bootstrap, "auto.offset.reset": "smallest"}
    seen: list[list[OffsetRange]] = []

    def setup() -> StreamingContext:
        ssc = StreamingContext(context("local", **settings), 0.5, clock="manual")
        ssc.checkpoint(checkpoint)
        KafkaUtils.createDirectStream(ssc, [topic], params).foreachRDD(
            lambda rdd: seen.append(rdd.offsetRanges()))
        return ssc

    ssc = StreamingContext.getOrCreate(checkpoint, setup)
    ssc.start()
    for _ in range(3):
        last = advance_batch(ssc)
    ssc.stop(stopSparkContext=True, stopGraceFully=True)
    assert len(seen) == 3 and all(len(rs) == 3 and all(r.count() == 100 for r in rs) for rs in seen)

    ssc = StreamingContext.getOrCreate(checkpoint, setup)
    ssc.start()
    try:
        step_to(ssc, last + 500)
        first_after_restart = seen[3]
        for _ in range(7):
            step_to(ssc, ssc._scheduler.last_completed_ms + 500)
    finally:
        ssc.stop(stopSparkContext=True)
    assert [r.count() for r in first_after_restart] == [100, 100, 100]
    assert all(r.count() <= 100 for rs in seen for r in rs)
    check_cover([r for rs in seen for r in rs], end_offsets(apache_kafka_bootstrap, topic, 3))


class _Failing:
    """An output that fails while ``armed``: the batch gets no metadata checkpoint."""

    def __init__(self) -> None:
        self.armed = False

    def __call__(self, rdd: Any) -> None:
        if self.armed:
            raise RuntimeError("output failed on purpose")


def test_recovery_replays_the_saved_ranges_of_an_unfinished_batch(
        apache_kafka_bootstrap: str, context: Any, tmp_path: Any) -> None:
    topic = servers.create_topic(apache_kafka_bootstrap, "direct-replay", 2)
    produce(apache_kafka_bootstrap, topic, 400, partitions=2)
    checkpoint = os.fspath(tmp_path / "checkpoint")
    failing = _Failing()
    seen: dict[int, list[OffsetRange]] = {}
    counts: dict[int, int] = {}

    def setup() -> StreamingContext:
        ssc = StreamingContext(context("local"), 1, clock="manual")
        ssc.checkpoint(checkpoint)
        stream = KafkaUtils.createDirectStream(ssc, [topic], {"bootstrap.servers": apache_kafka_bootstrap,
                                                              "auto.offset.reset": "earliest"})
        stream.foreachRDD(lambda t, rdd: (seen.__setitem__(int(t.timestamp() * 1000), rdd.offsetRanges()),
                                          counts.__setitem__(int(t.timestamp() * 1000), rdd.count())))
        stream.foreachRDD(failing)
        return ssc

    ssc = StreamingContext.getOrCreate(checkpoint, setup)
    ssc.start()
    first = advance_batch(ssc)
    produce(apache_kafka_bootstrap, topic, 600, seed=8, partitions=2)
    failing.armed = True
    failed = advance_batch(ssc)            # planned and saved, its outputs fail: no checkpoint
    failed_ranges = seen[failed]
    ssc.stop(stopSparkContext=True)
    with pytest.raises(RuntimeError, match="on purpose"):
        ssc.awaitTerminationOrTimeout(0)
    produce(apache_kafka_bootstrap, topic, 500, seed=9, partitions=2)   # a new plan would differ

    failing.armed = False
    seen.clear()
    ssc = StreamingContext.getOrCreate(checkpoint, setup)
    ssc.start()
    try:
        step_to(ssc, failed)
        step_to(ssc, failed + 1000)
    finally:
        ssc.stop(stopSparkContext=True)
    assert seen[failed] == failed_ranges and counts[failed] == 600
    assert [(r.partition, r.fromOffset) for r in seen[failed + 1000]] == [
        (r.partition, r.untilOffset) for r in failed_ranges]
    assert sum(counts[t] for t in (first, failed, failed + 1000)) == 1500


class _Batches(StreamingListener):
    def __init__(self) -> None:
        self.infos: list[Any] = []
        self.done = threading.Condition()

    def onBatchCompleted(self, batchCompleted: Any) -> None:
        with self.done:
            self.infos.append(batchCompleted.batchInfo())
            self.done.notify_all()


def test_offsets_are_committed_to_the_group_and_reported_in_batch_info(
        apache_kafka_bootstrap: str, context: Any, tmp_path: Any) -> None:
    topic = servers.create_topic(apache_kafka_bootstrap, "direct-commit", 2)
    produce(apache_kafka_bootstrap, topic, 500, partitions=2)
    group = f"direct-{topic}"
    ssc = StreamingContext(context("local"), 1, clock="manual")
    ssc.checkpoint(os.fspath(tmp_path / "checkpoint"))
    listener = _Batches()
    ssc.addStreamingListener(listener)
    stream = KafkaUtils.createDirectStream(ssc, [topic], {
        "metadata.broker.list": apache_kafka_bootstrap, "group.id": group,
        "auto.offset.reset": "smallest"})
    stream.foreachRDD(lambda rdd: rdd.count())
    ssc.start()
    try:
        t = advance_batch(ssc)
    finally:
        ssc.stop(stopSparkContext=True, stopGraceFully=True)   # waits for the checkpoint and commit
    assert committed(apache_kafka_bootstrap, group, topic, 2) == {0: 250, 1: 250}
    info = next(i for i in listener.infos if i.batch_time_ms == t)
    assert info.input_records[stream.stream_id] == 500
    assert sorted(info.input_metadata[stream.stream_id]["offsetRanges"], key=lambda r: r["partition"]) == [
        {"topic": topic, "partition": p, "fromOffset": 0, "untilOffset": 250} for p in range(2)]

    # a new job of the same group without a checkpoint starts at the committed offsets
    produce(apache_kafka_bootstrap, topic, 100, partitions=2)
    ssc = StreamingContext(context("local"), 1, clock="manual")
    stream = KafkaUtils.createDirectStream(ssc, [topic], {
        "metadata.broker.list": apache_kafka_bootstrap, "group.id": group})
    ranges: list[OffsetRange] = []
    stream.foreachRDD(lambda rdd: ranges.extend(rdd.offsetRanges()))
    ssc.start()
    try:
        advance_batch(ssc)
    finally:
        ssc.stop(stopSparkContext=False)
    assert sorted((r.partition, r.fromOffset, r.untilOffset) for r in ranges) == [(0, 250, 300), (1, 250, 300)]


def test_backpressure_without_initial_rate_bounds_the_first_batch_after_start_and_restart(
        apache_kafka_bootstrap: str, context: Any, tmp_path: Any) -> None:
    topic = servers.create_topic(apache_kafka_bootstrap, "direct-bp", 1)
    produce(apache_kafka_bootstrap, topic, 5000)
    checkpoint = os.fspath(tmp_path / "checkpoint")
    counts: list[int] = []

    def setup() -> StreamingContext:
        ssc = StreamingContext(context("local", **{"dstream.streaming.backpressure.enabled": "true"}),
                               1, clock="manual")
        ssc.checkpoint(checkpoint)
        KafkaUtils.createDirectStream(ssc, [topic], {"bootstrap.servers": apache_kafka_bootstrap,
                                                     "auto.offset.reset": "smallest"}).foreachRDD(
            lambda rdd: counts.append(rdd.count()))
        return ssc

    ssc = StreamingContext.getOrCreate(checkpoint, setup)
    ssc.start()
    last = advance_batch(ssc)
    ssc.stop(stopSparkContext=True, stopGraceFully=True)
    ssc = StreamingContext.getOrCreate(checkpoint, setup)
    ssc.start()
    try:
        step_to(ssc, last + 1000)
    finally:
        ssc.stop(stopSparkContext=True)
    default = int(DEFAULT_INITIAL_RATE_PER_PARTITION)
    assert counts == [default, default]          # never the backlog of 5000, after a restart neither


def test_out_of_retention_offsets_follow_auto_offset_reset_and_are_counted(
        apache_kafka_bootstrap: str, context: Any) -> None:
    from kafka import KafkaAdminClient, TopicPartition

    topic = servers.create_topic(apache_kafka_bootstrap, "direct-retention", 1)
    produce(apache_kafka_bootstrap, topic, 100)
    admin = KafkaAdminClient(bootstrap_servers=apache_kafka_bootstrap)
    try:
        admin.delete_records({TopicPartition(topic, 0): 40})       # the log now starts at 40
    finally:
        admin.close()
    listener = _Batches()
    ssc = StreamingContext(context("local"), 1, clock="manual")
    ssc.addStreamingListener(listener)
    stream = KafkaUtils.createDirectStream(ssc, [topic], {"bootstrap.servers": apache_kafka_bootstrap,
                                                          "auto.offset.reset": "smallest"},
                                           fromOffsets={TopicAndPartition(topic, 0): 10})
    ranges: list[OffsetRange] = []
    stream.foreachRDD(lambda rdd: ranges.extend(rdd.offsetRanges()))
    ssc.start()
    try:
        t = advance_batch(ssc)
    finally:
        ssc.stop(stopSparkContext=False)
    assert ranges == [OffsetRange(topic, 0, 40, 100)]
    assert stream.skipped_offsets == 30
    with listener.done:
        listener.done.wait_for(lambda: any(i.batch_time_ms == t for i in listener.infos), 10)
    info = next(i for i in listener.infos if i.batch_time_ms == t)
    assert info.input_metadata[stream.stream_id]["skippedOffsets"] == 30


def test_new_partitions_are_picked_up_from_their_start(apache_kafka_bootstrap: str, context: Any) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewPartitions

    topic = servers.create_topic(apache_kafka_bootstrap, "direct-grow", 1)
    produce(apache_kafka_bootstrap, topic, 10, partitions=1)
    ssc = StreamingContext(context("local"), 1, clock="manual")
    stream = KafkaUtils.createDirectStream(ssc, [topic], {"bootstrap.servers": apache_kafka_bootstrap,
                                                          "auto.offset.reset": "earliest",
                                                          "metadata.max.age.ms": "200"})
    ranges: list[OffsetRange] = []
    stream.foreachRDD(lambda rdd: ranges.extend(rdd.offsetRanges()))
    ssc.start()
    try:
        advance_batch(ssc)
        admin = KafkaAdminClient(bootstrap_servers=apache_kafka_bootstrap)
        try:
            admin.create_partitions({topic: NewPartitions(total_count=2)})
        finally:
            admin.close()
        produce(apache_kafka_bootstrap, topic, 10, partitions=2)
        for _ in range(300):                 # each batch looks again; bounded, not timed
            advance_batch(ssc)
            if any(r.partition == 1 for r in ranges):
                break
    finally:
        ssc.stop(stopSparkContext=False)
    assert OffsetRange(topic, 1, 0, 5) in ranges
    assert sum(r.count() for r in ranges) == 20


def test_a_missing_topic_fails_at_start_naming_it(apache_kafka_bootstrap: str, context: Any) -> None:
    ssc = StreamingContext(context("local"), 1, clock="manual")
    KafkaUtils.createDirectStream(ssc, ["no-such-topic-xyz"], {"bootstrap.servers": apache_kafka_bootstrap})\
        .foreachRDD(lambda rdd: None)
    with pytest.raises(KafkaConfigurationError, match="'no-such-topic-xyz' does not exist"):
        ssc.start()
    ssc.stop(stopSparkContext=False)


def test_an_unreachable_broker_gives_empty_batches_and_a_warning(context: Any, caplog: Any) -> None:
    port = servers.free_port()
    ssc = StreamingContext(context("local"), 1, clock="manual")
    stream = KafkaUtils.createDirectStream(ssc, ["t"], {"bootstrap.servers": f"127.0.0.1:{port}",
                                                        "request.timeout.ms": "1000"})
    counts: list[int] = []
    stream.foreachRDD(lambda rdd: counts.append(rdd.count()))
    with caplog.at_level(logging.WARNING, logger="dstream.streaming.inputs.kafka_direct"):
        ssc.start()
        try:
            advance_batch(ssc)
        finally:
            ssc.stop(stopSparkContext=False)
    assert counts == [0]
    assert f"127.0.0.1:{port}" in caplog.text and "retrying next batch" in caplog.text


def test_create_rdd_reads_the_given_ranges(apache_kafka_bootstrap: str, context: Any) -> None:
    topic = servers.create_topic(apache_kafka_bootstrap, "direct-rdd", 2)
    produce(apache_kafka_bootstrap, topic, 100, partitions=2)
    ctx = context("local[2]")
    rdd = KafkaUtils.createRDD(ctx, {"metadata.broker.list": apache_kafka_bootstrap},
                               [OffsetRange(topic, 0, 10, 20), OffsetRange(topic, 1, 45, 50)],
                               messageHandler=lambda m: (m.partition, m.offset, m.key))
    assert rdd.getNumPartitions() == 2
    assert rdd.collect() == [(0, o, str(2 * o)) for o in range(10, 20)] + [
        (1, o, str(2 * o + 1)) for o in range(45, 50)]


def test_definition_errors_name_the_argument(context: Any) -> None:
    ssc = StreamingContext(context("local"), 1)
    with pytest.raises(ValueError, match="names no broker"):
        KafkaUtils.createDirectStream(ssc, ["t"], {"group.id": "g"})
    with pytest.raises(ValueError, match="topics must be non-empty"):
        KafkaUtils.createDirectStream(ssc, [], {"bootstrap.servers": "h:9"})
    with pytest.raises(ValueError, match="unknown Kafka parameter 'metadata.broker.lst'"):
        KafkaUtils.createDirectStream(ssc, ["t"], {"metadata.broker.lst": "h:9"})
    with pytest.raises(ValueError, match=r"fromOffsets\[.*must be an int >= 0, got -1"):
        KafkaUtils.createDirectStream(ssc, ["t"], {"bootstrap.servers": "h:9"},
                                      fromOffsets={TopicAndPartition("t", 0): -1})
    with pytest.raises(ValueError, match="untilOffset 1 is before fromOffset 5"):
        OffsetRange("t", 0, 5, 1)


def test_read_committed_ranges_end_by_position_past_markers_and_aborted_records(
        apache_kafka_bootstrap: str, context: Any) -> None:
    from kafka import KafkaProducer

    topic = servers.create_topic(apache_kafka_bootstrap, "direct-txn", 1)
    producer = KafkaProducer(bootstrap_servers=apache_kafka_bootstrap,
                             transactional_id=f"direct-test-{topic}")
    try:
        producer.init_transactions()
        for kept, values in ((True, range(10)), (False, range(100, 105)), (True, range(10, 20))):
            producer.begin_transaction()
            for v in values:
                producer.send(topic, str(v).encode())
            producer.flush()
            producer.commit_transaction() if kept else producer.abort_transaction()
    finally:
        producer.close()
    ssc = StreamingContext(context("local[2]"), 1, clock="manual")
    stream = KafkaUtils.createDirectStream(ssc, [topic], {"bootstrap.servers": apache_kafka_bootstrap,
                                                          "auto.offset.reset": "smallest",
                                                          "isolation.level": "read_committed"})
    seen: list[list[Any]] = []
    ranges: list[OffsetRange] = []
    stream.foreachRDD(lambda rdd: (seen.append(rdd.values().collect()), ranges.extend(rdd.offsetRanges())))
    ssc.start()
    try:
        advance_batch(ssc)
    finally:
        ssc.stop(stopSparkContext=False)
    assert seen == [[str(v) for v in range(20)]]
    # 25 records and 3 transaction markers: the range is longer than what it holds
    assert ranges == [OffsetRange(topic, 0, 0, 28)]
