"""The job the exactly-once sink test kills and restarts: Kafka words -> running totals ->
the transactional Kafka sink, saveAsTextFiles and the Redis sink.

    python -m tests.faults.sink_job MASTER INPUT BOOTSTRAP IN_TOPIC OUT_TOPIC GROUP CHECKPOINT OUT_DIR REDIS_URL [BATCH_SECONDS]

``MASTER`` is the executor (``local[2]``, ``dask-local[3]``), ``BATCH_SECONDS`` the batch
interval (0.5 unless given). ``INPUT`` chooses the source:
``receiver`` (``KafkaUtils.createStream`` with the write-ahead log) or ``direct``
(``KafkaUtils.createDirectStream``, Kafka's own offsets per batch). The direct stream logs where
each offset range was read (process and host), in the format ``tests.faults.range_readers``
parses.
"""

from __future__ import annotations

import logging
import os
import sys

from dstream import Conf, Context, KafkaUtils, StreamingContext
from dstream.streaming import DStream
from tests.faults.kafka_wordcount_job import run_until_sigterm
from tests.faults.range_readers import LOG_FORMAT


def words_from(kind: str, ssc: StreamingContext, bootstrap: str, topic: str, group: str) -> DStream:
    """``(word, 1)`` pairs from the input topic, read the way ``kind`` says."""
    if kind == "receiver":
        pairs = KafkaUtils.createStream(ssc, bootstrap, group, [topic],
                                        {"session_timeout_ms": 6000, "heartbeat_interval_ms": 2000,
                                         "auto.offset.reset": "smallest"})
    elif kind == "direct":
        pairs = KafkaUtils.createDirectStream(ssc, [topic], {"bootstrap.servers": bootstrap,
                                                             "group.id": group,
                                                             "auto.offset.reset": "smallest"})
    else:
        raise ValueError(f"input must be 'receiver' or 'direct', got {kind!r}")
    return pairs.map(lambda kv: (kv[1], 1))


def main() -> None:
    master, kind, bootstrap, in_topic, out_topic, group, checkpoint, out_dir, redis_url = sys.argv[1:10]
    interval = float(sys.argv[10]) if len(sys.argv) > 10 else 0.5
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format=LOG_FORMAT)
    logging.getLogger("dstream.streaming.sinks").setLevel(logging.INFO)   # batches skipped
    logging.getLogger("dstream.streaming.inputs.kafka_direct").setLevel(logging.INFO)   # who read ranges
    conf = (Conf().set("dstream.streaming.receiver.writeAheadLog.enable", "true")
            .set("dstream.checkpoint.key", "sink-fault-test-secret"))

    def setup() -> StreamingContext:
        ctx = Context(master, "sink-crash", conf=conf)
        ssc = StreamingContext(ctx, interval)
        ssc.checkpoint(checkpoint)
        totals = (words_from(kind, ssc, bootstrap, in_topic, group)
                  .updateStateByKey(lambda new, old: sum(new) + (old or 0)))
        totals.saveToKafka(bootstrap, out_topic, {"linger.ms": "5"})
        totals.saveAsTextFiles(os.path.join(out_dir, "totals"), skipEmpty=True)
        totals.saveToRedis(redis_url, f"{group}:", name=group)
        return ssc

    ssc = StreamingContext.getOrCreate(checkpoint, setup)
    run_until_sigterm(ssc)


if __name__ == "__main__":
    main()
