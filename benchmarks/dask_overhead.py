"""Per-batch overhead and throughput of cluster mode: ``dask-local[2]`` vs ``local[2]``.

Overhead: a small streaming job (queueStream of tiny batches -> map -> reduceByKey, 2
partitions) on the manual clock; the time to step one batch, median and p90 over the
measured batches (after warm-up). This is the fixed cost of a batch: scheduling, shipping
the stage, the shuffle round trip.

Throughput: a batch word count (flatMap -> map -> reduceByKey) over ``--lines`` generated
lines in 4 partitions; lines per second, best of ``--repeat``.

    python -m benchmarks.dask_overhead                       # both masters, ~30 s
    python -m benchmarks.dask_overhead --masters dask-local[2] --batches 100
    python -m benchmarks.dask_overhead --code-task-too       # + stage code as a Dask task
    python -m benchmarks.dask_overhead --stagewise-too       # + stages one after the other
    python -m benchmarks.dask_overhead --bucket-tasks-too    # + a Dask task per map bucket
    python -m benchmarks.dask_overhead --masters dask-local[2] --timeline 40   # where it goes
    python -m benchmarks.dask_overhead --masters dask-local[2] --rounds 3 \
        --variant dstream.dask.batchInterval=0          # + any settings, here Dask's own batching

Timeline (Dask masters): ``--timeline N`` small jobs (20 lines -> map -> reduceByKey(2) ->
collect) under Dask's task stream; per job, when (ms after the job started on the driver; the
workers share its clock) the first map task started, the last map task ended, the last bucket
and side-output tasks ended (where there are such), the reduce tasks started and ended; the
job's wall time and its tasks' compute time; medians per column.

``--variant KEY=VALUE[,KEY=VALUE...]`` (repeatable) adds a run of each Dask master with those
settings, labelled with them; with ``--rounds`` the variants alternate within each round. Each
row ends with the 1-minute load average when the run ended (``load_1min``).
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import random
import re
import statistics
import time
from typing import Any

from dstream import Conf, Context, StreamingContext
from dstream.executors.base import ExecutorBackend
from dstream.executors.dask_backend import INLINE_CODE_KEY, WHOLE_OUTPUT_KEY, DaskBackend
from dstream.streaming.testing import advance_batch

WORDS = [f"w{i}" for i in range(500)]


def batch_overhead(ctx: Context, batches: int, warmup: int) -> dict[str, float]:
    ssc = StreamingContext(ctx, 1, clock="manual")
    inputs = [[f"{random.choice(WORDS)} {random.choice(WORDS)}" for _ in range(20)]
              for _ in range(batches + warmup)]
    counts = (ssc.queueStream(inputs).flatMap(str.split).map(lambda w: (w, 1))
              .reduceByKey(operator.add, 2))
    counts.foreachRDD(lambda rdd: rdd.collect())
    ssc.start()
    times = []
    try:
        for i in range(batches + warmup):
            start = time.perf_counter()
            advance_batch(ssc)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    finally:
        ssc.stop(stopSparkContext=False)
    times.sort()
    return {"batch_ms_p50": 1000 * statistics.median(times),
            "batch_ms_p90": 1000 * times[int(0.9 * (len(times) - 1))]}


def throughput(ctx: Context, lines: int, repeat: int) -> dict[str, float]:
    rng = random.Random(0)
    text = [" ".join(rng.choices(WORDS, k=10)) for _ in range(lines)]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = (ctx.parallelize(text, 4).flatMap(str.split).map(lambda w: (w, 1))
                  .reduceByKey(operator.add, 4).collect())
        best = min(best, time.perf_counter() - start)
        assert sum(n for _, n in result) == 10 * lines
    return {"lines_per_s": lines / best, "job_s": best}


graph_outputs = DaskBackend.pending_outputs
_KEY = re.compile(r"^dstream-[0-9a-f]+-(\d+)-\d+-\d+-\d+(-bucket|-side)?")


def timeline(ctx: Context, jobs: int, warmup: int = 5) -> dict[str, float]:
    """Medians over ``jobs`` small jobs of when their Dask tasks ran: ms after the job started
    on the driver (Dask's task stream; the worker processes share the driver's clock; each job
    is two stages, map and result)."""
    client = ctx._backend._client
    client.get_task_stream(start=time.time())          # installs the scheduler's task stream
    starts, walls = [], []
    for i in range(jobs + warmup):
        data = [f"{random.choice(WORDS)} {random.choice(WORDS)}" for _ in range(20)]
        starts.append(time.time())
        start = time.perf_counter()
        ctx.parallelize(data, 2).flatMap(str.split).map(lambda w: (w, 1)).reduceByKey(
            operator.add, 2).collect()
        walls.append(1000 * (time.perf_counter() - start))
    spans: dict[int, dict[str, list[tuple[float, float]]]] = {}
    for record in client.get_task_stream(start=0):
        match = _KEY.match(str(record["key"]))
        for ss in record["startstops"]:
            if match and ss["action"] == "compute":
                spans.setdefault(int(match.group(1)), {}).setdefault(
                    match.group(2) or "", []).append((ss["start"], ss["stop"]))
    stages = sorted(spans)[-2 * jobs:]
    rows = [_job_timeline(spans[m], spans[r], origin, wall) for m, r, origin, wall
            in zip(stages[::2], stages[1::2], starts[warmup:], walls[warmup:])]
    return {k: statistics.median(r[k] for r in rows if k in r)
            for k in dict.fromkeys(k for r in rows for k in r)}


def _job_timeline(map_stage: dict[str, list[tuple[float, float]]],
                  result_stage: dict[str, list[tuple[float, float]]], origin: float,
                  wall: float) -> dict[str, float]:
    row: dict[str, float] = {"map_start_ms": 1000 * (min(a for a, _ in map_stage[""]) - origin)}
    for name, found in [("map", map_stage.get("")), ("bucket", map_stage.get("-bucket")),
                        ("side", map_stage.get("-side")), ("reduce", result_stage.get(""))]:
        if found:
            row[f"{name}_end_ms"] = 1000 * (max(b for _, b in found) - origin)
    row["reduce_start_ms"] = 1000 * (min(a for a, _ in result_stage[""]) - origin)
    row["job_ms"] = wall
    row["compute_ms"] = 1000 * sum(b - a for stage in (map_stage, result_stage)
                                   for v in stage.values() for a, b in v)
    row["dask_tasks"] = float(sum(len(v) for stage in (map_stage, result_stage)
                                  for v in stage.values()))
    return row


def _conf_of(spec: str) -> Conf:
    """A Conf of ``KEY=VALUE[,KEY=VALUE...]``."""
    conf = Conf()
    for pair in spec.split(","):
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--variant {spec!r}: expected KEY=VALUE[,KEY=VALUE...]")
        conf.set(key.strip(), value.strip())
    return conf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--masters", nargs="+", default=["local[2]", "dask-local[2]"])
    parser.add_argument("--code-task-too", action="store_true",
                        help="also run each dask master with the stage code sent as a Dask task "
                             "(the way before stage code travelled inside the tasks)")
    parser.add_argument("--stagewise-too", action="store_true",
                        help="also run each dask master with a job's stages submitted one after "
                             "the other, each waiting for the one before (as before one graph)")
    parser.add_argument("--bucket-tasks-too", action="store_true",
                        help="also run each dask master with one graph but a Dask task per map "
                             "bucket (dstream.dask.wholeMapOutputPartitions=0)")
    parser.add_argument("--variant", action="append", default=[],
                        metavar="KEY=VALUE[,KEY=VALUE...]",
                        help="also run each dask master with these settings (repeatable), e.g. "
                             "dstream.dask.batchInterval=0 for Dask's own batching intervals")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the variants this many times, one after the other")
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeline", type=int, default=0, metavar="N",
                        help="Dask masters: only the task timeline of N small jobs")
    args = parser.parse_args()
    runs = [(master, Conf()) for master in args.masters]
    if args.code_task_too:
        runs += [(f"{master} (code as a task)", Conf().set(INLINE_CODE_KEY, 0))
                 for master in args.masters if master.startswith("dask")]
    if args.bucket_tasks_too:
        runs += [(f"{master} (bucket tasks)", Conf().set(WHOLE_OUTPUT_KEY, 0))
                 for master in args.masters if master.startswith("dask")]
    if args.stagewise_too:   # as before one graph: stages one after the other, bucket tasks
        runs += [(f"{master} (stagewise)", Conf().set(WHOLE_OUTPUT_KEY, 0))
                 for master in args.masters if master.startswith("dask")]
    for spec in args.variant:
        runs += [(f"{master} ({spec})", _conf_of(spec))
                 for master in args.masters if master.startswith("dask")]
    for label, conf in runs * args.rounds:
        # the interface's default: map outputs only from finished tasks, so stages wait
        DaskBackend.pending_outputs = (ExecutorBackend.pending_outputs if "stagewise" in label
                                       else graph_outputs)
        start = time.perf_counter()
        with Context(label.split()[0], "dask-overhead", conf=conf) as ctx:
            started = time.perf_counter() - start
            row = {"startup_s": started}
            if args.timeline:
                if label.startswith("dask"):
                    row.update(timeline(ctx, args.timeline))
                row["load_1min"] = os.getloadavg()[0]
                print(label, json.dumps({k: round(v, 1) for k, v in row.items()}), flush=True)
                continue
            row.update(batch_overhead(ctx, args.batches, args.warmup))
            row.update(throughput(ctx, args.lines, args.repeat))
        row["load_1min"] = os.getloadavg()[0]
        print(label, json.dumps({k: round(v, 3) for k, v in row.items()}), flush=True)


if __name__ == "__main__":
    main()
