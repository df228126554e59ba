"""KafkaReceiver against real Kafka-protocol brokers (tansu; Apache Kafka where a group's
committed offsets matter): exactly-once counts over graceful restarts, a broker restart, missing
topics, unreachable brokers, and bad-record policies."""

from __future__ import annotations

from collections import Counter

import pytest

from dstream.receivers import BlockIds, KafkaReceiver, ReceiverSupervisor
from tests import servers
from tests.receivers.conftest import (
    FAST_GROUP,
    CollectingSink,
    consume_all,
    create_topic,
    produce,
    unique,
)


def supervise(receiver: KafkaReceiver, sink: CollectingSink, **kwargs) -> ReceiverSupervisor:
    kwargs.setdefault("restart_delay_s", 0.2)
    kwargs.setdefault("max_restart_delay_s", 1.0)
    supervisor = ReceiverSupervisor(receiver, kwargs.pop("stream_id", 0), sink, sink, **kwargs)
    supervisor.start()
    return supervisor


def values(records: list) -> Counter:
    return Counter(value for _key, value in records)


def test_200k_records_from_3_partitions_arrive_exactly_once(
    sink: CollectingSink, kafka_bootstrap: str
) -> None:
    topic = unique("words")
    create_topic(kafka_bootstrap, topic, partitions=3)
    receiver = KafkaReceiver(kafka_bootstrap, unique("group"), [topic], kafka_params=FAST_GROUP)
    supervisor = supervise(receiver, sink, block_ids=BlockIds())
    try:
        produce(kafka_bootstrap, topic, [(b"k%d" % (i % 97), b"v%d" % i) for i in range(200_000)])
        records = sink.wait_for_records(200_000, timeout=60)
    finally:
        assert supervisor.stop(graceful=True, timeout=20)
    assert sink.record_count == 200_000
    assert values(records) == Counter(f"v{i}" for i in range(200_000))
    assert Counter(key for key, _ in records) == Counter(f"k{i % 97}" for i in range(200_000))
    committed = receiver.committed_offsets
    assert set(committed) == {(topic, p) for p in range(3)} and sum(committed.values()) == 200_000
    # Every block says which offsets it covers; the last ones are what was committed.
    last: dict = {}
    for block in sink.blocks:
        for partition, offset in block.metadata["kafka_offsets"].items():
            assert offset > last.get(partition, -1)
            last[partition] = offset
    assert last == committed
    assert supervisor.counters()["restarts"] == 0


def test_a_graceful_restart_with_the_same_group_neither_loses_nor_repeats(
    sink: CollectingSink, apache_kafka_bootstrap: str
) -> None:
    topic, group = unique("events"), unique("group")
    create_topic(apache_kafka_bootstrap, topic, partitions=3)
    produce(apache_kafka_bootstrap, topic, [(None, b"e%d" % i) for i in range(60_000)])

    first = supervise(
        KafkaReceiver(apache_kafka_bootstrap, group, [topic], kafka_params=FAST_GROUP),
        sink,
        max_rate=20_000,
    )  # slow enough to stop it mid-stream
    sink.wait_for_records(10_000, timeout=30)
    assert first.stop(graceful=True, timeout=20)
    received_by_first = sink.record_count
    assert 10_000 <= received_by_first < 60_000

    second = supervise(
        KafkaReceiver(apache_kafka_bootstrap, group, [topic], kafka_params=FAST_GROUP), sink
    )
    try:
        sink.wait_for_records(60_000, timeout=30)
    finally:
        assert second.stop(graceful=True, timeout=20)
    # After a graceful stop nothing is received twice: the first receiver committed all it stored.
    assert sink.record_count == 60_000
    assert values(sink.records()) == Counter(f"e{i}" for i in range(60_000))
    seqs = [int(b.block_id.rsplit("-", 1)[1]) for b in sink.blocks]
    assert seqs == sorted(set(seqs))  # block ids kept increasing over the restart


