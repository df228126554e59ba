"""The per-batch cost of the transactional Kafka sink against a plain producer, on Apache Kafka.

Each variant writes the same batches (an RDD of ``(word, count)`` pairs, collected to the
driver as the sink does) to a topic of 3 partitions:

- ``plain``: a non-transactional ``KafkaProducer`` (kafka-python 3 defaults: idempotent,
  ``acks=all``): send every record, ``flush()``. At least once: a re-run batch is written again.
- ``transactional``: ``KafkaSink`` as ``saveToKafka`` runs it: ``begin_transaction``, the
  records, the batch marker (``send_offsets_to_transaction`` to the sink's marker group),
  ``commit_transaction``.
- ``transactional+offsets``: the same, also committing a batch's input offsets (3 partitions)
  for an input consumer group in the transaction, as with a Kafka input.

Batch sizes 10, 1,000 and 10,000 records; variants interleaved batch by batch; warm-up batches
left out. The broker is Apache Kafka from its Maven Central jars (``tests.servers``, fetched
by ``scripts/install-kafka.sh``), one KRaft process on this machine, or ``--bootstrap``.

    python -m benchmarks.kafka_sink_cost                  # ~1 minute
    python -m benchmarks.kafka_sink_cost --batches 100 --sizes 10,1000,10000,100000
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

from dstream import Context
from dstream.streaming.sinks import BatchOffsets, KafkaSink

from .harness import median, percentile, table

VARIANTS = ("plain", "transactional", "transactional+offsets")


class FixedOffsets:
    """Stands where an input stream would: the batch's input offsets for the transaction."""

    parents: list[Any] = []

    def __init__(self, group: str, topic: str) -> None:
        self.group = group
        self.topic = topic

    def kafka_batch_offsets(self, time_ms: int) -> BatchOffsets:
        return BatchOffsets(self.group, {(self.topic, p): time_ms // 1000 for p in range(3)})


@contextlib.contextmanager
def broker(bootstrap: str | None) -> Iterator[str]:
    if bootstrap:
        yield bootstrap
        return
    from tests.servers import start_apache_kafka

    server = start_apache_kafka(tempfile.mkdtemp(prefix="kafka-sink-bench-"))
    try:
        yield server.bootstrap
    finally:
        server.close()


def new_topic(bootstrap: str, name: str) -> str:
    from kafka.admin import KafkaAdminClient, NewTopic

    topic = f"{name}-{uuid.uuid4().hex[:6]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        admin.close()
    return topic


def run(bootstrap: str, sizes: list[int], batches: int, warmup: int) -> list[list[Any]]:
    from kafka import KafkaProducer

    rng = random.Random(7)
    rows = []
    with Context("local", "kafka-sink-bench") as ctx:
        for size in sizes:
            topics = {v: new_topic(bootstrap, v.replace("+", "-")) for v in VARIANTS}
            plain = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
            source = new_topic(bootstrap, "source")
            sinks = {
                "transactional": KafkaSink(bootstrap, topics["transactional"],
                                           f"bench-{uuid.uuid4().hex[:6]}", {"linger.ms": "5"}),
                "transactional+offsets": KafkaSink(
                    bootstrap, topics["transactional+offsets"], f"bench-{uuid.uuid4().hex[:6]}",
                    {"linger.ms": "5"}, inputs=[FixedOffsets(f"g-{uuid.uuid4().hex[:6]}", source)]),
            }
            times: dict[str, list[float]] = {v: [] for v in VARIANTS}
            try:
                for i in range(warmup + batches):
                    records = [(f"w{rng.randrange(100_000)}", rng.randrange(1_000_000))
                               for _ in range(size)]
                    rdd = ctx.parallelize(records, 2)
                    when = datetime.datetime.fromtimestamp(1_700_000_000 + i)
                    for variant in VARIANTS:
                        start = time.perf_counter()
                        if variant == "plain":
                            for key, value in rdd.collect():
                                plain.send(topics[variant], key=key.encode(), value=str(value).encode())
                            plain.flush()
                        else:
                            sinks[variant](when, rdd)
                        if i >= warmup:
                            times[variant].append((time.perf_counter() - start) * 1000)
            finally:
                plain.close()
                for sink in sinks.values():
                    sink.close()
            base = median(times["plain"])
            for variant in VARIANTS:
                m = median(times[variant])
                rows.append([f"{size:,}", variant, f"{m:.1f}", f"{percentile(times[variant], 90):.1f}",
                             f"{m / base:.2f}x", f"{m - base:+.1f}"])
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.kafka_sink_cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", help="an Apache Kafka to use instead of starting one")
    parser.add_argument("--sizes", default="10,1000,10000", help="records per batch, comma-separated")
    parser.add_argument("--batches", type=int, default=40, help="measured batches per size and variant")
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    with broker(args.bootstrap) as bootstrap:
        rows = run(bootstrap, sizes, args.batches, args.warmup)
    print(table(["records/batch", "variant", "p50 ms", "p90 ms", "vs plain", "extra ms"], rows))


if __name__ == "__main__":
    main()
