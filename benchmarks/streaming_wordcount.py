"""Streaming word count: sustainable rate, latency, start-up time and memory, vs PySpark.

The job (``benchmarks/jobs/wordcount_job.py``, PySpark's API) is

    socketTextStream -> flatMap(split) -> map((w, 1)) -> reduceByKeyAndWindow(add, sub, 10, 1)
    + the window's top 10 per batch (foreachRDD), checkpointing, batch 1 s, master local[2]

run as a subprocess fed by ``benchmarks.feeder`` (another subprocess). Measured in one run:

- the raw-Python floor: ``Counter(chain.from_iterable(map(str.split, lines)))`` on one core;
- at a fixed 24,700 lines/s: p50/p99 of processing time and total delay (after a warm-up),
  the time from launching the job to its first completed batch, and peak memory (PSS of the
  job process and all its children, summed, sampled every 0.5 s);
- the maximum sustainable input rate: a staircase of rates (each step a fresh 10 s window of
  warm-up, then measured batches), then a finer staircase between the last rate that held and
  the first that did not. A rate holds when the job ingests it (>= 95 % of the lines arrive in
  batches), the median processing time is under the batch interval and the scheduling delay
  does not grow (least-squares slope < 50 ms per batch, last < half a batch interval).

    python -m benchmarks.streaming_wordcount                     # dstream, ~4 minutes
    python -m benchmarks.streaming_wordcount --engine both       # and PySpark (pip install pyspark)
    python -m benchmarks.streaming_wordcount --fixed-seconds 300 --step-seconds 30   # longer
"""

from __future__ import annotations

import argparse
import collections
import datetime
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from .feeder import FeederProcess, Step, line_pool
from .harness import (
    JobProcess,
    cpu_shares,
    median,
    mib,
    percentile,
    table,
    tree_cpu_seconds,
)

FIXED_RATE = 24_700
PYSPARK_ISSUE = {"max_rate": 49_400, "p50_total": 821, "p99_total": 963, "first_batch_s": 5.7,
                 "memory_mib": 1040}
TARGETS = {"max_rate": 250_000, "p99_total": 120, "first_batch_s": 1.5, "memory_mib": 150}
SEARCH_START = {"dstream": 60_000, "pyspark": 4_000}


# ---------------------------------------------------------------------- the raw-Python floor
def words_per_line(lines: list[str]) -> float:
    """The mean words per line of the feeder's pool (10.0 for the default pool): the factor
    between the job's input rate (lines/s) and the raw floor (words/s).

    >>> words_per_line(["a b", "c d e f"])
    3.0
    """
    return sum(len(line.split()) for line in lines) / max(1, len(lines))


def floor_words_per_s(lines: list[str], repeat: int = 5) -> float:
    """Median words/s of Counter over str.split of ``lines`` (one core, this process)."""
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        counts = collections.Counter(itertools.chain.from_iterable(map(str.split, lines)))
        elapsed = time.perf_counter() - start
        rates.append(sum(counts.values()) / elapsed)
    return median(rates)


# ---------------------------------------------------------------------- a step's verdict
@dataclass
class StepResult:
    rate: float
    batches: list[dict[str, Any]]
    batch_ms: int
    seconds: float
    incomplete: int = 0                  # measured batches that had not completed in time
    feeder_cpu: float | None = None      # cores the feeder used over the measured part
    job_cpu: float | None = None         # cores the job (driver + workers) used over it
    verdict: str = ""
    reasons: list[str] = field(default_factory=list)

    @property
    def ingested_per_s(self) -> float:
        return sum(b["records"] for b in self.batches) / max(1, len(self.batches)) * 1000 / self.batch_ms

    @property
    def processing(self) -> list[int]:
        return [b["processing_ms"] for b in self.batches]

    @property
    def sched_slope(self) -> float:
        ys = [b["scheduling_delay_ms"] for b in self.batches]
        if len(ys) < 2:
            return 0.0
        xs = range(len(ys))
        mx, my = sum(xs) / len(ys), sum(ys) / len(ys)
        den = sum((x - mx) ** 2 for x in xs)
        return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den

    def judge(self) -> bool:
        self.reasons = []
        if self.incomplete or not self.batches:
            self.reasons.append(f"{self.incomplete} batch(es) not done in time")
        else:
            if self.ingested_per_s < 0.95 * self.rate:
                self.reasons.append(f"ingested {self.ingested_per_s:,.0f}/s")
            if median(self.processing) >= self.batch_ms:
                self.reasons.append("median processing >= batch")
            last = self.batches[-1]["scheduling_delay_ms"]
            if self.sched_slope >= 50 or last >= self.batch_ms / 2:
                self.reasons.append(f"scheduling delay grows ({self.sched_slope:+.0f} ms/batch, "
                                    f"last {last} ms)")
        self.verdict = "holds" if not self.reasons else "fails: " + "; ".join(self.reasons)
        return not self.reasons

    def row(self) -> list[Any]:
        proc = self.processing
        return [f"{self.rate:,.0f}", len(self.batches), f"{self.ingested_per_s:,.0f}",
                _ms(median(proc)), _ms(percentile(proc, 100)),
                self.batches[-1]["scheduling_delay_ms"] if self.batches else None,
                f"{self.sched_slope:+.0f}", _cores(self.job_cpu), _cores(self.feeder_cpu),
                self.verdict]


