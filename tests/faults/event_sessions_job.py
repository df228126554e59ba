"""The job the event-time crash test kills and restarts: a file stream of ``key seconds``
lines -> session windows by event time -> one JSON file of emitted sessions per batch,
written idempotently by batch time.

    python -m tests.faults.event_sessions_job INPUT_DIR CHECKPOINT OUT_DIR
"""

from __future__ import annotations

import operator
import sys

from dstream import Conf, Context, StreamingContext
from tests.faults.kafka_wordcount_job import run_until_sigterm, write_batch


def parse(line: str) -> tuple[str, float]:
    key, seconds = line.split()
    return key, float(seconds)


def main() -> None:
    input_dir, checkpoint, out_dir = sys.argv[1:4]
    conf = Conf().set("dstream.checkpoint.key", "event-fault-secret")

    def setup() -> StreamingContext:
        ctx = Context("local[2]", "event-sessions", conf=conf)
        ssc = StreamingContext(ctx, 0.5)
        ssc.checkpoint(checkpoint)
        events = ssc.textFileStream(input_dir).map(parse).withEventTime(lambda kv: kv[1], 10)
        sessions = (events.mapValues(lambda _t: 1)
                    .reduceByKeyAndSessionWindow(operator.add, 3).setName("sessions"))
        sessions.checkpoint(1)          # state saved every second batch: crashes fall between

        def sink(time, rdd) -> None:
            rows = [[k, s.timestamp(), e.timestamp(), n] for (k, s, e), n in rdd.collect()]
            write_batch(out_dir, "sessions", int(time.timestamp() * 1000), [("rows", rows)])

        sessions.foreachRDD(sink)
        return ssc

    ssc = StreamingContext.getOrCreate(checkpoint, setup)
    run_until_sigterm(ssc)


if __name__ == "__main__":
    main()
