"""The job the long-run crash tests kill and restart: Kafka or a socket -> running totals ->
one JSON file per batch, written idempotently by batch time. Every boundary is shrunk so that a
few seconds of running cross many of them: batches of 0.5 s, blocks of 0.1 s, write-ahead log
segments of 1 s, a state checkpoint every 1 s (so the input remembers about 5 s of batches:
older blocks are settled, and their segments cleaned, within a run).

    python -m tests.faults.wordcount_job kafka BOOTSTRAP TOPIC CHECKPOINT OUT_DIR
    python -m tests.faults.wordcount_job socket PORT CHECKPOINT OUT_DIR

It prints ``recovered from batch T ...`` when ``getOrCreate`` recovered, and
``checkpoint written batch T`` after each metadata checkpoint, for the test to wait on.
"""

from __future__ import annotations

import operator
import sys
import threading
from typing import Any

from dstream import Conf, Context, KafkaUtils, StreamingContext, StreamingListener
from tests.faults.kafka_wordcount_job import run_until_sigterm

from .kafka_wordcount_job import write_batch

SETTINGS = {
    "dstream.streaming.receiver.writeAheadLog.enable": "true",
    "dstream.streaming.receiver.writeAheadLog.rollingIntervalSecs": "1",
    "dstream.streaming.blockInterval": "0.1s",
    "dstream.streaming.checkpoint.maxRetryDelay": "0.5s",
    "dstream.checkpoint.key": "long-run-fault-test-secret",
}


_OUT = threading.Lock()


def say(line: str) -> None:
    """One whole line to stdout (the listener bus and the main thread both write)."""
    with _OUT:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class Progress(StreamingListener):
    def onRecoveryCompleted(self, event: Any) -> None:
        say(f"recovered from batch {event.time_ms} blocks {event.replayed}")

    def onCheckpointWritten(self, event: Any) -> None:
        if event.metadata:
            say(f"checkpoint written batch {event.time_ms}")

    def onCheckpointError(self, event: Any) -> None:
        say(f"checkpoint failed batch {event.time_ms}: {event.error}")


def main() -> None:
    kind = sys.argv[1]
    source_args, (checkpoint, out_dir) = sys.argv[2:-2], sys.argv[-2:]
    conf = Conf().setAll(SETTINGS.items())

    def setup() -> StreamingContext:
        ctx = Context("local[2]", f"long-run-{kind}", conf=conf)
        ssc = StreamingContext(ctx, 0.5)
        ssc.checkpoint(checkpoint)
        if kind == "kafka":
            bootstrap, topic = source_args
            lines = KafkaUtils.createStream(
                ssc, bootstrap, "long-run-wordcount", [topic],
                {"session_timeout_ms": 6000, "heartbeat_interval_ms": 2000,
                 "auto.offset.reset": "smallest"}).map(lambda kv: kv[1])
        else:
            lines = ssc.socketTextStream("127.0.0.1", int(source_args[0]))
        words = lines.flatMap(str.split).map(lambda w: (w, 1))
        totals = words.updateStateByKey(lambda new, old: sum(new) + (old or 0))
        totals.checkpoint(1)
        window = words.reduceByKeyAndWindow(operator.add, operator.sub, 3, 0.5)
        window.checkpoint(1)         # so that blocks are forgotten (settled) within seconds
        totals.foreachRDD(lambda t, rdd: write_batch(out_dir, "totals", int(t.timestamp() * 1000),
                                                     rdd.collect()))
        window.foreachRDD(lambda rdd: rdd.count())
        return ssc

    ssc = StreamingContext.getOrCreate(checkpoint, setup)
    ssc.addStreamingListener(Progress())
    run_until_sigterm(ssc, say)


if __name__ == "__main__":
    main()
