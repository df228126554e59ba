"""The test servers themselves: a real produce/consume round trip, restarts, clear failures."""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from tests.servers import (
    RunningServer,
    ServerStartError,
    kafka_metadata,
    start_kafka,
    start_redis,
)


def test_kafka_broker_round_trip(kafka_bootstrap: str) -> None:
    topic = f"smoke-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10_000)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    finally:
        admin.close()

    sent = [(b"k%d" % i, b"value-%d" % i) for i in range(10)]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10_000)
    try:
        for key, value in sent:
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=10)
    finally:
        producer.close(timeout=5)

    consumer = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        request_timeout_ms=10_000,
    )
    received: list[tuple[bytes, bytes]] = []
    try:
        consumer.assign([TopicPartition(topic, p) for p in (0, 1)])
        deadline = time.monotonic() + 20
        while len(received) < len(sent) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                received.extend((r.key, r.value) for r in records)
    finally:
        consumer.close()
    assert sorted(received) == sorted(sent)


def test_redis_restarts_on_the_same_port(tmp_path: Path) -> None:
    server = start_redis(tmp_path)
    try:
        port = server.port
        server.kill()
        assert not server.running
        server.restart()
        assert server.running and server.port == port
        client = redis.Redis.from_url(server.url)
        try:
            assert client.ping()
        finally:
            client.close()
    finally:
        server.close()
    assert not server.running


def test_a_server_that_dies_at_start_fails_with_its_output(tmp_path: Path) -> None:
    def never_ready(server: RunningServer) -> None:
        raise ConnectionRefusedError

    server = RunningServer(
        kind="redis",
        host="127.0.0.1",
        port=1,
        url="redis://127.0.0.1:1/0",
        argv=[sys.executable, "-c", "import sys; print('fatal: bad config'); sys.exit(3)"],
        log_path=tmp_path / "server.log",
        ready=never_ready,
    )
    with pytest.raises(ServerStartError) as info:
        server.start(timeout=10)
    message = str(info.value)
    assert "exited with code 3 while starting" in message
    assert "fatal: bad config" in message
    assert not server.running


def test_kafka_restarts_on_the_same_port() -> None:
    server = start_kafka()
    try:
        port = server.port
        server.kill()
        assert not server.running
        server.restart()
        assert server.running and server.port == port
        assert isinstance(kafka_metadata(server.bootstrap), set)
    finally:
        server.close()
    assert not server.running and server.owned_dir is None


def test_apache_kafka_transactions_and_exact_end_offsets(apache_kafka_bootstrap: str) -> None:
    """Kafka's own semantics that tansu lacks: an aborted transaction stays invisible to a
    read_committed consumer, and end offsets are exact (records plus transaction markers)."""
    topic = f"txn-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=apache_kafka_bootstrap, request_timeout_ms=30_000)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=apache_kafka_bootstrap,
                             transactional_id=f"txn-{uuid.uuid4().hex[:8]}")
    try:
        producer.init_transactions()
        producer.begin_transaction()
        for i in range(3):
            producer.send(topic, b"aborted-%d" % i)
        producer.flush(timeout=30)  # in the log before the abort, not dropped by the client
        producer.abort_transaction()
        producer.begin_transaction()
        for i in range(5):
            producer.send(topic, b"committed-%d" % i)
        producer.commit_transaction()
    finally:
        producer.close(timeout=10)

    consumer = KafkaConsumer(bootstrap_servers=apache_kafka_bootstrap, group_id=None,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             isolation_level="read_committed")
    partition = TopicPartition(topic, 0)
    seen: list[bytes] = []
    try:
        consumer.assign([partition])
        end = consumer.end_offsets([partition])[partition]
        deadline = time.monotonic() + 30
        while consumer.position(partition) < end and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                seen.extend(r.value for r in records)
    finally:
        consumer.close()
    assert end == 3 + 1 + 5 + 1  # three aborted records and their marker, five and theirs
    assert seen == [b"committed-%d" % i for i in range(5)]
