"""Event-time windowed word count against the batch-time one, on the same input and machine.

Lines of ~10 words (``textgen``), each line stamped with an event time: batch ``i`` carries
times in ``[i, i + 1)`` s; 10 % of the lines are out of order (up to 2 s behind, within the
out-of-orderness bound) and 1 % are late (30 s behind, past every window). Both jobs read the
same pre-made batches through ``queueStream`` on ``local[2]``, stepped on the manual clock:

* batch time: ``flatMap -> (word, 1) -> reduceByKeyAndWindow(add, sub, 10, 1)``;
* event time: ``flatMap -> (word, ts) -> withEventTime(ts, 2) -> countByKeyAndEventWindow(10, 1)``
  (sliding, as the batch-time job), and the same with tumbling 10 s windows.

Each output collects its batch. The first ``--warmup`` batches (worker start-up, first
imports) are run but not measured. Throughput is the measured batches' words over their wall
time, run back to back; the delay of a batch is its wall time from the clock step to its
completion (no queueing: one batch at a time), reported as p50 / p99.

    python -m benchmarks.event_time_wordcount [--batches 40] [--lines 20000]
"""

from __future__ import annotations

import argparse
import operator
import random
import tempfile
import time
from typing import Any, Callable

from benchmarks.harness import percentile, table
from benchmarks.textgen import LineGenerator
from dstream import Context, StreamingContext
from dstream.streaming.testing import advance_batch, collect_batches


def make_batches(n: int, lines: int, seed: int = 42) -> list[list[tuple[float, str]]]:
    gen, rng = LineGenerator(seed), random.Random(seed)
    batches = []
    for i in range(n):
        stamped = []
        for line in gen.lines(lines):
            t = i + rng.random()
            r = rng.random()
            if r < 0.01:
                t -= 30.0
            elif r < 0.11:
                t -= rng.uniform(0.0, 2.0)
            stamped.append((t, line))
        batches.append(stamped)
    return batches


def batch_time_job(lines: Any) -> Any:
    return (lines.flatMap(lambda tl: tl[1].split()).map(lambda w: (w, 1))
            .reduceByKeyAndWindow(operator.add, operator.sub, 10, 1))


def event_time_job(slide: float | None) -> Callable[[Any], Any]:
    def job(lines: Any) -> Any:
        words = lines.flatMap(lambda tl: [(w, tl[0]) for w in tl[1].split()])
        return words.withEventTime(lambda wt: wt[1], 2).countByKeyAndEventWindow(10, slide)
    return job


def run(master: str, batches: list[list[tuple[float, str]]], job: Callable[[Any], Any],
        warmup: int) -> tuple[float, list[float]]:
    """Seconds for the batches after the first ``warmup``, and each one's seconds."""
    with Context(master, "event-time-bench") as ctx, tempfile.TemporaryDirectory() as tmp:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.checkpoint(tmp)
        rdds = [ctx.parallelize(b, 2) for b in batches]
        collect_batches(job(ssc.queueStream(rdds)))
        ssc.start()
        for _ in range(warmup):
            advance_batch(ssc, timeout=600)
        delays = []
        started = time.perf_counter()
        for _ in batches[warmup:]:
            t0 = time.perf_counter()
            advance_batch(ssc, timeout=600)
            delays.append(time.perf_counter() - t0)
        total = time.perf_counter() - started
        ssc.awaitTerminationOrTimeout(0)
        ssc.stop(stopSparkContext=False)
        return total, delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--lines", type=int, default=20_000, help="lines per batch (~10 words each)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--warmup", type=int, default=2, help="batches run first, not measured")
    args = parser.parse_args()
    batches = make_batches(args.batches, args.lines)
    words = sum(len(line.split()) for b in batches[args.warmup:] for _t, line in b)
    rows, rates = [], {}
    for name, job in [("batch time, sliding 10 s / 1 s", batch_time_job),
                      ("event time, sliding 10 s / 1 s", event_time_job(1)),
                      ("event time, tumbling 10 s", event_time_job(None))]:
        total, delays = run(args.master, batches, job, args.warmup)
        rates[name] = words / total
        rows.append([name, f"{words / total:,.0f}", f"{percentile(delays, 50) * 1000:.0f}",
                     f"{percentile(delays, 99) * 1000:.0f}"])
    base = rates["batch time, sliding 10 s / 1 s"]
    for row in rows:
        row.append(f"{rates[row[0]] / base:.2f}")
    print(f"{args.batches} batches of {args.lines} lines, {args.batches - args.warmup} measured "
          f"({words:,} words), {args.master}")
    print(table(["job", "words/s", "batch p50 ms", "batch p99 ms", "x batch time"], rows))


if __name__ == "__main__":
    main()
