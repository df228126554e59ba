"""Spark's two Kafka word counts in ``examples/streaming/``, each run as its own process against
Apache Kafka, checked by the counts they print.

One Kafka record is one line, so its words are counted in one batch whatever the timing. A
program may start reading at the topic's end (Spark's ``largest``): the direct stream fixes
its start offsets when it plans its first batch, so lines are produced once a batch is
printed; the receiver's consumer finds its position when it joins its group, which no output
shows, so the test produces numbered probes until one is counted, then waits for the last.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import servers
from tests.examples.test_streaming_examples import ExampleProcess, batch_printed, pprint_batches

FIRST = {"('to', 2)", "('be', 2)", "('or', 1)", "('not', 1)"}
SECOND = {"('be', 1)", "('quick', 1)"}


@pytest.fixture
def producer(apache_kafka_bootstrap: str) -> Iterator[Any]:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=apache_kafka_bootstrap)
    try:
        yield producer
    finally:
        producer.close()


def send(producer: Any, topic: str, line: str) -> None:
    producer.send(topic, line.encode()).get(timeout=60)


def count_two_lines(program: ExampleProcess, producer: Any, topic: str) -> None:
    send(producer, topic, "to be or not to be")
    program.wait_for("the first line's counts", batch_printed(FIRST))
    send(producer, topic, "be quick")
    program.wait_for("the second line's counts", batch_printed(SECOND))


def words_counted(program: ExampleProcess) -> list[frozenset[str]]:
    return [frozenset(b) for b in pprint_batches(program.lines) if b]


def test_direct_kafka_wordcount(apache_kafka_bootstrap: str, producer: Any, tmp_path: Path) -> None:
    topic = servers.create_topic(apache_kafka_bootstrap, "direct-wordcount", 1)
    send(producer, topic, "written before the program started")
    program = ExampleProcess("direct_kafka_wordcount.py", apache_kafka_bootstrap, topic, cwd=tmp_path)
    try:
        program.wait_for("a first batch", lambda lines: len(pprint_batches(lines)) >= 1)
        count_two_lines(program, producer, topic)
    finally:
        program.interrupt()
    # the line written before the start is not read (the stream starts at the topic's end)
    assert words_counted(program) == [frozenset(FIRST), frozenset(SECOND)], program.lines


def probes_counted(lines: list[str]) -> set[str]:
    return {record for batch in pprint_batches(lines) for record in batch if record.startswith("('probe")}


def test_kafka_wordcount_receiver(apache_kafka_bootstrap: str, producer: Any, tmp_path: Path) -> None:
    topic = servers.create_topic(apache_kafka_bootstrap, "receiver-wordcount", 1)
    send(producer, topic, "probe0")       # read or not: where a new group starts may differ
    program = ExampleProcess("kafka_wordcount.py", apache_kafka_bootstrap, topic, cwd=tmp_path)
    try:
        probe = 0
        while not probes_counted(program.lines):
            assert probe < 60, f"none of {probe} probes was counted:\n" + "\n".join(program.lines)
            batches = len(pprint_batches(program.lines))
            program.wait_for("another batch", lambda lines: len(pprint_batches(lines)) > batches)
            probe += 1
            send(producer, topic, f"probe{probe}")
        # the consumer reads the partition in order: once a probe is counted, so is the last
        program.wait_for(f"the last probe's count (probe{probe})",
                         lambda lines: f"('probe{probe}', 1)" in probes_counted(lines))
        count_two_lines(program, producer, topic)
    finally:
        program.interrupt()
    assert words_counted(program)[-2:] == [frozenset(FIRST), frozenset(SECOND)], program.lines
