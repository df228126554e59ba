"""Windowed word count over a bundled text, fed through queueStream (no network needed).

Every batch takes the next few lines of ``data/sample.txt``; the job keeps a sliding window
of word counts (reduceByKeyAndWindow with an inverse function), running totals
(updateStateByKey), and prints the window's top words each batch. After ``--batches``
batches the queue is empty and the batches that follow are empty too.

    dstream run jobs/wordcount_queue.py --http 127.0.0.1:4040
    python jobs/wordcount_queue.py --stop-after 10.5 --http off --batches 10

(queueStream reports no input records, as in Spark: the record counts stay at 0.)
"""

from __future__ import annotations

import argparse
import operator
import os

from dstream import StreamingContext

HERE = os.path.dirname(os.path.abspath(__file__))

APP_NAME = "wordcount-queue"
MASTER = "local[2]"
BATCH_SECONDS = 1.0
CHECKPOINT = "checkpoints/wordcount-queue"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batches", type=int, default=10, help="batches of text to queue")
    parser.add_argument("--lines-per-batch", type=int, default=4, help="lines of text per batch")


def build(ssc: StreamingContext, args: argparse.Namespace) -> None:
    with open(os.path.join(HERE, "data", "sample.txt"), encoding="utf-8") as f:
        text = [line.strip() for line in f if line.strip()]
    n = args.lines_per_batch
    feed = [[text[(b * n + i) % len(text)] for i in range(n)] for b in range(args.batches)]
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


if __name__ == "__main__":
    from dstream.service import run_standalone
    run_standalone(__file__)
