"""Broker outages under a running Kafka stream: the path between the receiver and a real Apache
Kafka broker is cut (every connection closed, new ones refused) for longer than the commit
timeout and the group's session timeout, or stalled (connections open, nothing forwarded),
while a producer keeps writing to the broker directly. Afterwards every record is counted
exactly once, and the outage is visible in the receiver's ``lastError`` (REST) and in the
metrics.

The receiver reaches the broker only through a loopback TCP proxy (``tests/tcp_proxy.py``):
the broker has a second listener, advertised at the proxy's port, so every connection the
receiver's client makes (bootstrap, then the broker it learns from metadata) goes through it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from dstream import Conf, Context, KafkaUtils, StreamingContext
from dstream.service.api import create_app
from dstream.service.context_view import ContextView
from dstream.streaming.kafka import COMMIT_TIMEOUT_CONF, STALL_TIMEOUT_CONF
from dstream.streaming.listener import StreamingListener
from tests import servers
from tests.tcp_proxy import TcpProxy
from tests.counting import Counted

WAIT_S = 90.0
#: the receiver's consumer settings, as a PySpark user writes them
PARAMS = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "2000",
          "auto.offset.reset": "smallest"}


@pytest.fixture(scope="module")
def proxied_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[servers.RunningServer, TcpProxy]]:
    """A private Apache Kafka whose PROXIED listener is reachable only through a TcpProxy."""
    inner = servers.free_port()
    proxy = TcpProxy(inner)
    try:
        server = servers.start_apache_kafka(tmp_path_factory.mktemp("proxied-kafka"), extra_properties={
            "listeners": ("PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port},"
                          f"PROXIED://127.0.0.1:{inner}"),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{{port}},PROXIED://127.0.0.1:{proxy.port}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,PROXIED:PLAINTEXT",
        })
    except servers.ServerStartError as exc:
        proxy.close()
        pytest.fail(f"could not start Apache Kafka behind a proxy: {exc}", pytrace=False)
    try:
        yield server, proxy
    finally:
        server.close()
        proxy.close()


class Producer:
    """Writes ``v<i>`` to the broker directly (not through the proxy), about ``rate`` a second,
    round robin over three partitions, in a thread, until ``stop()``."""

    def __init__(self, bootstrap: str, topic: str, rate: int = 1000) -> None:
        from kafka import KafkaProducer

        self._producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
        self._topic, self._rate = topic, rate
        self._stop = threading.Event()
        self.sent = 0
        self._thread = threading.Thread(target=self._run, name="outage-producer")
        self._thread.start()

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            due = int((time.monotonic() - started) * self._rate)
            for i in range(self.sent, due):
                self._producer.send(self._topic, f"v{i}".encode(), partition=i % 3)
            self.sent = max(self.sent, due)
            self._stop.wait(0.01)     # pacing the writes, not waiting for anything

    def stop(self) -> int:
        """Stop, make sure every record is acknowledged, and return how many were sent."""
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(30)
            self._producer.flush(60)
            self._producer.close(10)
        return self.sent


class Errors(StreamingListener):
    """Every receiver error message, as the listener bus delivers them."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def onReceiverError(self, receiverError: Any) -> None:
        self.messages.append(receiverError.receiverInfo().last_error_message)