def test_a_broker_restart_is_survived_without_loss(
    sink: CollectingSink, durable_kafka: servers.RunningServer
) -> None:
    bootstrap = durable_kafka.bootstrap
    topic = unique("durable")
    create_topic(bootstrap, topic, partitions=3)
    receiver = KafkaReceiver(
        bootstrap,
        unique("group"),
        [topic],
        idle_check_interval_s=0.5,
        kafka_params={**FAST_GROUP, "bootstrap_timeout_ms": 1500},
    )
    supervisor = supervise(receiver, sink)
    try:
        produce(bootstrap, topic, [(None, b"before-%d" % i) for i in range(3_000)])
        sink.wait_for_records(3_000, timeout=30)
        sink.wait_until(
            lambda: sum(receiver.committed_offsets.values()) == 3_000, 10, "the commits"
        )

        durable_kafka.kill()  # the broker dies (SIGKILL); its data and offsets are in S3
        lost = sink.wait_for_event("error", 20, lambda info: bootstrap in info["message"])
        assert f"bootstrap servers {bootstrap!r} (topics [{topic!r}]" in lost.info["message"]
        durable_kafka.start()

        produce(bootstrap, topic, [(None, b"after-%d" % i) for i in range(3_000)])
        sink.wait_for_records(6_000, timeout=60)
    finally:
        assert supervisor.stop(graceful=True, timeout=20)
    expected = Counter([f"before-{i}" for i in range(3_000)] + [f"after-{i}" for i in range(3_000)])
    assert values(sink.records()) == expected  # nothing lost, nothing twice
    assert supervisor.counters()["restarts"] >= 1


def test_a_missing_topic_is_a_configuration_error_that_stops_the_receiver(
    sink: CollectingSink, kafka_bootstrap: str
) -> None:
    topic = unique("never-created")
    receiver = KafkaReceiver(
        kafka_bootstrap, unique("group"), [topic], kafka_params=FAST_GROUP, topic_wait_s=1.0
    )
    supervisor = supervise(receiver, sink)
    try:
        error = sink.wait_for_event("error", 20)
        stopped = sink.wait_for_event("stopped", 20)
    finally:
        assert supervisor.stop(graceful=True, timeout=20)
    assert error.info["message"].startswith(
        f"KafkaReceiver-0: Kafka topic(s) [{topic!r}] not found at bootstrap servers "
        f"{kafka_bootstrap!r} (group {receiver.group_id!r}); create them or fix the topic names"
    )
    assert "allow.auto.create.topics=true" in error.info["message"]
    assert (error.info["kind"], error.info["fatal"]) == ("fatal", True)
    assert "restart_in_s" not in error.info          # no restart loop
    assert stopped.info["fatal"] is True and supervisor.state == "stopped"
    assert supervisor.counters()["restarts"] == 0
    message, cause = supervisor.fatal_error
    assert topic in message and topic in str(cause)


def test_an_unreachable_broker_is_a_clear_error(sink: CollectingSink) -> None:
    bootstrap = f"127.0.0.1:{servers.free_port()}"
    receiver = KafkaReceiver(bootstrap, "g", ["t"], kafka_params={"bootstrap_timeout_ms": 300})
    supervisor = supervise(receiver, sink)
    try:
        error = sink.wait_for_event("error", 20)
    finally:
        assert supervisor.stop(graceful=True, timeout=20)
    assert error.info["message"].startswith(
        f"KafkaReceiver-0: cannot reach Kafka at bootstrap servers {bootstrap!r} (topics ['t'], group 'g'):"
    )
    assert "KafkaTimeoutError" in error.info["error"]