STEP_HEADER = ["rate (lines/s)", "batches", "ingested/s", "p50 proc ms", "max proc ms",
               "last sched ms", "sched slope ms/batch", "job CPU", "feeder CPU", "verdict"]


def _cores(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _cpu_snapshot(feeder: FeederProcess, job: JobProcess) -> tuple[float, float | None, float]:
    """(wall time, the feeder's CPU seconds, the job tree's CPU seconds) now."""
    tree = tree_cpu_seconds(job.pid)
    return time.time(), feeder.cpu_seconds(), sum(cpu for _, cpu in tree.values())


def _ms(x: float | None) -> str | None:
    return None if x is None else f"{x:.0f}"


def measured_batches(job: JobProcess, start_wall: float, warmup: float, seconds: float,
                     batch_ms: int) -> tuple[list[dict[str, Any]], list[int]]:
    """Completed batches whose input arrived within [start + warmup, start + seconds], and
    the batch times in that range that have not completed."""
    lo = (start_wall + warmup) * 1000 + batch_ms
    hi = (start_wall + seconds) * 1000
    done = {b["batch_time_ms"]: b for b in job.batches() if lo <= b["batch_time_ms"] <= hi}
    first = int(-(-lo // batch_ms) * batch_ms)
    expected = list(range(first, int(hi) + 1, batch_ms))
    return [done[t] for t in expected if t in done], [t for t in expected if t not in done]


# ---------------------------------------------------------------------- runs
def start_job(engine: str, steps: list[Step], job_args: list[str], *,
              sample_memory: bool = True) -> tuple[FeederProcess, JobProcess]:
    feeder = FeederProcess(steps=steps, accept_timeout=180)
    port = feeder.start()
    job = JobProcess(port, engine=engine, extra=job_args, sample_memory=sample_memory)
    return feeder, job


def staircase(engine: str, rates: list[float], args: argparse.Namespace,
              stop_at_failure: bool = True) -> list[StepResult]:
    """One job fed ``rates`` in turn (``args.step_seconds`` each); a verdict per step."""
    batch_ms = int(args.batch * 1000)
    steps = [Step(r, args.step_seconds) for r in rates]
    feeder, job = start_job(engine, steps, job_args(args), sample_memory=False)
    results: list[StepResult] = []
    try:
        job.wait_for(lambda j: j.event("started"), 180, "the job's start")
        for index, rate in enumerate(rates):
            deadline = time.monotonic() + args.step_seconds * 3 + 120
            while not any(s["step"] == index for s in feeder.steps_started()):
                if time.monotonic() > deadline or job.process.poll() is not None:
                    raise RuntimeError(f"step {index} never started; job log:\n{job.log_tail()}")
                time.sleep(0.1)
            started = next(s for s in feeder.steps_started() if s["step"] == index)["started_at"]
            end = started + args.step_seconds
            # wait for the step's batches: until the last one completed, or 2 s past its time;
            # CPU is sampled from the end of the warm-up to then
            cpu_start = None
            while True:
                if cpu_start is None and time.time() >= started + args.warmup:
                    cpu_start = _cpu_snapshot(feeder, job)
                batches, missing = measured_batches(job, started, args.warmup, args.step_seconds, batch_ms)
                if (not missing and time.time() >= end) or time.time() > end + 2 + args.batch:
                    break
                time.sleep(0.2)
            result = StepResult(rate, batches, batch_ms, args.step_seconds, len(missing))
            if cpu_start is not None:
                cpu_end = _cpu_snapshot(feeder, job)
                seconds = max(1e-9, cpu_end[0] - cpu_start[0])
                result.job_cpu = (cpu_end[2] - cpu_start[2]) / seconds
                if cpu_start[1] is not None and cpu_end[1] is not None:
                    result.feeder_cpu = (cpu_end[1] - cpu_start[1]) / seconds
            ok = result.judge()
            results.append(result)
            if args.verbose:
                print("   ", "  ".join(str(c) for c in result.row()), flush=True)
            if not ok and stop_at_failure:
                break
    finally:
        job.stop()
        feeder.stop()
        job.cleanup()
    return results


def search_max_rate(engine: str, args: argparse.Namespace) -> tuple[float | None, list[StepResult]]:
    """Coarse staircase (x factor) up to the first failure, then a finer one in between."""
    start = args.search_start or SEARCH_START[engine]
    all_steps: list[StepResult] = []
    coarse: list[StepResult] = []
    for _ in range(4):
        rates = [start * args.factor ** i for i in range(args.coarse_steps)]
        rates = [round(r, -2) for r in rates if r <= args.max_search_rate]
        coarse = staircase(engine, rates, args)
        all_steps += coarse
        if coarse and coarse[0].verdict == "holds":
            break
        start /= 2                      # even the first rate failed: start lower
    good = [s.rate for s in coarse if s.verdict == "holds"]
    if not good:
        return None, all_steps
    best = max(good)
    failed = [s.rate for s in coarse if s.verdict != "holds"]
    if not failed:
        return best, all_steps          # held up to the top of the ladder
    bad = min(failed)
    below = [r for r in good if r < best]
    fine_rates = [round(best + (bad - best) * k / (args.fine_steps + 1), -2)
                  for k in range(1, args.fine_steps + 1)]
    # a fresh job climbs again (from the rate below the best, so that start-up transients do not
    # land on a rate with no spare capacity), confirms the best and tries rates up to the failure
    confirm = staircase(engine, [*below[-1:], best, *fine_rates], args)
    all_steps += confirm
    held = [s.rate for s in itertools.takewhile(lambda s: s.verdict == "holds", confirm)]
    return (max(held) if held else None), all_steps


def fixed_rate(engine: str, args: argparse.Namespace) -> dict[str, Any]:
    """The job at ``args.rate`` lines/s: latency after the warm-up, start-up, memory."""
    batch_ms = int(args.batch * 1000)
    total = args.fixed_warmup + args.fixed_seconds
    trace = None
    extra = job_args(args)
    if args.trace and engine == "dstream":
        trace = os.path.join(tempfile.mkdtemp(prefix="wordcount-trace-"), "trace.jsonl")
        extra += ["--trace", trace]
    feeder, job = start_job(engine, [Step(args.rate, total + 30)], extra)
    profiler = None
    try:
        job.wait_for(lambda j: j.batches(), 180, "the first batch")
        while not feeder.steps_started():
            time.sleep(0.05)
        started = feeder.steps_started()[0]["started_at"]
        time.sleep(max(0.0, started + args.fixed_warmup - time.time()))
        feeder_cpu = (time.time(), feeder.cpu_seconds())
        job_cpu = tree_cpu_seconds(job.pid)
        if args.py_spy:
            profiler = subprocess.Popen(
                ["py-spy", "record", "--pid", str(job.pid), "--subprocesses", "--threads",
                 "--rate", "250", "--idle", "--format", "raw", "--duration", str(int(args.fixed_seconds)),
                 "--output", args.py_spy, "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while time.time() < started + total + args.batch + 1:
            time.sleep(0.2)
        feeder_cpu_end = (time.time(), feeder.cpu_seconds())
        job_cpu_end = tree_cpu_seconds(job.pid)
        batches, missing = measured_batches(job, started, args.fixed_warmup, total, batch_ms)
        deadline = time.time() + 30
        while missing and time.time() < deadline:
            time.sleep(0.2)
            batches, missing = measured_batches(job, started, args.fixed_warmup, total, batch_ms)
        if profiler is not None:
            profiler.wait(60)
    finally:
        job.stop()
        feeder_stats = feeder.stop()
    events = {e["event"]: e for e in reversed(job.events)}
    all_batches = job.batches()
    first = all_batches[0] if all_batches else None
    first_data = next((b for b in all_batches if b["records"] > 0), None)
    launched = events["launched"]
    proc = [b["processing_ms"] for b in batches]
    total_delay = [b["total_delay_ms"] for b in batches]
    sched = [b["scheduling_delay_ms"] for b in batches]
    assert job.memory is not None
    steady = [p for t, p in job.memory.series if t >= started + args.fixed_warmup]
    result = {
        "engine": engine, "rate": args.rate, "batches": len(batches), "missing": len(missing),
        "records_per_batch": sum(b["records"] for b in batches) / max(1, len(batches)),
        "proc_p50": percentile(proc, 50), "proc_p99": percentile(proc, 99), "proc_max": max(proc, default=None),
        "total_p50": percentile(total_delay, 50), "total_p99": percentile(total_delay, 99),
        "total_max": max(total_delay, default=None), "sched_max": max(sched, default=None),
        "first_batch_s": None if first is None else first["end_ms"] / 1000 - job.launched_at,
        "first_data_batch_s": None if first_data is None else first_data["end_ms"] / 1000 - job.launched_at,
        "startup": {
            "interpreter": launched["at_ms"] / 1000 - job.launched_at,
            "imports": (launched["imported_ms"] - launched["at_ms"]) / 1000,
            "context": (events["context_ready"]["wall_ms"] - launched["imported_ms"]) / 1000,
            "start": (events["started"]["wall_ms"] - events["context_ready"]["wall_ms"]) / 1000,
            "first_batch_time": None if first is None else first["batch_time_ms"] / 1000 - events["started"]["wall_ms"] / 1000,
            "first_batch_processing": None if first is None else (first["end_ms"] - first["batch_time_ms"]) / 1000,
        },
        "peak_pss": job.memory.peak_pss, "peak_rss": job.memory.peak_rss,
        "peak_by_role": dict(job.memory.peak_by_role),
        "steady_pss": median(steady) if steady else None, "processes": job.memory.peak_processes,
        "feeder_sent": feeder_stats.get("lines_sent"),
        "job_cpu": cpu_shares(job_cpu, job_cpu_end, feeder_cpu_end[0] - feeder_cpu[0]),
        "account": None if trace is None else account(trace, batches, started + args.fixed_warmup,
                                                        started + total),
        "feeder_cpu_share": (None if None in (feeder_cpu[1], feeder_cpu_end[1]) else
                             (feeder_cpu_end[1] - feeder_cpu[1]) / (feeder_cpu_end[0] - feeder_cpu[0])),
    }
    job.cleanup()
    return result


def launch_to_first_batch(engine: str, args: argparse.Namespace) -> list[dict[str, float]]:
    """Launch the job ``args.launches`` times (fed at the fixed rate); per launch, seconds from
    creating the subprocess to the end of its first completed batch, and the part of that spent
    waiting for the first batch time (batches are on a whole-interval grid)."""
    out = []
    for _ in range(args.launches):
        feeder, job = start_job(engine, [Step(args.rate, 120)], job_args(args), sample_memory=False)
        try:
            job.wait_for(lambda j: j.batches(), 180, "the first batch")
        finally:
            job.stop()
            feeder.stop()
        first = job.batches()[0]
        started = job.event("started")
        assert started is not None
        out.append({"first_batch_s": first["end_ms"] / 1000 - job.launched_at,
                     "grid_wait_s": max(0.0, (first["batch_time_ms"] - started["wall_ms"]) / 1000),
                     "records": first["records"]})
        job.cleanup()
    return out


def account(trace_path: str, batches: list[dict[str, Any]], t0: float, t1: float) -> dict[str, Any]:
    """Per batch over the measured window: stage wall times, and the driver-side probes of
    ``benchmarks/jobs/trace.py`` (counter differences divided by the number of batches)."""
    stages: list[dict[str, Any]] = []
    snapshots: list[dict[str, Any]] = []
    with open(trace_path, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if "stage" in record:
                stages.append(record)
            else:
                snapshots.append(record)
    n = max(1, len(batches))
    windows = [(b["start_ms"] / 1000, b["end_ms"] / 1000) for b in batches]

    def in_batches(stage: dict[str, Any]) -> bool:
        return any(a - 0.001 <= stage["start"] <= b for a, b in windows)

    per_stage: dict[str, list[float]] = {}
    for stage in stages:
        if not in_batches(stage):
            continue
        desc = stage["description"]
        kind = ("map stage: the new batch's blocks -> flatMap/map/combine -> shuffle write"
                if stage["stage"] == "shuffle" else
                "result stage: shuffle read -> window update -> top 10"
                if desc.startswith("reduce_partition on ") else
                f"{stage['stage']} stage: {re.sub(r'[[][0-9]+[]]', '', desc)[:60]}")
        per_stage.setdefault(kind, []).append(stage["end"] - stage["start"])
    before = min(snapshots, key=lambda r: abs(r["wall"] - t0))["counters"]
    after = min(snapshots, key=lambda r: abs(r["wall"] - t1))["counters"]
    seconds = max(1e-9, min(snapshots, key=lambda r: abs(r["wall"] - t1))["wall"]
                  - min(snapshots, key=lambda r: abs(r["wall"] - t0))["wall"])
    probes = {}
    for name, (count, total, amount) in after.items():
        c0, s0, a0 = before.get(name, (0, 0.0, 0.0))
        probes[name] = {"calls_per_s": (count - c0) / seconds, "ms_per_s": (total - s0) * 1000 / seconds,
                        "amount_per_s": (amount - a0) / seconds}
    return {"stages": {k: {"count_per_batch": len(v) / n, "median_ms": median(v) * 1000,
                           "total_ms_per_batch": sum(v) * 1000 / n} for k, v in per_stage.items()},
            "probes": probes, "batches": n}


def print_account(acc: dict[str, Any], batch_s: float) -> None:
    print(f"  where the time goes, per batch ({acc['batches']} batches):")
    rows = [[k, f"{v['count_per_batch']:.1f}", f"{v['median_ms']:.0f}", f"{v['total_ms_per_batch']:.0f}"]
            for k, v in acc["stages"].items()]
    print("    " + table(["stage", "per batch", "median ms", "ms per batch"], rows).replace("\n", "\n    "))
    labels = {
        "receiver.split": "receiver thread: decode + split lines (MB/s = bytes)",
        "receiver.store_all": "receiver thread: hand lines to the block generator",
        "block.store": "block generator: store a block (records/s)",
        "block.put": "  of which BlockManager.put (pickle + file: 2nd copy)",
        "batch.generate": "batch clock: allocate blocks, generate jobs",
        "task.submit": "batch thread: gather task inputs",
        "task.pickle": "backend threads: pickle task inputs (MB/s)",
        "task.roundtrip": "backend threads: send task, wait for worker reply",
        "stage.pickle": "backend threads: pickle stage code + lineage (cloudpickle)",
        "task.accept": "batch thread: store cached result blocks",
        "batch.after": "batch thread: after batch (checkpoint snapshot, cleanup)",
        "checkpoint.write": "checkpoint writer thread",
    }
    rows = []
    for name, label in labels.items():
        p = acc["probes"].get(name)
        if p is None:
            continue
        amount = ""
        if name in ("receiver.split", "task.pickle"):
            amount = f"{p['amount_per_s'] / 1e6:.1f} MB/s"
        elif name == "block.store":
            amount = f"{p['amount_per_s']:,.0f} rec/s"
        rows.append([label, f"{p['calls_per_s'] * batch_s:,.1f}", f"{p['ms_per_s'] * batch_s:.1f}", amount])
    print("    " + table(["driver-side probe", "calls/batch", "ms/batch", ""], rows).replace("\n", "\n    "))


def job_args(args: argparse.Namespace) -> list[str]:
    extra = [f"--conf={c}" for c in args.conf]
    return ["--master", args.master, "--batch", str(args.batch), "--window", str(args.window),
            "--slide", str(args.slide), *extra]


# ---------------------------------------------------------------------- report
def print_report(floor: float, per_line: float, fixed: dict[str, dict[str, Any]], maxima: dict[str, float | None],
                 launches: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    engines = list(fixed)
    print()
    print(f"Streaming word count, master {args.master}, batch {args.batch:g} s, window "
          f"{args.window:g} s / slide {args.slide:g} s; {datetime.date.today()}, "
          f"{os.cpu_count()} cores")
    print(f"raw-Python floor (Counter over str.split, 1 core): {floor / 1e6:.2f} M words/s "
          f"= {floor / per_line:,.0f} lines/s at {per_line:g} words a line")
    print()
    header = ["metric", *engines, "PySpark (issue)", "target"]
    rows = []

    def fmt_pair(a: float | None, b: float | None) -> str:
        return f"{_ms(a) or '-'} / {_ms(b) or '-'}"

    rows.append(["max sustainable input (lines/s)",
                 *[f"{maxima[e]:,.0f}" if maxima.get(e) else "-" for e in engines],
                 f"{PYSPARK_ISSUE['max_rate']:,}", f">= {TARGETS['max_rate']:,}"])
    rows.append(["  x words a line, as % of the raw floor",
                 *[f"{maxima[e] * per_line / floor:.0%}" if maxima.get(e) else "-" for e in engines], "", ""])
    rows.append([f"p50 / p99 processing (ms) @ {args.rate:,.0f}/s",
                 *[fmt_pair(fixed[e]["proc_p50"], fixed[e]["proc_p99"]) for e in engines], "", ""])
    rows.append([f"p50 / p99 total delay (ms) @ {args.rate:,.0f}/s",
                 *[fmt_pair(fixed[e]["total_p50"], fixed[e]["total_p99"]) for e in engines],
                 f"{PYSPARK_ISSUE['p50_total']} / {PYSPARK_ISSUE['p99_total']}",
                 f"p99 <= {TARGETS['p99_total']}"])
    rows.append(["max scheduling delay (ms)", *[_ms(fixed[e]["sched_max"]) for e in engines], "", ""])
    def launch_cell(e: str, less_grid: bool = False) -> str:
        runs = launches.get(e) or []
        if not runs:
            value = fixed[e]["first_batch_s"]
            return "-" if value is None or less_grid else f"{value:.2f} (1 run)"
        xs = [r["first_batch_s"] - (r["grid_wait_s"] if less_grid else 0) for r in runs]
        return f"{median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f}, n={len(xs)})"

    rows.append(["launch to first completed batch (s), median",
                 *[launch_cell(e) for e in engines],
                 f"{PYSPARK_ISSUE['first_batch_s']}", f"<= {TARGETS['first_batch_s']}"])
    rows.append(["  less the wait for the batch grid (s)", *[launch_cell(e, True) for e in engines], "", ""])
    rows.append(["peak memory, PSS of process tree (MiB)", *[mib(fixed[e]["peak_pss"]) for e in engines],
                 f"~{PYSPARK_ISSUE['memory_mib']:,}", f"<= {TARGETS['memory_mib']}"])
    roles = sorted({r for e in engines for r in fixed[e]["peak_by_role"]})
    for role in roles:
        rows.append([f"  peak PSS of the {role} process(es) (MiB)",
                     *[mib(fixed[e]["peak_by_role"].get(role)) for e in engines], "", ""])
    rows.append(["  steady PSS, median after warm-up (MiB)", *[mib(fixed[e]["steady_pss"]) for e in engines], "", ""])
    rows.append(["  peak RSS, summed (MiB)", *[mib(fixed[e]["peak_rss"]) for e in engines], "", ""])
    rows.append(["  processes in the tree", *[fixed[e]["processes"] for e in engines], "", ""])
    rows.append(["feeder CPU (% of one core) @ fixed rate",
                 *[f"{fixed[e]['feeder_cpu_share']:.0%}" if fixed[e].get("feeder_cpu_share") is not None
                   else "-" for e in engines], "", ""])
    print(table(header, rows))
    for e in engines:
        f = fixed[e]
        s = f["startup"]
        print(f"\n{e} @ {f['rate']:,.0f} lines/s: {f['batches']} batches measured "
              f"(+{f['missing']} not completed), {f['records_per_batch']:,.0f} records/batch; "
              f"processing max {_ms(f['proc_max'])} ms, total delay max {_ms(f['total_max'])} ms")
        if f.get("account"):
            print_account(f["account"], args.batch)
        print("  CPU over the measured window (cores): " + ", ".join(
            f"{role} {share:.2f}" for role, share in sorted(f["job_cpu"].items())))
        print(f"  start-up: interpreter {s['interpreter']:.2f} s, imports {s['imports']:.2f} s, "
              f"context {s['context']:.2f} s, ssc.start {s['start']:.2f} s, wait for the first "
              f"batch time {s['first_batch_time'] or 0:.2f} s (batches are on a whole-second grid), "
              f"first batch {s['first_batch_processing'] or 0:.2f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.streaming_wordcount",
                                     description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--engine", choices=("dstream", "pyspark", "both"), default="dstream")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--batch", type=float, default=1.0)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--slide", type=float, default=1.0)
    parser.add_argument("--rate", type=float, default=FIXED_RATE, help="fixed rate, lines/s")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                        help="configuration for the job (full key, e.g. "
                             "dstream.streaming.blockInterval=500ms), repeatable")
    parser.add_argument("--fixed-warmup", type=float, default=12.0, help="seconds before measuring")
    parser.add_argument("--fixed-seconds", type=float, default=40.0, help="measured seconds")
    parser.add_argument("--step-seconds", type=float, default=16.0, help="seconds per search step")
    parser.add_argument("--warmup", type=float, default=10.0,
                        help="unmeasured seconds at the start of each step (fills the window)")
    parser.add_argument("--search-start", type=float, default=0.0,
                        help="first rate of the search (default: 60000 dstream, 4000 PySpark)")
    parser.add_argument("--factor", type=float, default=1.5, help="coarse search ratio")
    parser.add_argument("--coarse-steps", type=int, default=7)
    parser.add_argument("--fine-steps", type=int, default=3)
    parser.add_argument("--max-search-rate", type=float, default=2_000_000)
    parser.add_argument("--launches", type=int, default=5,
                        help="launches timed to the first completed batch (median reported)")
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--skip-fixed", action="store_true")
    parser.add_argument("--py-spy", metavar="FILE",
                        help="profile the job (and its workers) during the fixed-rate window "
                             "with py-spy (collapsed stacks, per thread) into FILE")
    parser.add_argument("--trace", action="store_true",
                        help="dstream: time the driver's steps and stages during the fixed-rate run "
                             "(benchmarks/jobs/trace.py) and print where the time goes per batch")
    parser.add_argument("--verbose", action="store_true", help="print each search step as it ends")
    args = parser.parse_args(argv)
    if args.py_spy and shutil.which("py-spy") is None:
        parser.error("--py-spy needs py-spy on PATH (pip install py-spy)")
    engines = ["dstream", "pyspark"] if args.engine == "both" else [args.engine]
    pool = line_pool(200_000)
    floor = floor_words_per_s(pool)
    per_line = words_per_line(pool)
    print(f"raw-Python floor: {floor / 1e6:.2f} M words/s", flush=True)
    fixed: dict[str, dict[str, Any]] = {}
    maxima: dict[str, float | None] = {}
    launches: dict[str, list[dict[str, float]]] = {}
    for engine in engines:
        if not args.skip_fixed:
            print(f"{engine}: {args.rate:,.0f} lines/s for {args.fixed_warmup + args.fixed_seconds:g} s ...",
                  flush=True)
            fixed[engine] = fixed_rate(engine, args)
            if args.launches:
                print(f"{engine}: {args.launches} launches to the first batch ...", flush=True)
                launches[engine] = launch_to_first_batch(engine, args)
        if not args.skip_search:
            print(f"{engine}: searching the maximum sustainable rate ...", flush=True)
            maxima[engine], steps = search_max_rate(engine, args)
            print(table(STEP_HEADER, [s.row() for s in steps]), flush=True)
    if fixed:
        print_report(floor, per_line, fixed, maxima, launches, args)
    elif maxima:
        for e, m in maxima.items():
            print(f"{e}: max sustainable {m or 0:,.0f} lines/s = {(m or 0) * per_line / floor:.0%} "
                  f"of the raw floor ({floor / 1e6:.2f} M words/s, {per_line:g} words a line)")


if __name__ == "__main__":
    main()
