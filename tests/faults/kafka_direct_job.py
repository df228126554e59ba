"""The job the direct-stream crash tests kill and restart: a Kafka direct stream -> running
totals -> one JSON file per batch, written idempotently by batch time.

    python -m tests.faults.kafka_direct_job MASTER BOOTSTRAP TOPIC CHECKPOINT OUT_DIR

Logs at INFO, so the job log shows where each offset range was read (process and host).
"""

from __future__ import annotations

import logging
import sys

from dstream import Conf, Context, KafkaUtils, StreamingContext
from tests.faults.kafka_wordcount_job import run_until_sigterm, write_batch
from tests.faults.range_readers import LOG_FORMAT


def main() -> None:
    master, bootstrap, topic, checkpoint, out_dir = sys.argv[1:6]
    logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format=LOG_FORMAT)
    logging.getLogger("dstream.streaming.inputs.kafka_direct").setLevel(logging.INFO)
    conf = (Conf().set("dstream.checkpoint.key", "fault-test-secret")
            .set("dstream.streaming.kafka.maxRatePerPartition", "4000"))

    def setup() -> StreamingContext:
        ctx = Context(master, "direct-fault-wordcount", conf=conf)
        ssc = StreamingContext(ctx, 0.5)
        ssc.checkpoint(checkpoint)
        words = KafkaUtils.createDirectStream(
            ssc, [topic], {"metadata.broker.list": bootstrap, "auto.offset.reset": "smallest",
                           "group.id": "direct-fault-wordcount"}).map(lambda kv: (kv[1], 1))
        totals = words.updateStateByKey(lambda new, old: sum(new) + (old or 0))
        totals.foreachRDD(lambda time, rdd: write_batch(out_dir, "totals", int(time.timestamp() * 1000),
                                                        rdd.collect()))
        return ssc

    ssc = StreamingContext.getOrCreate(checkpoint, setup)
    run_until_sigterm(ssc)


if __name__ == "__main__":
    main()
