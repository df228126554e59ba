"""Windowed word count over a bundled text, fed through queueStream (no network needed).

Every batch takes the next few lines of ``data/sample.txt``; the job keeps a sliding window
of word counts (reduceByKeyAndWindow with an inverse function), running totals
(updateStateByKey), and prints the window's top words each batch.

    python jobs/wordcount_queue.py --batches 10 --master "local[2]"
"""

from __future__ import annotations

import argparse
import operator
import os
import tempfile

from dstream import Context, StreamingContext

HERE = os.path.dirname(os.path.abspath(__file__))


def build(ssc: StreamingContext, lines_per_batch: int, batches: int) -> None:
    with open(os.path.join(HERE, "data", "sample.txt"), encoding="utf-8") as f:
        text = [line.strip() for line in f if line.strip()]
    feed = [[text[(b * lines_per_batch + i) % len(text)] for i in range(lines_per_batch)]
            for b in range(batches)]
    words = ssc.queueStream(feed).flatMap(str.split).map(lambda w: (w, 1))
    window = words.reduceByKeyAndWindow(operator.add, operator.sub, 5, 1,
                                        filterFunc=lambda kv: kv[1] > 0)
    totals = words.updateStateByKey(lambda new, old: sum(new) + (old or 0))

    def show_top(time, rdd) -> None:
        top = rdd.takeOrdered(5, key=lambda kv: (-kv[1], kv[0]))
        print(f"{time}  window top: " + ", ".join(f"{w}={c}" for w, c in top), flush=True)

    window.foreachRDD(show_top)
    totals.foreachRDD(lambda time, rdd: print(f"{time}  distinct words so far: {rdd.count()}",
                                              flush=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--batch-seconds", type=float, default=1.0)
    parser.add_argument("--lines-per-batch", type=int, default=4)
    args = parser.parse_args()
    with Context(args.master, "wordcount-queue") as ctx:
        ssc = StreamingContext(ctx, args.batch_seconds)
        ssc.checkpoint(tempfile.mkdtemp(prefix="wordcount-"))
        build(ssc, args.lines_per_batch, args.batches)
        ssc.start()
        ssc.awaitTerminationOrTimeout(args.batches * args.batch_seconds + 0.5)
        ssc.stop(stopSparkContext=False, stopGraceFully=True)


if __name__ == "__main__":
    main()
