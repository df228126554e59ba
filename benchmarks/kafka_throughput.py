"""Kafka ingestion throughput: the direct stream vs the receiver vs kafka-python's own consumer.

One Apache Kafka broker (KRaft, from the Maven Central jars of ``scripts/install-kafka.sh``)
is started for the run. For each partition count (3 and 12 by default) a topic gets
``--records`` records (``--value-bytes`` each, produced before timing), then each reader
reads the whole topic once and the records/s are reported:

- ``kafka-python floor``: one ``KafkaConsumer`` in this process, all partitions assigned,
  polling until the end offsets; records only counted. What one Python process can take.
- ``direct local[2]``: ``KafkaUtils.createDirectStream`` -> ``count()`` on ``local[2]``, the
  batches stepped back to back on the manual clock (no rate limit: the time is the reading,
  not waiting for the batch clock); tasks read their ranges in the two worker processes.
- ``receiver local[2]``: ``KafkaUtils.createStream`` (one receiver, write-ahead log off) ->
  ``count()``, batches of 0.5 s on the system clock, timed from ``start()`` to the batch that
  completes the count (so up to one batch interval of granularity).

Each figure is the best of ``--repeat`` runs (a fresh consumer group / stream each time).

    python -m benchmarks.kafka_throughput                        # ~3-5 minutes
    python -m benchmarks.kafka_throughput --records 200000 --partitions 3 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
import uuid
from typing import Any, Callable

from dstream import Conf, Context, KafkaUtils, StreamingContext, StreamingListener
from dstream.streaming.testing import advance_batch


def produce(bootstrap: str, topic: str, records: int, value_bytes: int, partitions: int) -> None:
    from kafka import KafkaProducer

    value = b"x" * value_bytes
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=50, batch_size=1 << 20,
                             acks=1, enable_idempotence=False)
    try:
        for i in range(records):
            producer.send(topic, value, partition=i % partitions)
        producer.flush()
    finally:
        producer.close()


def floor(bootstrap: str, topic: str, partitions: int, records: int) -> float:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        start = time.perf_counter()
        seen = 0
        while seen < records:
            for batch in consumer.poll(timeout_ms=1000, max_records=5000).values():
                seen += len(batch)
        return records / (time.perf_counter() - start)
    finally:
        consumer.close()


def direct(bootstrap: str, topic: str, records: int) -> float:
    with Context("local[2]", "bench-direct") as ctx:
        ctx.parallelize(range(4), 2).count()          # worker processes up before timing
        ssc = StreamingContext(ctx, 1, clock="manual")
        counts: list[int] = []
        KafkaUtils.createDirectStream(ssc, [topic], {"bootstrap.servers": bootstrap,
                                                     "auto.offset.reset": "smallest"}).count()\
            .foreachRDD(lambda rdd: counts.extend(rdd.collect()))
        ssc.start()
        try:
            start = time.perf_counter()
            while sum(counts) < records:
                advance_batch(ssc, timeout=600)
            return records / (time.perf_counter() - start)
        finally:
            ssc.stop(stopSparkContext=False)


class _Counted(StreamingListener):
    def __init__(self, total: int) -> None:
        self.total = total
        self.seen = 0
        self.done = threading.Event()

    def onBatchCompleted(self, batchCompleted: Any) -> None:
        self.seen += batchCompleted.batchInfo().numRecords()
        if self.seen >= self.total:
            self.done.set()


def receiver(bootstrap: str, topic: str, records: int) -> float:
    conf = Conf().set("dstream.streaming.receiver.bufferRecords", "1000000")
    with Context("local[2]", "bench-receiver", conf=conf) as ctx:
        ctx.parallelize(range(4), 2).count()
        ssc = StreamingContext(ctx, 0.5)
        listener = _Counted(records)
        ssc.addStreamingListener(listener)
        KafkaUtils.createStream(ssc, bootstrap, f"bench-{uuid.uuid4().hex[:8]}", [topic],
                                autoOffsetReset="earliest").count().foreachRDD(lambda rdd: rdd.collect())
        start = time.perf_counter()
        ssc.start()
        try:
            if not listener.done.wait(600):
                raise TimeoutError(f"the receiver counted {listener.seen} of {records} records in 600 s")
            return records / (time.perf_counter() - start)
        finally:
            ssc.stop(stopSparkContext=False)


def best(run: Callable[[], float], repeat: int) -> float:
    return max(run() for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--value-bytes", type=int, default=100)
    parser.add_argument("--partitions", type=int, nargs="+", default=[3, 12])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--bootstrap", help="an Apache Kafka already running (else one is started)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    from tests import servers

    server = None
    bootstrap = args.bootstrap
    work = tempfile.mkdtemp(prefix="bench-kafka-")
    if bootstrap is None:
        server = servers.start_apache_kafka(work)
        bootstrap = server.bootstrap
    results = []
    try:
        for partitions in args.partitions:
            topic = servers.create_topic(bootstrap, f"bench-{partitions}", partitions)
            t0 = time.perf_counter()
            produce(bootstrap, topic, args.records, args.value_bytes, partitions)
            produce_s = time.perf_counter() - t0
            row = {"partitions": partitions, "records": args.records, "value_bytes": args.value_bytes,
                   "produce_records_per_s": args.records / produce_s,
                   "floor": best(lambda: floor(bootstrap, topic, partitions, args.records), args.repeat),
                   "direct": best(lambda: direct(bootstrap, topic, args.records), args.repeat),
                   "receiver": best(lambda: receiver(bootstrap, topic, args.records), args.repeat)}
            results.append(row)
            print(json.dumps(row), flush=True)
    finally:
        if server is not None:
            server.close()
    print()
    print(f"| partitions | kafka-python floor | direct `local[2]` | receiver `local[2]` | direct / floor |")
    print("|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['partitions']} | {r['floor']:,.0f} | {r['direct']:,.0f} | {r['receiver']:,.0f} "
              f"| {r['direct'] / r['floor']:.2f} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
