"""Memory of the streaming word count at fixed rates, variants interleaved round by round:
peak PSS of the job's process tree (driver / workers), what the driver's block manager holds,
and whether the job kept up.

A variant is ``NAME=CHECKOUT`` (the job file and engine of that checkout run) with optional
``;KEY=VALUE`` configuration after it, e.g. ``before=../main`` and
``off=.;dstream.streaming.receiver.releaseEarly=false``. Each round runs every variant at every
rate, one after the other (``--warmup`` s unmeasured, then ``--seconds`` measured); the table
gives the median over rounds and each round's value.

    python -m benchmarks.release_memory --variant before=/path/to/main --variant after=. \\
        --rates 24700,250000 --rounds 3

>>> parse_variant("off=.;dstream.streaming.receiver.releaseEarly=false")[2]
['dstream.streaming.receiver.releaseEarly=false']
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from .feeder import FeederProcess
from .harness import JobProcess, median, table


def parse_variant(text: str) -> tuple[str, str, list[str]]:
    """``NAME=CHECKOUT[;KEY=VALUE...]`` -> (name, absolute checkout, configuration)."""
    head, *conf = text.split(";")
    name, _, repo = head.partition("=")
    return name, os.path.abspath(repo or "."), conf


def run_once(repo: str, conf: list[str], rate: float, warmup: float, seconds: float) -> dict[str, Any]:
    feeder = FeederProcess(rate=rate, seconds=warmup + seconds + 30)
    port = feeder.start()
    job = JobProcess(port, extra=[f"--conf={c}" for c in conf], repo=repo)
    try:
        job.wait_for(lambda j: j.batches(), 180, "the first batch")
        while not feeder.steps_started():
            time.sleep(0.05)
        started = feeder.steps_started()[0]["started_at"]
        time.sleep(max(0.0, started + warmup - time.time()))
        peak_before = dict(job.memory.peak_by_role)
        mark = time.time()
        time.sleep(max(0.0, started + warmup + seconds - time.time()))
    finally:
        job.stop()
        sent = feeder.stop().get("lines_sent", 0)
    batches = [b for b in job.batches() if b["batch_time_ms"] / 1000 >= mark]
    result = {
        "peak_pss_measured": job.memory.peak_since(mark) or 0,
        "peak_pss_all": job.memory.peak_pss,
        "peak_by_role": job.memory.peak_by_role,
        "warmup_peak_by_role": peak_before,
        "ingested_per_s": sum(b["records"] for b in batches) / max(1, len(batches)),
        "proc_p50": median([b["processing_ms"] for b in batches]),
        "last_sched": batches[-1]["scheduling_delay_ms"] if batches else None,
        "block_bytes": median([b["block_bytes"] for b in batches if "block_bytes" in b]),
        "blocks": median([b["blocks"] for b in batches if "blocks" in b]),
        "sent": sent, "batches": len(batches),
        "reads_after_release": max((b.get("reads_after_release") or 0 for b in job.batches()), default=None),
    }
    job.cleanup()
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.release_memory",
                                     description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--variant", action="append", required=True, metavar="NAME=CHECKOUT[;K=V]")
    parser.add_argument("--rates", default="24700,250000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=30.0, help="unmeasured seconds (the window fills, then the remember duration)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--json", help="write every run's figures here")
    args = parser.parse_args(argv)
    variants = [parse_variant(v) for v in args.variant]
    rates = [float(r) for r in args.rates.split(",")]
    runs: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for round_ in range(1, args.rounds + 1):
        for rate in rates:
            for name, repo, conf in variants:
                r = run_once(repo, conf, rate, args.warmup, args.seconds)
                r["load1"] = os.getloadavg()[0]
                runs.setdefault((name, rate), []).append(r)
                print(f"round {round_} {name} @ {rate:,.0f}: peak PSS {r['peak_pss_all'] / 2**20:.0f} MiB "
                      f"(driver {r['peak_by_role'].get('driver', 0) / 2**20:.0f}), ingested "
                      f"{r['ingested_per_s']:,.0f}/s, p50 proc {r['proc_p50']} ms, last sched "
                      f"{r['last_sched']} ms, blocks {r['block_bytes']}, reads after release "
                      f"{r['reads_after_release']}, load {r['load1']:.1f}", flush=True)
    rows = []
    for (name, rate), rs in runs.items():
        def mib(key: str, rs: list[dict[str, Any]] = rs) -> str:
            values = [r[key] / 2**20 for r in rs]
            return f"{median(values):.0f} ({', '.join(f'{v:.0f}' for v in values)})"
        rows.append([f"{rate:,.0f}", name, mib("peak_pss_all"),
                     f"{median([r['peak_by_role'].get('driver', 0) for r in rs]) / 2**20:.0f} / "
                     f"{median([r['peak_by_role'].get('worker', 0) for r in rs]) / 2**20:.0f}",
                     "-" if rs[0]["block_bytes"] is None else f"{median([r['block_bytes'] for r in rs]) / 2**20:.1f}",
                     f"{median([r['ingested_per_s'] for r in rs]):,.0f}",
                     f"{median([r['proc_p50'] or 0 for r in rs]):.0f}",
                     f"{median([r['last_sched'] or 0 for r in rs]):.0f}"])
    print(table(["rate", "variant", "peak PSS MiB, median (rounds)", "driver / workers MiB",
                 "block manager MiB", "ingested/s", "p50 proc ms", "last sched ms"], rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({f"{n}@{r:g}": rs for (n, r), rs in runs.items()}, f, indent=1)


if __name__ == "__main__":
    main()
