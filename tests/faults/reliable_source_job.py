"""A job the configuration tests kill and restart: a reliable receiver reads numbered records
from a file and acknowledges each block (writes its position to an ack file) once ``store``
returned, as Spark's reliable receivers do; the job keeps every id seen in state and writes,
per batch, how many ids it holds (idempotent by batch time).

    python -m tests.faults.reliable_source_job SOURCE ACK CHECKPOINT OUT_DIR [KEY=VALUE ...]

KEY=VALUE pairs go into the Conf (Spark names included). The process stops when it is
signalled: gracefully only if the conf says so (``spark.streaming.stopGracefullyOnShutdown``).
"""

from __future__ import annotations

import json
import os
import sys
import threading

from dstream import Conf, Context, Receiver, StreamingContext

CHUNK = 10
PACE_S = 0.02      # the source's own pace: 500 records/s


def write_atomically(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class AckedFileSource(Receiver):
    """Reads ``source`` from the acknowledged position; acknowledges after each reliable store.
    Block metadata carries the position, so recovery resumes past what the log holds."""

    def __init__(self, source: str, ack: str) -> None:
        super().__init__()
        self._source, self._ack = source, ack
        self._resume = 0
        self._wake = threading.Event()

    def resume_from(self, positions: dict) -> None:
        self._resume = max(self._resume, int(positions.get("src", 0)))

    def onStart(self) -> None:
        self.start_thread(self._read)

    def onStop(self) -> None:
        self._wake.set()

    def _read(self) -> None:
        with open(self._source, encoding="utf-8") as f:
            records = f.read().split()
        position = self._resume
        if os.path.exists(self._ack):
            with open(self._ack, encoding="utf-8") as f:
                position = max(position, int(f.read()))
        while position < len(records) and not self.isStopped():
            end = min(position + CHUNK, len(records))
            self.store(records[position:end], metadata={"kafka_offsets": {"src": end}})
            write_atomically(self._ack, str(end))
            position = end
            self._wake.wait(PACE_S)


def main() -> None:
    source, ack, checkpoint, out_dir, *pairs = sys.argv[1:]
    conf = Conf().setAll(pair.split("=", 1) for pair in pairs)

    def setup() -> StreamingContext:
        ctx = Context("local", "reliable-source", conf=conf)
        ssc = StreamingContext(ctx, 0.5)
        ssc.checkpoint(checkpoint)
        ids = ssc.receiverStream(AckedFileSource(source, ack)).map(lambda r: ("ids", [int(r)]))
        seen = ids.reduceByKey(lambda a, b: a + b).updateStateByKey(
            lambda new, old: (old or []) + [i for chunk in new for i in chunk])
        seen.checkpoint(1)        # a data checkpoint every 2 batches (the default is 10 s)

        def write(time, rdd) -> None:
            held = dict(rdd.collect()).get("ids", [])
            path = os.path.join(out_dir, f"seen-{int(time.timestamp() * 1000):015d}.json")
            write_atomically(path, json.dumps({"count": len(held), "distinct": len(set(held))}))

        seen.foreachRDD(write)
        return ssc

    ssc = StreamingContext.getOrCreate(checkpoint, setup)
    ssc.start()
    print("started", flush=True)
    ssc.awaitTermination()
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
