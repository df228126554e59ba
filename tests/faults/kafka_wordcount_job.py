"""The job the fault-injection tests kill and restart: Kafka -> running totals and a
windowed count -> one JSON file per batch, written idempotently by batch time.

    python -m tests.faults.kafka_wordcount_job BOOTSTRAP TOPIC CHECKPOINT OUT_DIR
"""

from __future__ import annotations

import json
import operator
import os
import signal
import sys
import threading
from collections.abc import Callable

from dstream import Conf, Context, KafkaUtils, StreamingContext


def write_batch(out_dir: str, name: str, time_ms: int, records: list) -> None:
    """``out_dir/name-<ms>.json``, replaced whole: a re-run batch rewrites its own file."""
    path = os.path.join(out_dir, f"{name}-{time_ms:015d}.json")
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(dict(records), f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _say(message: str) -> None:
    print(message, flush=True)


def run_until_sigterm(ssc: StreamingContext, say: Callable[[str], None] = _say) -> None:
    """Start ``ssc`` and say "started"; on SIGTERM stop it gracefully and say "stopped" (the
    lines the fault tests wait for)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ssc.start()
    say("started")
    stop.wait()
    ssc.stop(stopSparkContext=True, stopGraceFully=True)
    say("stopped")


def main() -> None:
    bootstrap, topic, checkpoint, out_dir = sys.argv[1:5]
    conf = (Conf().set("dstream.streaming.receiver.writeAheadLog.enable", "true")
            .set("dstream.checkpoint.key", "fault-test-secret"))

    def setup() -> StreamingContext:
        ctx = Context("local[2]", "fault-wordcount", conf=conf)
        ssc = StreamingContext(ctx, 0.5)
        ssc.checkpoint(checkpoint)
        words = KafkaUtils.createStream(
            ssc, bootstrap, "fault-wordcount", [topic],
            {"session.timeout.ms": "6000", "heartbeat.interval.ms": "2000",
             "auto.offset.reset": "smallest"}).map(lambda kv: (kv[1], 1))
        totals = words.updateStateByKey(lambda new, old: sum(new) + (old or 0))
        window = words.reduceByKeyAndWindow(operator.add, operator.sub, 5, 0.5)

        def sink(name: str):
            return lambda time, rdd: write_batch(out_dir, name, int(time.timestamp() * 1000), rdd.collect())

        totals.foreachRDD(sink("totals"))
        window.foreachRDD(sink("window"))
        return ssc

    ssc = StreamingContext.getOrCreate(checkpoint, setup)
    run_until_sigterm(ssc)


if __name__ == "__main__":
    main()
