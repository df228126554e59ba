"""Backpressure: the word count fed twice as fast as it can process, with and without
``dstream.streaming.backpressure.enabled``.

The job (``benchmarks/jobs/wordcount_job.py``) is made heavier with a busy per-line cost
(``--cost-us``, in the worker processes) so that its capacity is small and the feeder stays
cheap. The runner first measures the capacity (lines per second of processing time, at a
rate the job keeps up with), then feeds ``--overload`` (2) times that for ``--seconds``, once
with backpressure off and once on, and reports per batch: input rate, the receiver's rate
limit (dstream), processing time, scheduling delay and the memory (PSS) of the job's process
tree; and per run: where processing time and scheduling delay settle, and peak memory.

    python -m benchmarks.backpressure                   # ~2.5 minutes
    python -m benchmarks.backpressure --seconds 120     # longer runs
"""

from __future__ import annotations

import argparse
import datetime
import os
import time
from typing import Any

from .feeder import FeederProcess, Step
from .harness import JobProcess, median, mib, percentile, table


def run(engine: str, rate: float, seconds: float, cost_us: float, backpressure: bool,
        args: argparse.Namespace) -> dict[str, Any]:
    """The heavy job fed ``rate`` lines/s for ``seconds``; its batches and memory series."""
    feeder = FeederProcess(steps=[Step(rate, seconds + 30)], accept_timeout=180)
    port = feeder.start()
    extra = ["--cost-us", str(cost_us), "--master", args.master, "--window", str(args.window)]
    if backpressure:
        extra.append("--backpressure")
    job = JobProcess(port, engine=engine, extra=extra)
    try:
        job.wait_for(lambda j: j.event("started"), 180, "the job's start")
        while not feeder.steps_started():
            time.sleep(0.05)
        started = feeder.steps_started()[0]["started_at"]
        while time.time() < started + seconds:
            time.sleep(0.2)
    finally:
        job.stop()
        stats = feeder.stop()
    assert job.memory is not None
    ended = started + seconds
    batches = [b for b in job.batches() if b["batch_time_ms"] <= ended * 1000]
    series = job.memory.series
    for b in batches:
        at = b["end_ms"] / 1000
        near = min(series, key=lambda s: abs(s[0] - at)) if series else None
        b["pss"] = near[1] if near else None
    generated = max(0, int(min(seconds, time.time() - started) * rate))
    out = {"backpressure": backpressure, "rate": rate, "started": started, "batches": batches,
           "peak_pss": job.memory.peak_pss, "series": series,
           "feeder_sent": stats.get("lines_sent"), "generated": generated,
           # batch times that fell due but had not completed when the run ended
           "pending": _due(batches, ended) - len(batches)}
    job.cleanup()
    return out


def _due(batches: list[dict[str, Any]], ended: float, batch_ms: int = 1000) -> int:
    if not batches:
        return 0
    first = batches[0]["batch_time_ms"]
    return len(range(first, int(ended * 1000) + 1, batch_ms))


def capacity(engine: str, cost_us: float, args: argparse.Namespace) -> tuple[float, dict[str, Any]]:
    """Lines per second of processing time, measured at ``args.calibration_rate``."""
    result = run(engine, args.calibration_rate, args.calibration_seconds, cost_us, False, args)
    measured = [b for b in result["batches"][3:] if b["records"] and b["processing_ms"]]
    if not measured:
        raise SystemExit("calibration: no batch with records completed")
    rates = [b["records"] / b["processing_ms"] * 1000 for b in measured]
    return median(rates), result