def until(condition: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    """Poll ``condition`` (the HTTP app, the receiver's state) until it is truthy."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)   # nothing to block on: the app answers requests, it does not notify
    return value


def metrics(client: TestClient) -> dict[str, float]:
    out = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return out


def run_stream(proxy: TcpProxy, topic: str, conf: Conf) -> tuple[StreamingContext, Any, Counted, Errors, TestClient]:
    ctx = Context("local", "kafka-outage", conf=conf)
    ssc = StreamingContext(ctx, 0.5)
    stream = KafkaUtils.createStream(ssc, f"127.0.0.1:{proxy.port}", f"g-{uuid.uuid4().hex[:8]}",
                                     [topic], PARAMS)
    counted, errors = Counted(), Errors()
    stream.map(lambda kv: kv[1]).foreachRDD(counted.add)
    ssc.addStreamingListener(errors)
    source = ContextView(ssc)
    client = TestClient(create_app(source))
    ssc.start()
    return ssc, stream.receiver, counted, errors, client


def test_a_broker_cut_off_longer_than_the_commit_timeout_loses_and_repeats_nothing(
        proxied_kafka: tuple[servers.RunningServer, TcpProxy], tmp_path: Path) -> None:
    server, proxy = proxied_kafka
    topic = servers.create_topic(server.bootstrap, "outage", partitions=3)
    conf = Conf().set(COMMIT_TIMEOUT_CONF, "1s").set(STALL_TIMEOUT_CONF, "60s")
    ssc, receiver, counted, errors, client = run_stream(proxy, topic, conf)
    producer = Producer(server.bootstrap, topic)
    try:
        counted.wait_until(lambda c: sum(c.values()) >= 2000, "2000 records before the cut", WAIT_S)
        until(lambda: receiver.committed_offsets, "a first commit")
        proxy.cut()
        # The receiver has stored more than the group committed: a consumer that started over
        # from the committed offsets would receive those records a second time.
        stored, committed = receiver.resume_offsets, receiver.committed_offsets
        assert sum(stored.values()) > sum(committed.values())
        cut_at = time.monotonic()
        until(lambda: client.get("/api/v1/streaming/receivers").json()[0].get("lastError"),
              "the outage in the receiver's lastError")
        # longer than the commit timeout (1 s) and the group's session timeout (6 s)
        threading.Event().wait(max(0.0, cut_at + 8.0 - time.monotonic()))
        during = producer.sent
        proxy.restore()
        counted.wait_until(lambda c: sum(c.values()) >= during, "the records written during the cut", WAIT_S)
        sent = producer.stop()
        counted.wait_until(lambda c: sum(c.values()) >= sent, f"all {sent} records", WAIT_S)
        (receiver_json,) = client.get("/api/v1/streaming/receivers").json()
        after = metrics(client)
    finally:
        producer.stop()
        ssc.stop(stopSparkContext=True, stopGraceFully=True)
    assert counted.values == Counter(f"v{i}" for i in range(sent))     # each exactly once
    assert sum(receiver.resume_offsets.values()) == sent
    assert proxy.refused >= 1                    # the receiver did try while the path was cut
    assert receiver_json["lastErrorKind"] == "transient"
    assert receiver_json["lastErrorTime"] is not None
    assert any(f"127.0.0.1:{proxy.port}" in m for m in errors.messages), errors.messages
    assert after["dstream_receiver_errors_total{kind=transient,stream_id=0}"] >= 1
    assert after["dstream_receiver_errors_total{kind=fatal,stream_id=0}"] == 0
    assert (after["dstream_receiver_restarts_total{stream_id=0}"] >= 1
            or any("could not commit" in m for m in errors.messages)), errors.messages


def test_a_stalled_broker_is_reported_after_the_stall_timeout_and_nothing_is_lost(
        proxied_kafka: tuple[servers.RunningServer, TcpProxy]) -> None:
    server, proxy = proxied_kafka
    topic = servers.create_topic(server.bootstrap, "stall", partitions=3)
    conf = Conf().set(STALL_TIMEOUT_CONF, "1500ms")
    ssc, receiver, counted, errors, client = run_stream(proxy, topic, conf)
    producer = Producer(server.bootstrap, topic, rate=500)
    try:
        counted.wait_until(lambda c: sum(c.values()) >= 500, "500 records before the stall", WAIT_S)
        proxy.stall()                 # connections stay open; no byte goes through, no error
        stalled = until(lambda: [m for m in errors.messages if "stalled" in m], "the stall warning",
                        timeout=30)
        (receiver_json,) = client.get("/api/v1/streaming/receivers").json()
        during = metrics(client)
        proxy.restore()
        sent = producer.stop()
        counted.wait_until(lambda c: sum(c.values()) >= sent, f"all {sent} records", WAIT_S)
    finally:
        proxy.restore()
        producer.stop()
        ssc.stop(stopSparkContext=True, stopGraceFully=True)
    assert counted.values == Counter(f"v{i}" for i in range(sent))
    assert stalled[0].startswith(f"KafkaReceiver-0: stalled: no records and no answer from Kafka at "
                                 f"bootstrap servers '127.0.0.1:{proxy.port}'")
    assert "stall timeout 1.5 s" in stalled[0]
    assert "stalled" in receiver_json["lastErrorMessage"]
    assert receiver_json["lastErrorKind"] == "transient"
    assert during["dstream_receiver_errors_total{kind=transient,stream_id=0}"] >= 1
