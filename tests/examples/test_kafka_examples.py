"""Spark's two Kafka word counts in ``examples/streaming/``, each run as its own process against
Apache Kafka, checked by the counts they print.

One Kafka record is one line, so its words are counted in one batch whatever the timing. A
program may start reading at the topic's end (Spark's ``largest``): the direct stream fixes
its start offsets when it plans its first batch, so lines are produced once a batch is
printed; the receiver's consumer finds its position when it joins its group, which no output
shows, so the test produces numbered probes until one is counted, then waits for the last.
"""

from __future__ import annotations

import itertools
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


def test_kafka_wordcount_receiver(apache_kafka_bootstrap: str, producer: Any, tmp_path: Path) -> None:
    topic = servers.create_topic(apache_kafka_bootstrap, "receiver-wordcount", 1)
    program = ExampleProcess("kafka_wordcount.py", apache_kafka_bootstrap, topic, cwd=tmp_path)
    probes = itertools.count(1)
    sent = 0

    def probe_counted(lines: list[str]) -> bool:
        """A probe's count printed; else one more probe once a new batch is printed."""
        nonlocal sent
        batches = pprint_batches(lines)
        if any(record.startswith("('probe") for batch in batches for record in batch):
            return True
        if len(batches) > sent:
            sent = len(batches)
            send(producer, topic, f"probe{next(probes)}")
        return False

    try:
        program.wait_for("a probe's count (the receiver is reading)", probe_counted, timeout=120)
        last = f"probe{next(probes) - 1}"
        program.wait_for(f"the last probe's count ({last})",
                         lambda lines: any(f"('{last}', 1)" in b for b in pprint_batches(lines)))
        count_two_lines(program, producer, topic)
    finally:
        program.interrupt()
    assert words_counted(program)[-2:] == [frozenset(FIRST), frozenset(SECOND)], program.lines