def summary(result: dict[str, Any], batch_ms: int) -> dict[str, Any]:
    batches = result["batches"]
    tail = batches[len(batches) // 2:]
    proc = [b["processing_ms"] for b in tail]
    sched = [b["scheduling_delay_ms"] for b in batches]
    pss = [p for _, p in result["series"]]
    half = len(pss) // 2
    return {
        "in_per_s": median([b["records"] * 1000 / batch_ms for b in tail]),
        "proc_p50": median(proc), "proc_p90": percentile(proc, 90),
        "under_batch": sum(p < batch_ms for p in proc) / max(1, len(proc)),
        "sched_last": sched[-1] if sched else None, "sched_max": max(sched, default=None),
        "completed": len(batches), "pending": result["pending"],
        "peak_pss": result["peak_pss"],
        "pss_first_half_max": max(pss[:half], default=None),
        "pss_second_half_max": max(pss[half:], default=None),
        "processed": sum(b["records"] for b in batches),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backpressure",
                                     description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--engine", choices=("dstream", "pyspark"), default="dstream")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--cost-us", type=float, default=100.0,
                        help="busy-wait per line in the job, microseconds (default 100)")
    parser.add_argument("--calibration-rate", type=float, default=4000.0,
                        help="lines/s while measuring the capacity (default 4000)")
    parser.add_argument("--calibration-seconds", type=float, default=15.0)
    parser.add_argument("--capacity", type=float, default=0.0,
                        help="skip the calibration: the job's capacity in lines/s")
    parser.add_argument("--overload", type=float, default=2.0,
                        help="feed this many times the capacity (default 2)")
    parser.add_argument("--seconds", type=float, default=45.0, help="length of each run")
    parser.add_argument("--every", type=int, default=1, help="print every N-th batch")
    args = parser.parse_args(argv)
    batch_ms = 1000

    if args.capacity:
        cap = args.capacity
        print(f"capacity (given): {cap:,.0f} lines/s")
    else:
        print(f"calibrating: {args.calibration_rate:,.0f} lines/s for {args.calibration_seconds:g} s "
              f"with {args.cost_us:g} us/line ...", flush=True)
        cap, _ = capacity(args.engine, args.cost_us, args)
        print(f"capacity: {cap:,.0f} lines/s of processing time", flush=True)
    rate = round(cap * args.overload, -2)
    results = {}
    for bp in (False, True):
        print(f"backpressure {'on' if bp else 'off'}: {rate:,.0f} lines/s for {args.seconds:g} s ...",
              flush=True)
        results[bp] = run(args.engine, rate, args.seconds, args.cost_us, bp, args)

    print()
    print(f"Backpressure ({args.engine}, master {args.master}, {args.cost_us:g} us/line, capacity "
          f"{cap:,.0f} lines/s, fed {rate:,.0f} lines/s = {args.overload:g}x, batch 1 s); "
          f"{datetime.date.today()}, {os.cpu_count()} cores")
    print()
    rows = []
    off, on = results[False], results[True]
    n = max(len(off["batches"]), len(on["batches"]))
    for i in range(0, n, args.every):
        row: list[Any] = [i + 1]
        for res, with_limit in ((off, False), (on, True)):
            if i < len(res["batches"]):
                b = res["batches"][i]
                cells = [f"{b['records'] * 1000 / batch_ms:,.0f}"]
                if with_limit:
                    limit = b.get("rate_limit")
                    cells.append("-" if limit is None else f"{limit:,.0f}")
                cells += [b["processing_ms"], b["scheduling_delay_ms"], mib(b["pss"])]
            else:
                cells = ["(not done)"] + ["" for _ in range(4 if with_limit else 3)]
            row += cells
        rows.append(row)
    print(table(["batch", "off: in/s", "proc ms", "sched ms", "PSS MiB",
                 "on: in/s", "limit/s", "proc ms", "sched ms", "PSS MiB"], rows))
    print()
    s_off, s_on = summary(off, batch_ms), summary(on, batch_ms)
    srows = [
        ["input rate, 2nd half median (lines/s)", f"{s_off['in_per_s']:,.0f}", f"{s_on['in_per_s']:,.0f}"],
        ["processing p50 / p90, 2nd half (ms)", f"{s_off['proc_p50']:.0f} / {s_off['proc_p90']:.0f}",
         f"{s_on['proc_p50']:.0f} / {s_on['proc_p90']:.0f}"],
        ["batches under the interval, 2nd half", f"{s_off['under_batch']:.0%}", f"{s_on['under_batch']:.0%}"],
        ["scheduling delay last / max (ms)", f"{s_off['sched_last']} / {s_off['sched_max']}",
         f"{s_on['sched_last']} / {s_on['sched_max']}"],
        ["batches completed / still queued at the end", f"{s_off['completed']} / {s_off['pending']}",
         f"{s_on['completed']} / {s_on['pending']}"],
        ["records processed", f"{s_off['processed']:,}", f"{s_on['processed']:,}"],
        ["peak PSS (MiB)", mib(s_off["peak_pss"]), mib(s_on["peak_pss"])],
        ["PSS max, 1st half / 2nd half (MiB)",
         f"{mib(s_off['pss_first_half_max'])} / {mib(s_off['pss_second_half_max'])}",
         f"{mib(s_on['pss_first_half_max'])} / {mib(s_on['pss_second_half_max'])}"],
        ["lines the feeder sent / generated", f"{off['feeder_sent'] or 0:,} / {off['generated']:,}",
         f"{on['feeder_sent'] or 0:,} / {on['generated']:,}"],
    ]
    print(table(["per run", "backpressure off", "backpressure on"], srows))


if __name__ == "__main__":
    main()
