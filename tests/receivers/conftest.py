"""Fixtures for the receiver tests: a sink that can block or fail, Kafka helpers, a durable broker.

``CollectingSink`` is a real :class:`receivers.BlockSink` (it keeps what it
is given), with switches to make it slow or failing. ``durable_kafka`` is a
second tansu broker whose storage survives a restart: tansu's ``s3://``
engine on a local moto S3 server (both from wheels; see TEST_SERVERS.md).
The session broker (``kafka_bootstrap``) keeps data in memory and loses it
on restart.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dstream.receivers import MemorySink
from tests import servers


class CollectingSink(MemorySink):
    """A MemorySink whose ``store_block`` can be held (``hold``/``release``) or made to fail."""

    def __init__(self) -> None:
        super().__init__()
        self._open = threading.Event()
        self._open.set()
        self.calls = 0  # store_block calls begun
        self.arrivals: list[float] = []  # time.monotonic() of each stored block
        self.failures_left = 0
        self.failure: Exception = ConnectionError("block store unavailable")

    def hold(self) -> None:
        """From now on store_block waits until ``release``."""
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def fail_next(self, count: int, failure: Exception | None = None) -> None:
        """Make the next ``count`` store_block calls raise ``failure``."""
        with self.changed:
            self.failures_left = count
            if failure is not None:
                self.failure = failure

    def store_block(self, stream_id: int, block_id: str, records: list, metadata: dict) -> None:
        with self.changed:
            self.calls += 1
            self.changed.notify_all()
        if not self._open.wait(30):
            raise TimeoutError("CollectingSink was held for 30 s: a test forgot to release it")
        with self.changed:
            if self.failures_left > 0:
                self.failures_left -= 1
                raise self.failure
            self.arrivals.append(time.monotonic())
        super().store_block(stream_id, block_id, records, metadata)


@pytest.fixture
def sink() -> CollectingSink:
    return CollectingSink()


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Fail a test that leaves threads running (receivers, generators, Kafka clients, servers)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    for thread in set(threading.enumerate()) - before:
        thread.join(max(0.0, deadline - time.monotonic()))
    left = sorted(t.name for t in set(threading.enumerate()) - before if t.is_alive())
    if left:
        pytest.fail(f"threads still running 5 s after the test: {left}", pytrace=False)
    # Collect cyclic garbage now, while this test's warning filters apply: a socket
    # dropped unclosed is then reported against the test that made it.
    gc.collect()


def unique(prefix: str) -> str:
    """A topic or group name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# -- Kafka helpers -----------------------------------------------------------------


def create_topic(bootstrap: str, topic: str, partitions: int = 3) -> None:
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        admin.close()


def produce(bootstrap: str, topic: str, items: list[tuple[bytes | None, bytes]]) -> None:
    """Produce ``(key, value)`` pairs fast (batched, lingering), then flush once."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=512 * 1024)
    try:
        for key, value in items:
            producer.send(topic, key=key, value=value)
        producer.flush(60)
    finally:
        producer.close(10)


def consume_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 30) -> list:
    """Read ``topic`` from the start (no group) until ``expected`` records came; return them."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    try:
        got: list = []
        deadline = time.monotonic() + timeout_s
        while len(got) < expected and time.monotonic() < deadline:
            for messages in consumer.poll(500).values():
                got.extend(messages)
        return got
    finally:
        consumer.close()


FAST_GROUP = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 2000, "auto_offset_reset": "earliest"}
"""kafka_params for tests: a group join takes about half the session timeout on tansu; new
groups read from the start (records are produced before the receivers start)."""


# -- a tansu broker that keeps its data over a restart -----------------------------------


def _http_ok(url: str) -> Callable[[servers.RunningServer], None]:
    def ready(_server: servers.RunningServer) -> None:
        with urllib.request.urlopen(url, timeout=1.0):
            pass

    return ready


@pytest.fixture(scope="session")
def durable_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.RunningServer]:
    """A tansu broker storing in S3 (a local moto server): stop/restart keep topics, data, offsets."""
    directory: Path = tmp_path_factory.mktemp("durable-kafka")
    s3_port = servers.free_port()
    s3 = servers.RunningServer(
        kind="s3 (moto)",
        host="127.0.0.1",
        port=s3_port,
        url=f"http://127.0.0.1:{s3_port}",
        argv=[sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(s3_port)],
        log_path=directory / "moto.log",
        ready=_http_ok(f"http://127.0.0.1:{s3_port}/"),
    )
    try:
        s3.start()
    except servers.ServerStartError as exc:
        pytest.fail(f"could not start the moto S3 server: {exc}", pytrace=False)
    broker = None
    try:
        request = urllib.request.Request(f"{s3.url}/tansu", method="PUT")
        with urllib.request.urlopen(request, timeout=5.0):
            pass
        port = servers.free_port()
        listener = f"tcp://127.0.0.1:{port}"
        env = {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT": s3.url,
            "AWS_ALLOW_HTTP": "true",
        }
        broker = servers.RunningServer(
            kind="kafka (tansu on s3)",
            host="127.0.0.1",
            port=port,
            url=listener,
            # env(1) execs tansu with the S3 settings: the PID stays the broker's.
            argv=[
                "env",
                *(f"{k}={v}" for k, v in env.items()),
                servers.kafka_binary(),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                "s3://tansu/",
            ],
            log_path=directory / "tansu.log",
            ready=lambda server: servers.kafka_metadata(server.bootstrap),
        )
        broker.start()
        yield broker
    except servers.ServerStartError as exc:
        pytest.fail(f"could not start tansu on S3: {exc}", pytrace=False)
    finally:
        if broker is not None:
            broker.close()
        s3.close()
