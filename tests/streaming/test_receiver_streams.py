"""Receiver and file input streams through the whole engine: exact counts, bad input counted,
blocks and the write-ahead log bounded over thousands of batches, Kafka with a real broker.

Batches are stepped with the manual clock once the records they must hold have arrived
(``ReceivedBlockTracker.wait_for_records``); nothing sleeps.
"""

from __future__ import annotations

import operator
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from dstream import (
    Conf,
    Context,
    KafkaUtils,
    Receiver,
    StreamingContext,
    StreamingListener,
)
from dstream.streaming.testing import advance_batch, collect_batches
from tests import servers


class LineServer:
    """A TCP server on 127.0.0.1 that sends what the test gives it to one client at a time."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._connections: list[socket.socket] = []
        self._accepted = threading.Condition()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with self._accepted:
                self._connections.append(conn)
                self._accepted.notify_all()

    def connection(self, number: int, timeout: float = 30) -> socket.socket:
        """The ``number``-th connection (1-based), once the receiver has made it."""
        with self._accepted:
            if not self._accepted.wait_for(lambda: len(self._connections) >= number, timeout):
                raise TimeoutError(f"the receiver did not connect (connection {number})")
            return self._connections[number - 1]

    def close(self) -> None:
        self._server.close()
        for conn in self._connections:
            conn.close()


@pytest.fixture
def line_server() -> Iterator[LineServer]:
    server = LineServer()
    try:
        yield server
    finally:
        server.close()


class BadRecords(StreamingListener):
    def __init__(self) -> None:
        self.reasons: list[str] = []

    def onReceiverBadRecord(self, event: Any) -> None:
        self.reasons.append(event.details.get("reason", "?"))


def step_until(ssc: StreamingContext, records: int, timeout: float = 30) -> None:
    """Wait until ``records`` records were received in all, then run one batch."""
    assert ssc._receiver_tracker.tracker.wait_for_records(records, timeout), (
        f"only {ssc._receiver_tracker.tracker.records_received} of {records} records arrived")
    advance_batch(ssc)


def test_socket_text_stream_counts_exactly_and_survives_a_reconnect(line_server: LineServer) -> None:
    with Context("local[2]", "socket") as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        counts = collect_batches(ssc.socketTextStream("127.0.0.1", line_server.port)
                                 .flatMap(str.split).map(lambda w: (w, 1)).reduceByKey(operator.add))
        ssc.start()
        try:
            first = line_server.connection(1)
            first.sendall(b"a b\nb c\n" * 500)
            step_until(ssc, 1000)
            first.close()                                 # the peer goes away; the receiver reconnects
            line_server.connection(2).sendall(b"a\n" * 300)
            step_until(ssc, 1300)
        finally:
            ssc.stop(stopSparkContext=False)
    totals: dict[str, int] = {}
    for batch in counts:
        for word, n in batch:
            totals[word] = totals.get(word, 0) + n
    assert totals == {"a": 800, "b": 1000, "c": 500}


def test_socket_bad_bytes_and_oversized_lines_are_counted_and_the_stream_goes_on(
        line_server: LineServer) -> None:
    conf = Conf().set("dstream.streaming.receiver.maxRecordBytes", 100)
    with Context("local", "socket-bad", conf=conf) as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        bad = BadRecords()
        ssc.addStreamingListener(bad)
        lines = collect_batches(ssc.socketTextStream("127.0.0.1", line_server.port))
        ssc.start()
        try:
            conn = line_server.connection(1)
            conn.sendall(b"good 1\n" + b"caf\xe9 bad\n" + b"x" * 500 + b"\n" + b"good 2\n")
            step_until(ssc, 3)
            conn.sendall(b"good 3\n")
            step_until(ssc, 4)
            ssc._bus.wait_until_empty()
        finally:
            ssc.stop(stopSparkContext=False)
    received = [line for batch in lines for line in batch]
    assert received == ["good 1", "caf\ufffd bad", "good 2", "good 3"]   # replaced, kept, counted
    assert sorted(bad.reasons) == sorted(set(bad.reasons)) and len(bad.reasons) == 2, bad.reasons


def test_text_file_stream_reads_each_file_once(tmp_path: Any) -> None:
    directory = tmp_path / "in"
    directory.mkdir()
    with Context("local", "files") as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        counts = collect_batches(ssc.textFileStream(os.fspath(directory)).count())
        ssc.start()
        try:
            for batch in range(1, 4):
                staged = tmp_path / f"part-{batch}.txt"
                staged.write_text("line\n" * batch)
                os.utime(staged, ns=((batch * 1000 - 500) * 1_000_000,) * 2)
                os.replace(staged, directory / staged.name)          # appears whole
                advance_batch(ssc)
            advance_batch(ssc)
        finally:
            ssc.stop(stopSparkContext=False)
    assert counts == [[1], [2], [3], []]     # no new file: an RDD with no partition, no count


class Counter(Receiver):
    """Stores ``per_block`` numbered records whenever the test calls ``emit``."""

    def onStart(self) -> None:
        pass

    def onStop(self) -> None:
        pass

    def emit(self, records: list[int]) -> None:
        self.store(records)          # a reliable bulk store: its own block, returns once stored


def test_blocks_and_write_ahead_log_stay_bounded_over_thousands_of_batches(tmp_path: Any) -> None:
    conf = (Conf().set("dstream.streaming.receiver.writeAheadLog.enable", "true")
            .set("dstream.streaming.receiver.writeAheadLog.rollingIntervalSecs", 5))
    checkpoint = os.fspath(tmp_path / "ckpt")
    with Context("local", "bounded", conf=conf) as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.checkpoint(checkpoint)
        receiver = Counter()
        stream = ssc.receiverStream(receiver)
        windowed = collect_batches(stream.window(3, 1).count())
        totals = collect_batches(stream.map(lambda x: ("n", x))
                                 .updateStateByKey(lambda new, old: sum(new) + (old or 0)))
        ssc.start()
        samples = []
        try:
            for batch in range(1, 2001):
                receiver.emit([1] * 5)
                step_until(ssc, 5 * batch)
                if batch % 250 in (248, 249, 0):
                    # the last three generations written one batch apart: the log is cleaned
                    # up to what the oldest retained generation settled
                    assert ssc._checkpoints.manager.flush(30)
                if batch % 250 == 0:
                    samples.append((len(ctx._block_manager.block_ids()),
                                    len(ssc._checkpoints.manager.store.list("wal/"))))
        finally:
            ssc.stop(stopSparkContext=False)
    assert windowed[-1] == [15] and totals[-1] == [("n", 2000 * 5)]
    blocks, segments = zip(*samples[1:])
    # remember: 2 checkpoint intervals; a segment goes once the oldest retained generation
    # has all its blocks settled
    assert max(blocks) <= 60 and max(segments) <= 6, samples
    assert blocks[-1] <= blocks[0] + 5 and segments[-1] <= segments[0] + 2, samples


def test_kafka_stream_counts_200000_records_exactly_in_a_window(kafka_bootstrap: str) -> None:
    from kafka import KafkaProducer

    topic = servers.create_topic(kafka_bootstrap, "words")
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=50, batch_size=1 << 18)
    try:
        for i in range(200_000):
            producer.send(topic, f"w{i % 10}".encode())
        producer.flush()
    finally:
        producer.close()
    with Context("local[2]", "kafka") as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.checkpoint(os.fspath(__import__("tempfile").mkdtemp()))
        pairs = KafkaUtils.createStream(ssc, kafka_bootstrap, f"g-{topic}", [topic],
                                        {"session_timeout_ms": 6000, "heartbeat_interval_ms": 2000,
                                         "auto_offset_reset": "earliest"})
        words = pairs.map(lambda kv: (kv[1], 1))
        window = collect_batches(words.reduceByKeyAndWindow(operator.add, operator.sub, 600, 1))
        ssc.start()
        try:
            received = 0
            while received < 200_000:
                if not ssc._receiver_tracker.tracker.wait_for_records(received + 1, 60):
                    break
                received = ssc._receiver_tracker.tracker.records_received
                advance_batch(ssc)
            advance_batch(ssc)
        finally:
            ssc.stop(stopSparkContext=False)
    assert dict(window[-1]) == {f"w{i}": 20_000 for i in range(10)}


@pytest.mark.parametrize("policy, expected", [("replace", ["ok", "caf\ufffd", "fine"]),
                                              ("strict", ["ok", "fine"])])
def test_undecodable_lines_in_files_are_counted_and_the_stream_goes_on(
        tmp_path: Any, policy: str, expected: list[str]) -> None:
    directory = tmp_path / "in"
    directory.mkdir()
    conf = Conf().set("dstream.streaming.receiver.decodeErrors", policy)
    with Context("local[2]", "bad-files", conf=conf) as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        bad = BadRecords()
        ssc.addStreamingListener(bad)
        lines = collect_batches(ssc.textFileStream(os.fspath(directory)))
        ssc.start()
        try:
            for batch, content in enumerate([b"ok\ncaf\xe9\n", b"fine\n"], 1):
                staged = tmp_path / f"f{batch}.txt"
                staged.write_bytes(content)
                os.utime(staged, ns=((batch * 1000 - 500) * 1_000_000,) * 2)
                os.replace(staged, directory / staged.name)
                advance_batch(ssc)
            ssc._bus.wait_until_empty()
        finally:
            ssc.stop(stopSparkContext=False)
    assert [line for batch in lines for line in batch] == expected
    assert bad.reasons == ["undecodable"]


def test_kafka_offsets_are_committed_by_the_engine_after_the_batches_including_a_graceful_stop(
        kafka_bootstrap: str) -> None:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    topic = servers.create_topic(kafka_bootstrap, "commits")
    group = f"g-{topic}"
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=20)
    try:
        for i in range(3000):
            producer.send(topic, f"w{i}".encode(), partition=i % 3)
        producer.flush()
    finally:
        producer.close()
    with Context("local", "commits") as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        stream = KafkaUtils.createStream(ssc, kafka_bootstrap, group, [topic],
                                         {"session_timeout_ms": 6000, "heartbeat_interval_ms": 2000,
                                         "auto_offset_reset": "earliest"})
        counts = collect_batches(stream.count())
        ssc.start()
        try:
            step_until(ssc, 1000)          # a batch, then more arrives before the stop
            # nothing is committed before the batch holding it has succeeded
            counted = sum(c for batch in counts for c in batch)
            assert sum(stream.receiver.committed_offsets.values()) <= counted
        finally:
            ssc.stop(stopSparkContext=False, stopGraceFully=True)
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False)
    try:
        committed = {p: consumer.committed(TopicPartition(topic, p)) for p in range(3)}
    finally:
        consumer.close()
    assert sum(c for batch in counts for c in batch) == 3000
    assert committed == {0: 1000, 1: 1000, 2: 1000}
