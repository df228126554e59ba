"""Checkpoint overhead: a stateful job's per-batch cost with checkpoints on disk, on Redis,
and with checkpoint writes switched off.

The job (in this process, on the manual clock, so each batch is stepped by hand and the runs
are deterministic) is fed pre-generated batches of text by ``queueStream``:

    lines -> flatMap(split) -> map((w, 1)) -> updateStateByKey(sum)                (~10k keys)
                                           -> reduceByKeyAndWindow(add, sub, 10, 1)
    + the top 10 of both per batch (foreachRDD)

Per batch it records the batch's wall time (``advance_batch``: generating and running the
jobs, then the after-batch step that snapshots the metadata and captures state due for a
data checkpoint), and the checkpoint writer's time (it runs off the batch thread: data
partitions, then the metadata generation, retention and clean-up), with the bytes written.
By default the runner waits for the writer to finish after each batch, so that every write
is timed alone; ``--overlap`` steps batches back to back instead (the writer then competes
with the next batches and coalesces queued snapshots, as it would under load).

The baseline ("off") runs the same graph with a checkpoint location but with the after-batch
checkpoint step replaced by a no-op (nothing captured or written): updateStateByKey cannot
run without a checkpoint location at all.

    python -m benchmarks.checkpoint_overhead                    # ~1 minute
    python -m benchmarks.checkpoint_overhead --batches 120 --lines-per-batch 50000
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import operator
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

from dstream import Conf, Context, StreamingContext
from dstream.streaming.testing import advance_batch

from .harness import median, percentile, table
from .textgen import LineGenerator

VARIANTS = ("off", "disk", "redis")


def by_count(kv: tuple[str, int]) -> tuple[int, str]:
    return (-kv[1], kv[0])


def update_total(new: list[int], old: int | None) -> int:
    return sum(new) + (old or 0)


class WriterTimer:
    """Wraps a CheckpointManager's writer: per written request, its duration and bytes."""

    def __init__(self, manager: Any) -> None:
        self.writes: list[dict[str, Any]] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        write, save = manager._write, manager.store.save

        def timed_write(request: Any) -> None:
            self._local.bytes = 0
            self._local.saves = 0
            data_parts = sum(len(s.partitions) for s in request.data)
            start = time.perf_counter()
            write(request)
            elapsed = time.perf_counter() - start
            with self._lock:
                self.writes.append({"time_ms": request.time_ms, "seconds": elapsed,
                                    "bytes": self._local.bytes, "saves": self._local.saves,
                                    "data_partitions": data_parts,
                                    "metadata": request.metadata is not None})

        def timed_save(name: str, data: bytes) -> None:
            save(name, data)
            self._local.bytes = getattr(self._local, "bytes", 0) + len(data)
            self._local.saves = getattr(self._local, "saves", 0) + 1

        manager._write = timed_write
        manager.store.save = timed_save

    def since(self, index: int) -> list[dict[str, Any]]:
        with self._lock:
            return self.writes[index:]


class CaptureTimer:
    """Wraps the batch thread's checkpoint step: capture of due state and the metadata snapshot."""

    def __init__(self, checkpoints: Any) -> None:
        self.last = {"capture": 0.0, "metadata": 0.0}
        capture, metadata = checkpoints.manager.capture, checkpoints.metadata

        def timed_capture(*a: Any, **k: Any) -> Any:
            start = time.perf_counter()
            try:
                return capture(*a, **k)
            finally:
                self.last["capture"] += time.perf_counter() - start

        def timed_metadata(*a: Any, **k: Any) -> Any:
            start = time.perf_counter()
            try:
                return metadata(*a, **k)
            finally:
                self.last["metadata"] += time.perf_counter() - start

        checkpoints.manager.capture = timed_capture
        checkpoints.metadata = timed_metadata

    def take(self) -> dict[str, float]:
        out = dict(self.last)
        self.last.update(capture=0.0, metadata=0.0)
        return out


def batches_of_text(n: int, lines_per_batch: int, seed: int) -> list[list[str]]:
    gen = LineGenerator(seed)
    return [gen.lines(lines_per_batch) for _ in range(n)]


