"""Spark's recoverable word count, ported: its setup function deletes the output file (a side
effect meant for a fresh start) and each batch appends its count to that file.

    python -m tests.faults.recoverable_job SOURCE ACK CHECKPOINT OUTPUT SETUP_LOG GUARD [KEY=VALUE ...]

GUARD ``guarded`` deletes the output only when ``StreamingContext.isRecovering()`` is False
(the porting guide's fix); ``unguarded`` deletes it every time the setup function runs. Every
call of the setup function appends a line to SETUP_LOG. SIGTERM stops gracefully.
"""

from __future__ import annotations

import os
import sys

from dstream import Conf, Context, StreamingContext
from tests.faults.reliable_source_job import AckedFileSource


def main() -> None:
    source, ack, checkpoint, output, setup_log, guard, *pairs = sys.argv[1:]
    conf = (Conf().set("spark.streaming.receiver.writeAheadLog.enable", "true")
            .set("spark.streaming.receiver.writeAheadLog.rollingIntervalSecs", "1")
            .set("spark.streaming.stopGracefullyOnShutdown", "true")
            .setAll(pair.split("=", 1) for pair in pairs))

    def create_context() -> StreamingContext:
        with open(setup_log, "a", encoding="utf-8") as f:
            f.write(f"setup called, recovering={StreamingContext.isRecovering()}\n")
        if guard == "unguarded" or not StreamingContext.isRecovering():
            if os.path.exists(output):
                os.remove(output)
        ctx = Context("local", "recoverable", conf=conf)
        ssc = StreamingContext(ctx, 0.5)
        ssc.checkpoint(checkpoint)
        records = ssc.receiverStream(AckedFileSource(source, ack))

        def append_count(time, rdd) -> None:
            with open(output, "a", encoding="utf-8") as f:
                f.write(f"{int(time.timestamp() * 1000)} {rdd.count()}\n")

        records.foreachRDD(append_count)
        return ssc

    ssc = StreamingContext.getOrCreate(checkpoint, create_context)
    ssc.start()
    print("started", flush=True)
    ssc.awaitTermination()
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