def test_bad_records_follow_the_policy(kafka_bootstrap: str) -> None:
    # The three policies run side by side (each group join takes seconds).
    topics = {policy: unique(f"bad-{policy}") for policy in ("fail", "skip", "dead_letter")}
    dead_letters = unique("dead-letters")
    for topic in [*topics.values(), dead_letters]:
        create_topic(kafka_bootstrap, topic, partitions=1)
    for topic in topics.values():
        produce(
            kafka_bootstrap,
            topic,
            [(None, b"ok-0"), (None, b"ok-1"), (b"key", b"caf\xe9"), (None, b"ok-3")],
        )
    sinks = {policy: CollectingSink() for policy in topics}
    supervisors = {
        policy: supervise(
            KafkaReceiver(
                kafka_bootstrap,
                unique("group"),
                [topic],
                kafka_params=FAST_GROUP,
                bad_record_policy=policy,
                dead_letter_topic=dead_letters if policy == "dead_letter" else None,
            ),
            sinks[policy],
            stream_id=index,
        )
        for index, (policy, topic) in enumerate(topics.items())
    }
    receivers = {policy: s.receiver for policy, s in supervisors.items()}
    try:
        # fail: stores what came before, stops at the bad record, and meets it again on every restart.
        fail = sinks["fail"]
        fail.wait_until(lambda: len(fail.events_of("error")) >= 2, 30, "two failing restarts")
        assert fail.records() == [(None, "ok-0"), (None, "ok-1")]
        error = fail.events_of("error")[0]
        assert (
            f"record {topics['fail']}[0]@2 could not be decoded (bad_record_policy='fail'"
            in error.info["message"]
        )
        assert "UnicodeDecodeError" in error.info["error"]
        assert receivers["fail"].committed_offsets == {(topics["fail"], 0): 2}

        for policy in ("skip", "dead_letter"):
            sinks[policy].wait_for_records(3, timeout=30)
            assert sinks[policy].records() == [(None, "ok-0"), (None, "ok-1"), (None, "ok-3")]
            (bad,) = sinks[policy].events_of("bad_record")
            assert (
                bad.info["reason"],
                bad.info["topic"],
                bad.info["partition"],
                bad.info["offset"],
            ) == ("undecodable", topics[policy], 0, 2)
            sinks[policy].wait_until(
                lambda p=policy: receivers[p].committed_offsets == {(topics[p], 0): 4},
                10,
                "the commit past the bad record",
            )
            assert supervisors[policy].bad_records == {"undecodable": 1}
            assert sinks[policy].events_of("error") == []
    finally:
        for supervisor in supervisors.values():
            assert supervisor.stop(graceful=True, timeout=20)
    (dead,) = consume_all(kafka_bootstrap, dead_letters, expected=1)
    assert (dead.key, dead.value) == (b"key", b"caf\xe9")
    assert dict(dead.headers)["dstream.source"] == f"{topics['dead_letter']}/0/2".encode()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kafka_params": {"enable_auto_commit": True}}, "may not set 'enable_auto_commit'"),
        ({"kafka_params": {"enable.auto.commit": "true"}}, "may not set 'enable.auto.commit'"),
        ({"kafka_params": {"value_deserializer": bytes}}, "use decoder="),
        ({"kafka_params": {"no_such_setting": 1}}, "unknown Kafka parameter 'no_such_setting'"),
        (
            {"kafka_params": {"session.timeout.ms": "six"}},
            "Kafka parameter 'session.timeout.ms' has a bad value 'six': expected an integer",
        ),
        (
            {"kafka_params": {"heartbeat.interval.ms": "7000", "session.timeout.ms": "6000"}},
            r"'heartbeat.interval.ms' \(7000 ms\) must be below 'session.timeout.ms'",
        ),
        ({"kafka_params": {"group.id": "other"}}, "'group.id' is 'other' but the group id"),
        ({"kafka_params": {"ssl.ca.location": "/no/such/ca.pem"}}, "'ssl.ca.location' names"),
        (
            {"kafka_params": {"auto.offset.reset": "largest"}, "auto_offset_reset": "earliest"},
            "disagrees with Kafka parameter auto.offset.reset",
        ),
        ({"bad_record_policy": "ignore"}, "bad_record_policy must be one of"),
        (
            {"dead_letter_topic": "t", "bad_record_policy": "dead_letter"},
            "is one of the topics read",
        ),
        ({"auto_offset_reset": "oldest"}, "auto_offset_reset must be 'earliest'"),
    ],
)
def test_bad_arguments_are_rejected_when_the_receiver_is_made(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KafkaReceiver("127.0.0.1:9092", "g", ["t"], **kwargs)