def run_variant(variant: str, batches: list[list[str]], location: str | None,
                args: argparse.Namespace) -> list[dict[str, Any]]:
    conf = Conf().set("dstream.checkpoint.key", "benchmark-secret")
    rows: list[dict[str, Any]] = []
    with Context(args.master, f"checkpoint-{variant}", conf=conf) as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        scratch = tempfile.mkdtemp(prefix="checkpoint-off-") if location is None else None
        ssc.checkpoint(location or scratch)
        lines = ssc.queueStream([ctx.parallelize(b, args.partitions) for b in batches])
        pairs = lines.flatMap(str.split).map(lambda w: (w, 1))
        totals = pairs.updateStateByKey(update_total)
        window = pairs.reduceByKeyAndWindow(operator.add, operator.sub, args.window, 1)
        tops: dict[str, int] = {}
        totals.foreachRDD(lambda rdd: tops.__setitem__("totals", len(rdd.takeOrdered(10, key=by_count))))
        window.foreachRDD(lambda rdd: tops.__setitem__("window", len(rdd.takeOrdered(10, key=by_count))))
        ssc.start()
        try:
            checkpoints = ssc._checkpoints
            assert checkpoints is not None
            writer = WriterTimer(checkpoints.manager)
            capture = CaptureTimer(checkpoints)
            if variant == "off":
                checkpoints.after_batch = lambda *_, **__: checkpoints.due.clear()
            seen = 0
            zero = ssc._zero_time_ms
            interval_ms = max(s.checkpoint_ms or 0 for s in ssc._graph.all_streams())
            for i in range(len(batches)):
                start = time.perf_counter()
                time_ms = advance_batch(ssc, timeout=120)
                batch_s = time.perf_counter() - start
                flushed = 0.0
                if not args.overlap and variant != "off":
                    t = time.perf_counter()
                    checkpoints.manager.flush(120)
                    flushed = time.perf_counter() - t
                writes = writer.since(seen)
                seen += len(writes)
                steps = capture.take()
                rows.append({
                    "batch": i + 1, "time_ms": time_ms, "batch_s": batch_s,
                    "capture_s": steps["capture"], "metadata_s": steps["metadata"],
                    "writer_s": sum(w["seconds"] for w in writes),
                    "bytes": sum(w["bytes"] for w in writes),
                    "saves": sum(w["saves"] for w in writes),
                    # a data checkpoint falls due every checkpoint interval (from the zero time)
                    "data": (time_ms - zero) % interval_ms == 0,
                    "data_written": sum(w["data_partitions"] for w in writes),
                    "wait_s": flushed, "writes": len(writes),
                })
            if variant != "off":
                checkpoints.manager.flush(120)
                late = writer.since(seen)
                if late and rows:
                    rows[-1]["writer_s"] += sum(w["seconds"] for w in late)
                    rows[-1]["bytes"] += sum(w["bytes"] for w in late)
                    rows[-1]["writes"] += len(late)
        finally:
            ssc.stop(stopSparkContext=False)
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
    return rows


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A valkey/redis server on a free loopback port (``tests.servers.start_redis``)."""
    from tests.servers import start_redis
    directory = tempfile.mkdtemp(prefix="checkpoint-redis-")
    server = start_redis(directory)
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.1f}"


def summarize(rows: list[dict[str, Any]], skip: int) -> dict[str, Any]:
    body = rows[skip:]
    meta = [r for r in body if not r["data"]]
    data = [r for r in body if r["data"]]
    return {
        "batch_meta": median([r["batch_s"] for r in meta]),
        "batch_meta_p90": percentile([r["batch_s"] for r in meta], 90),
        "batch_data": median([r["batch_s"] for r in data]),
        "capture": median([r["capture_s"] for r in data]),
        "metadata": median([r["metadata_s"] for r in body]),
        "writer_meta": median([r["writer_s"] for r in meta]),
        "writer_meta_p90": percentile([r["writer_s"] for r in meta], 90),
        "writer_data": median([r["writer_s"] for r in data]),
        "bytes_meta": median([r["bytes"] for r in meta]),
        "bytes_data": median([r["bytes"] for r in data]),
        "n_meta": len(meta), "n_data": len(data),
    }


def _filesystem(path: str) -> str:
    """The file system type holding ``path`` (fsync costs depend on it), from /proc/mounts."""
    best, kind = "", "?"
    with contextlib.suppress(OSError), open("/proc/mounts", encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) > 2 and os.path.abspath(path).startswith(parts[1]) and len(parts[1]) > len(best):
                best, kind = parts[1], parts[2]
    return f"{kind} ({best or '?'})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.checkpoint_overhead",
                                     description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--batches", type=int, default=40, help="batches per variant (default 40)")
    parser.add_argument("--lines-per-batch", type=int, default=20_000)
    parser.add_argument("--partitions", type=int, default=2, help="partitions of each input batch")
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--skip", type=int, default=2, help="first batches left out of the medians")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated, from: off, disk, redis")
    parser.add_argument("--redis-url", help="use this Redis instead of starting a valkey server")
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant, interleaved")
    parser.add_argument("--disk-dir", help="where the disk store's directory goes (default: $TMPDIR)")
    parser.add_argument("--overlap", action="store_true",
                        help="do not wait for the writer between batches")
    parser.add_argument("--all-batches", action="store_true", help="print every batch's row")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    for v in variants:
        if v not in VARIANTS:
            parser.error(f"unknown variant {v!r}")

    batches = batches_of_text(args.batches, args.lines_per_batch, args.seed)
    keys = len({w for b in batches for line in b for w in line.split()})
    runs: dict[str, list[list[dict[str, Any]]]] = {v: [] for v in variants}
    with contextlib.ExitStack() as stack:
        redis_url = None
        if "redis" in variants:
            redis_url = args.redis_url or stack.enter_context(redis_server())
        for repeat in range(args.repeat):          # interleaved, so drift hits every variant
            for variant in variants:
                print(f"run {repeat + 1}/{args.repeat}, {variant}: {args.batches} batches of "
                      f"{args.lines_per_batch:,} lines ...", flush=True)
                if variant == "redis":
                    assert redis_url is not None
                    sep = "&" if "?" in redis_url else "?"
                    location = f"{redis_url}{sep}prefix=bench-{os.getpid()}-{repeat}"
                    runs[variant].append(run_variant(variant, batches, location, args))
                elif variant == "disk":
                    directory = tempfile.mkdtemp(prefix="checkpoint-disk-", dir=args.disk_dir)
                    try:
                        runs[variant].append(run_variant(variant, batches, directory, args))
                    finally:
                        shutil.rmtree(directory, ignore_errors=True)
                else:
                    runs[variant].append(run_variant(variant, batches, None, args))
    # the table shows the last run; the summary pools every run (less each run's first batches)
    results = {v: runs[v][-1] for v in variants}

    print()
    disk_fs = _filesystem(args.disk_dir or tempfile.gettempdir())
    print(f"Checkpoint overhead ({args.master}, manual clock, {args.batches} batches of "
          f"{args.lines_per_batch:,} lines, {keys:,} distinct keys, updateStateByKey + "
          f"reduceByKeyAndWindow({args.window:g} s, 1 s) with inverse; data checkpoint every 10 "
          f"batches; writer {'overlapping' if args.overlap else 'timed alone after each batch'}; "
          f"disk store on {disk_fs}); "
          f"{datetime.date.today()}, {os.cpu_count()} cores")
    print()
    n = args.batches
    rows = []
    for i in range(n):
        flags = [results[v][i]["data"] for v in variants if v != "off"]
        if not args.all_batches and not (i < 3 or any(flags) or i == n - 1 or (i + 1) % 10 == 5):
            continue
        row: list[Any] = [i + 1, "data" if any(flags) else ""]
        for v in variants:
            r = results[v][i]
            row.append(_ms(r["batch_s"]))
            if v != "off":
                row += [_ms(r["writer_s"]), f"{r['bytes'] / 1024:,.0f}"]
        rows.append(row)
    header = ["batch", "ckpt"]
    for v in variants:
        header += [f"{v}: batch ms"] if v == "off" else [f"{v}: batch ms", "writer ms", "KiB"]
    print(table(header, rows))
    print()
    sums = {v: summarize([r for run in runs[v] for r in run[args.skip:]], 0) for v in variants}
    per_run = {v: [summarize(run, args.skip)["batch_meta"] for run in runs[v]] for v in variants}
    base = sums.get("off")
    srow = []

    def with_base(v: str, key: str) -> str:
        x = sums[v][key]
        if x is None:
            return "-"
        text = _ms(x)
        if base is not None and v != "off" and base[key]:
            text += f" ({x / base[key]:.2f}x)"
        return text

    srow.append(["batch, metadata-only batches: median ms", *[with_base(v, "batch_meta") for v in variants]])
    srow.append(["batch, metadata-only batches: p90 ms", *[_ms(sums[v]["batch_meta_p90"]) for v in variants]])
    srow.append(["  median of each run (ms)", *[", ".join(_ms(x) for x in per_run[v]) for v in variants]])
    srow.append(["batch, data-checkpoint batches: median ms", *[with_base(v, "batch_data") for v in variants]])
    srow.append(["  of which capturing state (batch thread) ms", *[_ms(sums[v]["capture"]) for v in variants]])
    srow.append(["  metadata snapshot (batch thread) ms", *[_ms(sums[v]["metadata"]) for v in variants]])
    srow.append(["writer, metadata only: median / p90 ms",
                 *[f"{_ms(sums[v]['writer_meta'])} / {_ms(sums[v]['writer_meta_p90'])}" for v in variants]])
    srow.append(["writer, with data: median ms", *[_ms(sums[v]["writer_data"]) for v in variants]])
    srow.append(["bytes per metadata checkpoint (KiB)",
                 *[f"{(sums[v]['bytes_meta'] or 0) / 1024:,.1f}" for v in variants]])
    srow.append(["bytes per data checkpoint (KiB)",
                 *[f"{(sums[v]['bytes_data'] or 0) / 1024:,.0f}" for v in variants]])
    srow.append(["batches measured (metadata / data)",
                 *[f"{sums[v]['n_meta']} / {sums[v]['n_data']}" for v in variants]])
    title = f"per variant ({args.repeat} runs pooled, first {args.skip} batches of each left out)"
    print(table([title, *variants], srow))


if __name__ == "__main__":
    main()
