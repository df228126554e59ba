"""Soak: the streaming word count at a fixed rate for a long time, with the write-ahead log and
disk checkpoints on; a per-batch series, a chart, and three verdicts.

The job is ``benchmarks/jobs/wordcount_job.py`` (socket -> flatMap -> map ->
reduceByKeyAndWindow(add, sub, 10, 1) + top 10, batch 1 s, ``local[2]``, a checkpoint directory
on disk) with ``dstream.streaming.receiver.writeAheadLog.enable=true``, fed by
``benchmarks.feeder`` at ``--rate`` lines/s for ``--minutes``. Each completed batch becomes a
row of the series: its time, records, scheduling / processing / total delay, and the RSS and
PSS of the job's process tree (driver + workers, summed) and the driver's own RSS, sampled when
the batch was seen, and the machine's speed at the time: ``probe_us``, the CPU time of a fixed
piece of pure-Python work in the harness (best of 3, every 5 s), and ``steal_pct``, the CPU time
the hypervisor gave to others. The machine is shared: a delay that moves with ``probe_us`` moved
with the machine, not with the job.
After the feeder stops, the job runs until every batch with input has completed, and then:

- RSS growth: the median RSS of the last minute against the median of minute 5-6 (< 2 %);
- delay drift: p99 total delay of the last 10 minutes against the first 10 minutes (the first
  window length of batches left out: the window fills) (within 10 %);
- records lost: lines the feeder sent minus records the job's batches counted (must be 0).

The summary gives the probe's drift over the same two 10-minute stretches as the p99's.

    python -m benchmarks.soak --rate 50000 --minutes 60 --out benchmarks/soak   # an hour
    python -m benchmarks.soak --rate 20000 --minutes 2 --out /tmp/soak          # a quick look
    python -m benchmarks.soak --chart-only /tmp/soak --compact benchmarks/soak   # redraw, shrink

The series goes to ``OUT/series.csv`` (one row per batch), the summary to ``OUT/summary.json``
and the chart to ``OUT/chart.png`` (needs matplotlib: ``pip install -e '.[bench]'``).
``--compact DIR`` writes ``DIR/series_10s.csv``: per 10 s of the run, the batches' records,
median and max total delay, max scheduling delay, last RSS / PSS (a small file to keep).

>>> rss_growth([(t, 100) for t in range(400)] + [(400 + t, 101) for t in range(100)], 500)
0.01
>>> drift([100] * 10 + [110] * 10, [1] * 10 + [2] * 10)
(100.0, 110.0, 0.1)
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from .feeder import FeederProcess
from .harness import JobProcess, MemorySampler, median, percentile

TARGETS = {"rss_growth": 0.02, "p99_drift": 0.10, "lost": 0}
COLUMNS = ["t_s", "batch_time_ms", "records", "scheduling_delay_ms", "processing_ms",
           "total_delay_ms", "rss_mib", "pss_mib", "load1", "driver_rss_mib", "probe_us",
           "steal_pct"]
PROBE_EVERY_S = 5.0


def _probe_work() -> int:
    return sum(i * i for i in range(20_000))


def probe_us() -> float:
    """CPU time (microseconds) of a fixed piece of pure-Python work, best of 3: how fast the
    machine runs Python right now. Only this thread's CPU time counts, so waiting for a core
    does not; a slower host CPU, or one shared with a busy neighbour, does.

    >>> 0 < probe_us() < 1e6
    True
    """
    best = float("inf")
    for _ in range(3):
        started = time.thread_time_ns()
        _probe_work()
        best = min(best, (time.thread_time_ns() - started) / 1000)
    return round(best, 1)


class StealMeter:
    """The share of CPU time the hypervisor gave to other guests since the last ``read``
    (``steal`` in ``/proc/stat``; 0 where the kernel does not report it)."""

    def __init__(self) -> None:
        self._last = self._counters()

    @staticmethod
    def _counters() -> tuple[int, int]:
        try:
            with open("/proc/stat", encoding="ascii") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
        except OSError:
            return (0, 0)
        return (fields[7] if len(fields) > 7 else 0, sum(fields[:8]))

    def read(self) -> float:
        (steal, total), (steal0, total0) = self._counters(), self._last
        self._last = (steal, total)
        return round(100.0 * (steal - steal0) / (total - total0), 1) if total > total0 else 0.0


def rss_growth(samples: Sequence[tuple[float, float]], end_s: float) -> float | None:
    """Relative growth of the median RSS of the last minute over the median of minute 5-6
    (``samples``: (seconds since the start, RSS)); None when the run is too short."""
    base = [r for t, r in samples if 300 <= t < 360]
    last = [r for t, r in samples if end_s - 60 <= t <= end_s]
    if not base or not last or end_s < 420:
        return None
    b = median(base)
    return round((median(last) - b) / b, 6)


def drift(values: Sequence[float], minutes: Sequence[float], span: float = 10.0,
          pct: float = 99) -> tuple[float, float, float] | None:
    """The ``pct`` percentile of ``values`` (delays, or the machine's probe) in the first
    ``span`` minutes and in the last ``span`` minutes, and their relative change (last / first
    - 1). Runs shorter than two spans split in halves."""
    if not values:
        return None
    end = max(minutes)
    span = min(span, (end - min(minutes)) / 2) if end - min(minutes) < 2 * span else span
    first = [d for d, m in zip(values, minutes) if m <= min(minutes) + span]
    last = [d for d, m in zip(values, minutes) if m > end - span]
    p_first, p_last = percentile(first, pct), percentile(last, pct)
    if not p_first or p_last is None:
        return None
    return round(p_first, 1), round(p_last, 1), round(p_last / p_first - 1, 4)


def run(args: argparse.Namespace) -> dict[str, Any]:
    os.makedirs(args.out, exist_ok=True)
    seconds = args.minutes * 60
    feeder = FeederProcess(rate=args.rate, seconds=seconds)
    port = feeder.start()
    conf = ["dstream.streaming.receiver.writeAheadLog.enable=true", *args.conf]
    job = JobProcess(port, extra=[f"--conf={c}" for c in conf], sample_memory=False)
    sampler = MemorySampler(job.pid)          # sampled by hand below, once per batch seen
    rows: list[dict[str, Any]] = []
    started = time.time()
    series_path = os.path.join(args.out, "series.csv")
    steal = StealMeter()
    probed, probe, steal_pct = 0.0, probe_us(), 0.0
    with open(series_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        seen = 0
        quiet = 0
        while True:
            if time.monotonic() - probed >= PROBE_EVERY_S:
                probed, probe, steal_pct = time.monotonic(), probe_us(), steal.read()
            batches = job.batches()
            new = batches[seen:]
            seen = len(batches)
            if new:
                sample = sampler.sample()
                pss, rss = (sample[0], sample[1]) if sample else (0, 0)
                for b in new:
                    row = {"t_s": round(b["batch_time_ms"] / 1000 - started, 1),
                           "batch_time_ms": b["batch_time_ms"], "records": b["records"],
                           "scheduling_delay_ms": b["scheduling_delay_ms"],
                           "processing_ms": b["processing_ms"],
                           "total_delay_ms": b["total_delay_ms"],
                           "rss_mib": round(rss / 2**20, 1), "pss_mib": round(pss / 2**20, 1),
                           "load1": round(os.getloadavg()[0], 2),
                           "driver_rss_mib": round(sampler.rss_by_role.get("driver", 0) / 2**20, 1),
                           "probe_us": probe, "steal_pct": steal_pct}
                    rows.append(row)
                    writer.writerow(row)
                f.flush()
            if job.process.poll() is not None:
                raise RuntimeError(f"the job exited early; its log:\n{job.log_tail()}")
            if time.time() - started > seconds + 5:
                # the feeder has stopped: wait until the input has been processed (batches
                # without records, after the last one that had some)
                quiet = quiet + sum(1 for b in new if b["records"] == 0)
                if quiet >= 3:
                    break
                if time.time() - started > seconds + 300:
                    break                    # reported below as records not counted
            time.sleep(0.2)
    feeder_stats = feeder.stop()
    job.stop()
    sent = int(feeder_stats.get("lines_sent", 0))
    counted = sum(r["records"] for r in rows)
    end_s = max((r["t_s"] for r in rows), default=0.0)
    feeding = [r for r in rows if args.window <= r["t_s"] <= seconds]
    growth = rss_growth([(r["t_s"], r["rss_mib"]) for r in rows if r["t_s"] <= seconds], seconds)
    d = drift([r["total_delay_ms"] for r in feeding], [r["t_s"] / 60 for r in feeding])
    speed = drift([r["probe_us"] for r in feeding], [r["t_s"] / 60 for r in feeding], pct=50)
    summary = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "rate": args.rate, "minutes": args.minutes, "batches": len(rows),
        "sent": sent, "counted": counted, "lost": sent - counted,
        "rss_growth": growth,
        "rss_growth_driver": rss_growth([(r["t_s"], r["driver_rss_mib"]) for r in rows
                                         if r["t_s"] <= seconds], seconds),
        "rss_mib_min5": median([r["rss_mib"] for r in rows if 300 <= r["t_s"] < 360]),
        "rss_mib_last_minute": median([r["rss_mib"] for r in rows if seconds - 60 <= r["t_s"] <= seconds]),
        "rss_mib_max_after_5min": max((r["rss_mib"] for r in rows if r["t_s"] >= 300), default=None),
        "pss_mib_max": max((r["pss_mib"] for r in rows), default=None),
        "p99_total_first": d[0] if d else None, "p99_total_last": d[1] if d else None,
        "p99_drift": d[2] if d else None,
        "probe_us_first": speed[0] if speed else None, "probe_us_last": speed[1] if speed else None,
        "probe_drift": speed[2] if speed else None,
        "steal_pct_max": max((r["steal_pct"] for r in rows), default=None),
        "p50_total": median([r["total_delay_ms"] for r in feeding]),
        "max_scheduling_delay_ms": max((r["scheduling_delay_ms"] for r in feeding), default=None),
        "load1_median": median([r["load1"] for r in rows]),
        "load1_max": max((r["load1"] for r in rows), default=None),
        "input_per_batch_median": median([r["records"] for r in feeding]),
        "end_s": end_s,
    }
    summary["verdicts"] = verdicts(summary)
    with open(os.path.join(args.out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    job.cleanup()
    return summary


def verdicts(s: dict[str, Any]) -> dict[str, str]:
    def held(ok: bool | None) -> str:
        return "n/a" if ok is None else ("holds" if ok else "fails")
    return {
        "rss_growth < 2 %": held(None if s["rss_growth"] is None else s["rss_growth"] < TARGETS["rss_growth"]),
        "p99 drift within 10 %": held(None if s["p99_drift"] is None else abs(s["p99_drift"]) <= TARGETS["p99_drift"]),
        "zero records lost": held(s["lost"] == 0),
    }


def read_series(path: str) -> list[dict[str, float]]:
    with open(path, encoding="utf-8") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def chart(out: str, title: str = "") -> str:
    """Draw ``out/chart.png`` from ``out/series.csv``: input rate (and the machine's load
    average), delays, memory over time."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_series(os.path.join(out, "series.csv"))
    minutes = [r["t_s"] / 60 for r in rows]
    fig, axes = plt.subplots(3, 1, figsize=(10, 8), sharex=True)
    axes[0].plot(minutes, [r["records"] for r in rows], lw=0.5)
    axes[0].set_ylabel("input (lines/batch)")
    load = axes[0].twinx()          # the machine is shared: its load average, for reading the rest
    load.plot(minutes, [r["load1"] for r in rows], lw=0.8, color="grey", ls="--")
    load.set_ylabel("load average (1 min), dashed")
    axes[1].plot(minutes, [r["total_delay_ms"] for r in rows], lw=0.5, label="total delay")
    axes[1].plot(minutes, [r["processing_ms"] for r in rows], lw=0.5, label="processing")
    axes[1].plot(minutes, [r["scheduling_delay_ms"] for r in rows], lw=0.5, label="scheduling delay")
    axes[1].set_ylabel("ms")
    axes[1].legend(loc="upper right")
    if rows and "probe_us" in rows[0]:              # series from before the column have none
        speed = axes[1].twinx()     # the machine's speed: CPU time of the harness's fixed work
        speed.plot(minutes, [r["probe_us"] for r in rows], lw=0.8, color="grey", ls=":")
        speed.set_ylabel("probe (us CPU), dotted")
    axes[2].plot(minutes, [r["rss_mib"] for r in rows], lw=0.8, label="RSS (tree)")
    axes[2].plot(minutes, [r["pss_mib"] for r in rows], lw=0.8, label="PSS (tree)")
    if rows and "driver_rss_mib" in rows[0]:        # series from before the column have none
        axes[2].plot(minutes, [r["driver_rss_mib"] for r in rows], lw=0.8, label="RSS (driver)")
    axes[2].set_ylabel("MiB")
    axes[2].set_xlabel("minutes")
    axes[2].legend(loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = os.path.join(out, "chart.png")
    fig.savefig(path, dpi=80)
    return path


def compact(out: str, into: str, seconds: int = 10) -> str:
    """``into/series_10s.csv``: the per-batch series of ``out`` in bins of ``seconds``."""
    rows = read_series(os.path.join(out, "series.csv"))
    bins: dict[int, list[dict[str, float]]] = {}
    for r in rows:
        bins.setdefault(int(r["t_s"] // seconds) * seconds, []).append(r)
    os.makedirs(into, exist_ok=True)
    path = os.path.join(into, f"series_{seconds}s.csv")
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["t_s", "batches", "records", "total_delay_p50_ms", "total_delay_max_ms",
                         "scheduling_delay_max_ms", "processing_p50_ms", "rss_mib", "pss_mib", "load1",
                         "driver_rss_mib", "probe_us"])
        for t, rs in sorted(bins.items()):
            writer.writerow([t, len(rs), int(sum(r["records"] for r in rs)),
                             int(median([r["total_delay_ms"] for r in rs])),
                             int(max(r["total_delay_ms"] for r in rs)),
                             int(max(r["scheduling_delay_ms"] for r in rs)),
                             int(median([r["processing_ms"] for r in rs])),
                             rs[-1]["rss_mib"], rs[-1]["pss_mib"], rs[-1]["load1"],
                             rs[-1].get("driver_rss_mib", ""), rs[-1].get("probe_us", "")])
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--rate", type=float, default=50_000, help="lines/s")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--window", type=float, default=10.0, help="the job's window (s)")
    parser.add_argument("--out", default="soak-out", help="directory for series.csv, summary.json, chart.png")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--chart-only", metavar="DIR", help="only redraw DIR/chart.png")
    parser.add_argument("--compact", metavar="DIR", help="also write DIR/series_10s.csv")
    args = parser.parse_args(argv)
    if args.chart_only:
        print(chart(args.chart_only))
        if args.compact:
            print(compact(args.chart_only, args.compact))
        return
    summary = run(args)
    print(json.dumps(summary, indent=1))
    try:
        print(chart(args.out, f"soak: {args.rate:,.0f} lines/s, {args.minutes:g} min, WAL + disk checkpoints"))
    except ImportError:
        print("matplotlib is missing (pip install -e '.[bench]'): no chart", file=sys.stderr)
    if args.compact:
        print(compact(args.out, args.compact))


if __name__ == "__main__":
    main()
