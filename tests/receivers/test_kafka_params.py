"""kafkaParams as PySpark users wrote them (Kafka's dotted names, string values) and as
kafka-python names them, turned into kafka-python's settings; every bad one named."""

from __future__ import annotations

import logging

import pytest

from dstream.receivers import kafka_params
from dstream.receivers.kafka_params import (
    bootstrap_from_params,
    consumer_config,
    producer_config,
)

CONSUMER_CASES = [
    ({"group.id": "g"}, {"group_id": "g"}),
    ({"auto.offset.reset": "smallest"}, {"auto_offset_reset": "earliest"}),
    ({"auto.offset.reset": "largest"}, {"auto_offset_reset": "latest"}),
    ({"auto.offset.reset": "Earliest"}, {"auto_offset_reset": "earliest"}),
    ({"enable.auto.commit": "false"}, {"enable_auto_commit": False}),
    ({"enable.auto.commit": True}, {"enable_auto_commit": True}),
    ({"session.timeout.ms": "6000"}, {"session_timeout_ms": 6000}),
    ({"heartbeat.interval.ms": "2000"}, {"heartbeat_interval_ms": 2000}),
    ({"max.poll.records": "100"}, {"max_poll_records": 100}),
    ({"fetch.max.bytes": "1048576"}, {"fetch_max_bytes": 1048576}),
    ({"security.protocol": "sasl_ssl"}, {"security_protocol": "SASL_SSL"}),
    ({"sasl.mechanism": "scram-sha-256"}, {"sasl_mechanism": "SCRAM-SHA-256"}),
    ({"sasl.username": "u", "sasl.password": "p"},
     {"sasl_plain_username": "u", "sasl_plain_password": "p"}),
    ({"ssl.ca.location": "ca.pem"}, {"ssl_cafile": "ca.pem"}),
    ({"ssl.endpoint.identification.algorithm": ""}, {"ssl_check_hostname": False}),
    ({"client.id": "c1"}, {"client_id": "c1"}),
    ({"isolation.level": "read_committed"}, {"isolation_level": "read_committed"}),
    ({"metadata.broker.list": "k1:9092,k2:9092"}, {"bootstrap_servers": ["k1:9092", "k2:9092"]}),
    ({"bootstrap.servers": "k1:9092"}, {"bootstrap_servers": "k1:9092"}),
    ({"api.version": "2.8.0"}, {"api_version": (2, 8, 0)}),
    # kafka-python's own names, with typed or string values
    ({"session_timeout_ms": 6000}, {"session_timeout_ms": 6000}),
    ({"session_timeout_ms": "6000"}, {"session_timeout_ms": 6000}),
    ({"auto_offset_reset": "smallest"}, {"auto_offset_reset": "earliest"}),
    ({}, {}),
    (None, {}),
]


@pytest.mark.parametrize(("params", "expected"), CONSUMER_CASES)
def test_consumer_params_in_either_spelling(params: dict, expected: dict) -> None:
    assert consumer_config(params) == expected


def test_assignment_strategy_by_kafka_class_name() -> None:
    config = consumer_config({"partition.assignment.strategy":
                              "org.apache.kafka.clients.consumer.RoundRobinAssignor"})
    (assignor,) = config["partition_assignment_strategy"]
    assert assignor.__name__ == "RoundRobinPartitionAssignor"


BAD_CASES = [
    ({"sesion.timeout.ms": "6000"}, "unknown Kafka parameter 'sesion.timeout.ms' "
                                    "(did you mean 'session.timeout.ms'?)"),
    ({"group.idd": "g"}, "unknown Kafka parameter 'group.idd' (did you mean 'group.id'?)"),
    ({"session.timeout.ms": "6s"}, "'session.timeout.ms' has a bad value '6s': expected an integer"),
    ({"session.timeout.ms": True}, "'session.timeout.ms' has a bad value True: expected an integer"),
    ({"enable.auto.commit": "maybe"}, "'enable.auto.commit' has a bad value 'maybe': "
                                      "expected true or false"),
    ({"auto.offset.reset": "oldest"}, "'auto.offset.reset' has a bad value 'oldest': expected one of"),
    ({"security.protocol": "TLS"}, "'security.protocol' has a bad value 'TLS'"),
    ({"ssl.truststore.location": "t.jks"}, "'ssl.truststore.location' is not supported: "
                                           "kafka-python reads PEM files"),
    ({"sasl.jaas.config": "x"}, "'sasl.jaas.config' is not supported"),
    ({"group.id": "g", "group_id": "h"}, "'group_id' is given twice"),
    ({"bootstrap.servers": ""}, "'bootstrap.servers' has a bad value ''"),
]


@pytest.mark.parametrize(("params", "message"), BAD_CASES)
def test_bad_params_name_the_parameter(params: dict, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        consumer_config(params)
    assert message in str(caught.value)


def test_zookeeper_params_are_accepted_and_logged_once(caplog: pytest.LogCaptureFixture,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka_params, "_logged", set())  # as if no test had logged them yet
    caplog.set_level(logging.WARNING, "dstream.receivers.kafka_params")
    params = {"zookeeper.connect": "zk:2181", "zookeeper.connection.timeout.ms": "10000",
              "group.id": "g"}
    assert consumer_config(params) == {"group_id": "g"}
    assert consumer_config(params) == {"group_id": "g"}
    logged = [r.getMessage() for r in caplog.records if "ZooKeeper" in r.getMessage()]
    assert len([m for m in logged if "'zookeeper.connect'" in m]) == 1
    assert all("not used" in m for m in logged)


def test_producer_params() -> None:
    assert producer_config({"acks": "1", "enable.idempotence": "true", "linger.ms": "5",
                            "compression.type": "gzip", "transaction.timeout.ms": "10000"}) == {
        "acks": 1, "enable_idempotence": True, "linger_ms": 5, "compression_type": "gzip",
        "transaction_timeout_ms": 10000}
    with pytest.raises(ValueError, match="'acks' has a bad value 'most'"):
        producer_config({"acks": "most"})


def test_bootstrap_from_params() -> None:
    assert bootstrap_from_params({"bootstrap.servers": "a:1, b:2"}) == ["a:1", "b:2"]
    assert bootstrap_from_params({"bootstrap_servers": ["a:1"]}) == ["a:1"]
    assert bootstrap_from_params({}) is None
    with pytest.raises(ValueError, match="'metadata.broker.list' has a bad value"):
        bootstrap_from_params({"metadata.broker.list": " , "})
