"""KafkaUtils.createStream as PySpark users called it, against real brokers: kafkaParams in Kafka's
dotted names with string values, the ZooKeeper address of the old API, where new groups start,
and configuration errors that stop the context (``awaitTermination`` raises them) instead of
restarting the receiver forever."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from dstream import Context, KafkaUtils, StreamingContext
from dstream.receivers.kafka_client import KafkaReceiverConfigError
from dstream.service.api import create_app
from dstream.service.context_view import ContextView
from tests import servers
from tests.counting import Counted

WAIT_S = 60.0


def produce(bootstrap: str, topic: str, values: list[str]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=10)
    try:
        futures = [producer.send(topic, v.encode(), partition=i % 3) for i, v in enumerate(values)]
        producer.flush(30)
        for future in futures:
            future.get(30)
    finally:
        producer.close(10)



@pytest.fixture
def ssc() -> Iterator[StreamingContext]:
    with Context("local", "kafka-stream") as ctx:
        ssc = StreamingContext(ctx, 0.5)
        try:
            yield ssc
        finally:
            ssc.stop(stopSparkContext=False, stopGraceFully=True)


def test_kafka_params_written_as_by_a_pyspark_2_user_count_every_record_exactly(
        ssc: StreamingContext, apache_kafka_bootstrap: str) -> None:
    from kafka import KafkaConsumer, TopicPartition

    topic = servers.create_topic(apache_kafka_bootstrap, "pyspark2")
    group = f"g-{uuid.uuid4().hex[:8]}"
    values = [f"w{i}" for i in range(5000)]
    produce(apache_kafka_bootstrap, topic, values)
    # What a PySpark 2 job passed: a ZooKeeper quorum first, Kafka 0.8's names, strings only.
    stream = KafkaUtils.createStream(ssc, "localhost:2181", group, {topic: 1}, {
        "metadata.broker.list": apache_kafka_bootstrap,
        "zookeeper.connect": "localhost:2181",
        "zookeeper.connection.timeout.ms": "6000",
        "group.id": group,
        "auto.offset.reset": "smallest",
        "enable.auto.commit": "false",
        "session.timeout.ms": "6000",
        "heartbeat.interval.ms": "2000",
        "max.poll.records": "700",
        "fetch.max.bytes": "1048576",
        "client.id": "pyspark-2-job",
    })
    receiver = stream.receiver
    assert (receiver.bootstrap_servers, receiver.auto_offset_reset) == (apache_kafka_bootstrap, "earliest")
    assert receiver.kafka_params == {"session_timeout_ms": 6000, "heartbeat_interval_ms": 2000,
                                     "max_poll_records": 700, "fetch_max_bytes": 1048576,
                                     "client_id": "pyspark-2-job"}
    counted = Counted()
    stream.map(lambda kv: kv[1]).foreachRDD(counted.add)
    ssc.start()
    counted.wait_until(lambda c: sum(c.values()) >= len(values), "every record", WAIT_S)
    ssc.stop(stopSparkContext=False, stopGraceFully=True)
    assert counted.values == Counter(values)
    consumer = KafkaConsumer(bootstrap_servers=apache_kafka_bootstrap, group_id=group,
                             enable_auto_commit=False)
    try:
        committed = {p: consumer.committed(TopicPartition(topic, p)) for p in range(3)}
    finally:
        consumer.close()
    assert committed == {0: 1667, 1: 1667, 2: 1666}     # and the group's offsets say so


@pytest.mark.parametrize(("address", "params", "message"), [
    ("127.0.0.1:9092", {"session.timeout.ms": "six seconds"},
     "Kafka parameter 'session.timeout.ms' has a bad value 'six seconds': expected an integer"),
    ("127.0.0.1:9092", {"auto.offset.reset": "oldest"}, "Kafka parameter 'auto.offset.reset'"),
    ("127.0.0.1:9092", {"group.idd": "g"}, "unknown Kafka parameter 'group.idd' (did you mean 'group.id'?)"),
    ("127.0.0.1:9092", {"ssl.truststore.location": "/etc/ts.jks"},
     "Kafka parameter 'ssl.truststore.location' is not supported"),
    ("zk1:2181,zk2:2181/kafka", {"zookeeper.connection.timeout.ms": "6000"},
     "'zk1:2181,zk2:2181/kafka' looks like a ZooKeeper address"),
    ("127.0.0.1:9092", {"bootstrap.servers": "10.0.0.1:9092"}, "differ: give them once"),
])
def test_a_bad_kafka_parameter_fails_create_stream_at_once_naming_it(
        ssc: StreamingContext, address: str, params: dict[str, str], message: str) -> None:
    started = time.monotonic()
    with pytest.raises(ValueError) as raised:
        KafkaUtils.createStream(ssc, address, "g", ["t"], params)
    assert message in str(raised.value)
    assert time.monotonic() - started < 5.0      # no broker was asked


def test_a_new_group_starts_at_the_latest_offset_as_sparks_receiver_did(
        ssc: StreamingContext, apache_kafka_bootstrap: str) -> None:
    topic = servers.create_topic(apache_kafka_bootstrap, "latest")
    produce(apache_kafka_bootstrap, topic, [f"old{i}" for i in range(300)])
    stream = KafkaUtils.createStream(ssc, apache_kafka_bootstrap, f"g-{uuid.uuid4().hex[:8]}", [topic],
                                     {"session.timeout.ms": "6000", "heartbeat.interval.ms": "2000"})
    counted = Counted()
    stream.map(lambda kv: kv[1]).foreachRDD(counted.add)
    ssc.start()
    # Markers until one arrives: from then on the group has its positions (at the end).
    for attempt in range(60):
        produce(apache_kafka_bootstrap, topic, [f"marker{attempt}"])
        with counted.changed:
            if counted.changed.wait_for(lambda: any(v.startswith("marker") for v in counted.values), 1.0):
                break
    new = [f"new{i}" for i in range(300)]
    produce(apache_kafka_bootstrap, topic, new)
    counted.wait_until(lambda c: all(c[v] for v in new), "the new records", WAIT_S)
    ssc.stop(stopSparkContext=False, stopGraceFully=True)
    assert not [v for v in counted.values if v.startswith("old")]
    assert Counter({v: n for v, n in counted.values.items() if v.startswith("new")}) == Counter(new)


def metrics(client: TestClient) -> dict[str, float]:
    out = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return out


def fails_fast(ssc: StreamingContext, stream: Any,
               timeout: float = WAIT_S) -> tuple[KafkaReceiverConfigError, dict, dict, float]:
    """Start ``ssc``; the error ``awaitTermination`` raises, the receiver's REST entry and the
    metrics after it, and how long it took."""
    stream.count().foreachRDD(lambda rdd: None)
    source = ContextView(ssc)
    client = TestClient(create_app(source))
    started = time.monotonic()
    ssc.start()
    with pytest.raises(KafkaReceiverConfigError) as raised:
        ssc.awaitTermination(timeout)
    took = time.monotonic() - started
    assert ssc.getState() == "STOPPED"
    assert source.wait_for_events()
    (receiver,) = client.get("/api/v1/streaming/receivers").json()
    return raised.value, receiver, metrics(client), took


def test_a_missing_topic_stops_the_context_and_await_termination_raises_it(
        ssc: StreamingContext, kafka_bootstrap: str) -> None:
    topic = f"missing-{uuid.uuid4().hex[:8]}"
    stream = KafkaUtils.createStream(ssc, kafka_bootstrap, "g", [topic],
                                     {"session.timeout.ms": "6000", "heartbeat.interval.ms": "2000"})
    error, receiver, after, took = fails_fast(ssc, stream)
    assert f"Kafka topic(s) [{topic!r}] not found at bootstrap servers {kafka_bootstrap!r}" in str(error)
    assert took < 20.0                        # the topic is looked for 3 s, then it is an error
    assert receiver["isActive"] is False and receiver["lastErrorKind"] == "fatal"
    assert topic in receiver["lastErrorMessage"]
    assert after["dstream_receiver_errors_total{kind=fatal,stream_id=0}"] == 1
    assert after["dstream_receiver_restarts_total{stream_id=0}"] == 0      # no restart loop


def sasl_ready(bootstrap: str, timeout: float = WAIT_S) -> None:
    """Wait until alice, with her password, gets metadata through the SASL listener (it opens
    after the plain one the broker's readiness check uses)."""
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout
    while True:
        try:
            consumer = KafkaConsumer(bootstrap_servers=bootstrap, security_protocol="SASL_PLAINTEXT",
                                     sasl_mechanism="PLAIN", sasl_plain_username="alice",
                                     sasl_plain_password="alice-secret", bootstrap_timeout_ms=2000)
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            continue        # each attempt waits for the broker already (bootstrap timeout)
        consumer.close()
        return


def test_a_parameter_kafka_python_refuses_when_the_receiver_starts_fails_within_seconds(
        ssc: StreamingContext, kafka_bootstrap: str) -> None:
    topic = servers.create_topic(kafka_bootstrap, "refused")
    # well-formed, so createStream takes it; kafka-python's consumer rejects it when it is made
    stream = KafkaUtils.createStream(ssc, kafka_bootstrap, "g", [topic],
                                     {"request.timeout.ms": "400"})    # below fetch.max.wait.ms
    error, receiver, after, took = fails_fast(ssc, stream)
    assert "request_timeout_ms (400)" in str(error) and "KafkaConfigurationError" in str(error)
    assert took < 10.0
    assert receiver["lastErrorKind"] == "fatal"
    assert after["dstream_receiver_restarts_total{stream_id=0}"] == 0


@pytest.fixture(scope="module")
def sasl_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A private Apache Kafka with a SASL/PLAIN listener knowing one user, alice:alice-secret.
    Yields (its plain bootstrap, its SASL bootstrap)."""
    sasl_port = servers.free_port()
    try:
        server = servers.start_apache_kafka(tmp_path_factory.mktemp("sasl-kafka"), extra_properties={
            "listeners": ("PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port},"
                          f"SASL_PLAINTEXT://127.0.0.1:{sasl_port}"),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{{port}},SASL_PLAINTEXT://127.0.0.1:{sasl_port}",
            "listener.security.protocol.map":
                "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
            "sasl.enabled.mechanisms": "PLAIN",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config":
                'org.apache.kafka.common.security.plain.PlainLoginModule required '
                'user_alice="alice-secret";',
        })
    except servers.ServerStartError as exc:
        pytest.fail(f"could not start Apache Kafka with SASL: {exc}", pytrace=False)
    try:
        sasl_ready(f"127.0.0.1:{sasl_port}")
        yield server.bootstrap, f"127.0.0.1:{sasl_port}"
    finally:
        server.close()


@pytest.mark.slow
def test_refused_authentication_stops_the_context_instead_of_restarting_forever(
        ssc: StreamingContext, sasl_kafka: tuple[str, str]) -> None:
    plain, sasl = sasl_kafka
    topic = servers.create_topic(plain, "sasl")
    stream = KafkaUtils.createStream(ssc, sasl, "g", [topic], {
        "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
        "sasl.username": "alice", "sasl.password": "not-her-password",
        "session.timeout.ms": "6000", "heartbeat.interval.ms": "2000"})
    # kafka-python 3.0.12 often sees a refused login only as a closed connection: when the
    # broker's error answer and its close arrive in one read, kafka/net/transport.py drops the
    # answer. That looks like a broker going away, so restarts with backoff may come first;
    # the first refusal it does read stops the context.
    error, receiver, after, _took = fails_fast(ssc, stream, timeout=300.0)
    assert "SaslAuthenticationFailedError" in repr(error.__cause__), repr(error)
    assert f"Kafka at bootstrap servers {sasl!r}" in str(error) and "sasl.password" in str(error)
    assert receiver["lastErrorKind"] == "fatal" and receiver["isActive"] is False
    assert after["dstream_receiver_errors_total{kind=fatal,stream_id=0}"] == 1


def test_the_right_password_reads_through_sasl(ssc: StreamingContext, sasl_kafka: tuple[str, str]) -> None:
    plain, sasl = sasl_kafka
    topic = servers.create_topic(plain, "sasl-ok")
    produce(plain, topic, [f"s{i}" for i in range(100)])
    stream = KafkaUtils.createStream(ssc, sasl, "g-ok", [topic], {
        "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
        "sasl.username": "alice", "sasl.password": "alice-secret", "auto.offset.reset": "smallest",
        "session.timeout.ms": "6000", "heartbeat.interval.ms": "2000"})
    counted = Counted()
    stream.map(lambda kv: kv[1]).foreachRDD(counted.add)
    ssc.start()
    counted.wait_until(lambda c: sum(c.values()) >= 100, "the 100 records", WAIT_S)
    ssc.stop(stopSparkContext=False, stopGraceFully=True)
    assert counted.values == Counter(f"s{i}" for i in range(100))
