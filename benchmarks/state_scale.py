"""State at scale (issue #16, target 4): ``mapWithState`` and ``updateStateByKey`` with many
keys, a small share of them touched per batch.

Each case runs in a fresh process (so its memory is its own), in-process on the manual clock
(``advance_batch``), with ``queueStream`` batches of ``--touched`` distinct keys drawn from
the key space (each record ``(key, 1)``). The state is built first from an initial state of
``--keys`` keys (``initialState`` / ``initialRDD``, the first batch, not timed with the rest);
then every batch is timed alone: the batch (its jobs and the after-batch step that captures
state due for a data checkpoint, on the batch thread), then the checkpoint writer, waited
for after each batch, with the bytes it wrote. Data checkpoints every ``--checkpoint-every``
batches; ``dstream.streaming.state.snapshotEvery`` is ``--snapshot-every``. At the end the
job stops and a new context recovers from the checkpoint (``getOrCreate`` + ``start``: the
state is read back), then runs one more batch.

Memory per key: the process's resident memory after the state is built minus before,
divided by the keys (with the remembered batches' versions and the input batches in it).

    python -m benchmarks.state_scale                         # 50 k and 5 M keys, ~10 minutes
    python -m benchmarks.state_scale --keys 50000 --ops mapWithState --batches 6
    python -m benchmarks.state_scale --dstream /path/to/other/checkout   # the same, another build
    python -m benchmarks.state_scale --profile --keys 5000000 --ops mapWithState  # cProfile a batch
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Iterator

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))


def count_in_state(key: str, value: int, state: Any) -> tuple[str, int]:
    state.update((state.getOption() or 0) + value)
    return key, state.get()


def update_total(new: list[int], old: int | None) -> int:
    return (old or 0) + sum(new)


def rss() -> int:
    me = psutil.Process()
    return me.memory_info().rss + sum(c.memory_info().rss for c in me.children(recursive=True))


def initial_state(ctx: Any, keys: int, partitions: int) -> Any:
    """``keys`` keys at 0, already hash-partitioned like the state (so no shuffle builds it:
    the build is set-up, not what is measured)."""
    from dstream.hashing import portable_hash
    from dstream.partitioner import Partitioner
    from dstream.rdd_kinds import ParallelCollectionRDD
    slices: list[list[tuple[str, int]]] = [[] for _ in range(partitions)]
    for i in range(keys):
        key = "u%d" % i
        slices[portable_hash(key) % partitions].append((key, 0))
    rdd = ParallelCollectionRDD(ctx, slices)
    rdd.partitioner = Partitioner(partitions, portable_hash)
    return rdd


def inputs(keys: int, touched: int, batches: int, seed: int) -> list[list[tuple[str, int]]]:
    rng = random.Random(seed)
    return [[("u%d" % i, 1) for i in rng.sample(range(keys), touched)] for _ in range(batches)]


def run_case(op: str, keys: int, touched: int, batches: int, master: str, partitions: int,
             checkpoint_every: int, snapshot_every: int, profile: bool) -> dict[str, Any]:
    """One case in this process; returns its figures."""
    import dstream
    from dstream import Conf, Context, StreamingContext
    from dstream.streaming import StateSpec
    from dstream.streaming.testing import advance_batch

    from benchmarks.checkpoint_overhead import WriterTimer

    work = tempfile.mkdtemp(prefix="state-scale-")
    checkpoint = os.path.join(work, "ckpt")
    feed = inputs(keys, touched, batches, seed=7)
    gc.collect()
    rss_start = rss()
    conf = Conf()
    try:
        from dstream.streaming.state_checkpoints import SNAPSHOT_EVERY_CONF
        conf.set(SNAPSHOT_EVERY_CONF, str(snapshot_every))
    except ImportError:             # a build without incremental state checkpoints
        pass
    ctx = Context(master, "state-scale", conf=conf)
    steps: list[float] = []

    initials = []

    def setup(queue: list, initial_keys: int) -> Any:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.checkpoint(checkpoint)
        stream = ssc.queueStream(queue)
        initial = initial_state(ctx, initial_keys, partitions)
        initials.append(initial)
        if op == "mapWithState":
            out = stream.mapWithState(StateSpec.function(count_in_state).numPartitions(partitions)
                                      .initialState(initial))
            out.internal.checkpoint(checkpoint_every)
        else:
            out = stream.updateStateByKey(update_total, partitions, initial).checkpoint(checkpoint_every)
        out.foreachRDD(lambda rdd: rdd.count())
        return ssc

    def timed_step(ssc: Any) -> None:
        step = ssc._checkpoints._capture_and_submit

        def timed(*a: Any, **k: Any) -> Any:
            start = time.perf_counter()
            try:
                return step(*a, **k)
            finally:
                steps.append(time.perf_counter() - start)
        ssc._checkpoints._capture_and_submit = timed

    ssc = setup([[]] + feed, keys)
    ssc.start()
    timed_step(ssc)
    writer = WriterTimer(ssc._checkpoints.manager)
    start = time.perf_counter()
    advance_batch(ssc, 3600)                             # batch 1: the state is built
    build_s = time.perf_counter() - start
    assert ssc._checkpoints.manager.flush(3600)
    initials[0]._slices = None        # the driver's copy of the initial pairs: not the state
    gc.collect()
    rss_built = rss()
    rows = []
    profiler = cProfile.Profile() if profile else None
    profiled = {"batch": None}
    if profiler is not None:          # the batch runs on the scheduler's thread: profile there
        run = ssc._scheduler._run

        def profiled_run(jobset: Any) -> None:
            if jobset.time_ms != profiled["batch"]:
                return run(jobset)
            profiler.enable()
            try:
                return run(jobset)
            finally:
                profiler.disable()
        ssc._scheduler._run = profiled_run
    for i in range(batches):
        steps.clear()
        seen = len(writer.writes)
        profiled["batch"] = 3000        # the first batch after the build without a checkpoint
        start = time.perf_counter()
        advance_batch(ssc, 3600)
        batch_s = time.perf_counter() - start
        assert ssc._checkpoints.manager.flush(3600)
        writes = writer.since(seen)
        data = [w for w in writes if w["data_partitions"]]
        rows.append({"batch": i + 2, "batch_s": batch_s, "checkpoint_step_s": sum(steps),
                     "data_checkpoint": bool(data),
                     "writer_s": sum(w["seconds"] for w in writes),
                     "bytes": sum(w["bytes"] for w in writes)})
    chain = None
    info = (ssc._checkpoints.state_index or {}).values()
    for item in info:
        chain = item.get("chain")
    rss_end = rss()
    ssc.stop(stopSparkContext=False)
    # recovery: a new graph, the state read back from the snapshot (and deltas)
    from dstream import StreamingContext as SC
    gc.collect()
    start = time.perf_counter()
    recovered = SC.getOrCreate(checkpoint, lambda: setup([feed[0]], 1))
    recovered._clock.set_time(ssc._clock.now_ms())
    recovered.start()
    recover_s = time.perf_counter() - start
    start = time.perf_counter()
    advance_batch(recovered, 3600)
    first_batch_s = time.perf_counter() - start
    recovered.stop(stopSparkContext=False)
    ctx.stop()
    shutil.rmtree(work, ignore_errors=True)
    result = {"op": op, "keys": keys, "touched": touched, "master": master,
              "dstream": os.path.dirname(dstream.__file__), "build_s": build_s, "rows": rows,
              "bytes_per_key": (rss_built - rss_start) / keys, "rss_built": rss_built,
              "rss_end": rss_end, "recover_s": recover_s, "first_batch_after_recovery_s": first_batch_s,
              "chain": chain}
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(12)
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
        result["profile"] = text.getvalue()
    return result


def median(values: list[float]) -> float | None:
    values = sorted(values)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def summary(r: dict[str, Any]) -> dict[str, Any]:
    plain = [row["batch_s"] for row in r["rows"] if not row["data_checkpoint"]]
    data = [row for row in r["rows"] if row["data_checkpoint"]]
    return {
        "op": r["op"], "keys": r["keys"], "master": r["master"],
        "batch_ms_median": None if not plain else 1000 * median(plain),
        "batch_ms_each": [round(1000 * row["batch_s"]) for row in r["rows"]],
        "checkpoints": [{"batch": row["batch"], "step_ms": round(1000 * row["checkpoint_step_s"], 1),
                         "writer_ms": round(1000 * row["writer_s"], 1), "bytes": row["bytes"]}
                        for row in data],
        "bytes_per_key": round(r["bytes_per_key"]),
        "growth_per_key_over_run": round((r["rss_end"] - r["rss_built"]) / r["keys"]),
        "build_s": round(r["build_s"], 1),
        "recover_s": round(r["recover_s"], 2),
        "first_batch_after_recovery_ms": round(1000 * r["first_batch_after_recovery_s"]),
        "chain": r["chain"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, nargs="+", default=[50_000, 5_000_000])
    parser.add_argument("--touched", type=int, default=50_000, help="distinct keys per batch")
    parser.add_argument("--ops", nargs="+", default=["mapWithState", "updateStateByKey"])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--master", default="local")
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--checkpoint-every", type=int, default=2, help="batches between data checkpoints")
    parser.add_argument("--snapshot-every", type=int, default=3)
    parser.add_argument("--dstream", help="import dstream from this checkout instead")
    parser.add_argument("--profile", action="store_true", help="cProfile the last batch")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        case = json.loads(args.one)
        print(json.dumps(run_case(**case)))
        return
    env = dict(os.environ)
    repo = os.path.dirname(HERE)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (args.dstream, repo, env.get("PYTHONPATH")) if p)
    print(f"load average {os.getloadavg()}", flush=True)
    for op in args.ops:
        for keys in args.keys:
            case = {"op": op, "keys": keys, "touched": args.touched, "batches": args.batches,
                    "master": args.master, "partitions": args.partitions,
                    "checkpoint_every": args.checkpoint_every, "snapshot_every": args.snapshot_every,
                    "profile": args.profile}
            out = subprocess.run([sys.executable, "-m", "benchmarks.state_scale", "--one", json.dumps(case)],
                                 cwd=args.dstream or repo, env=env, capture_output=True, text=True)
            if out.returncode:
                print(out.stderr[-3000:], file=sys.stderr)
                continue
            result = json.loads(out.stdout.strip().splitlines()[-1])
            print(json.dumps({"dstream": result["dstream"], **summary(result)}), flush=True)
            if args.profile:
                print(result["profile"], flush=True)
    print(f"load average {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
