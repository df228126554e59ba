"""Event-time windowed word count against the batch-time one, on the same input and machine.

Lines of ~10 words (``textgen``), each line stamped with an event time: batch ``i`` carries
times in ``[i, i + 1)`` s; 10 % of the lines are out of order (up to 2 s behind, within the
out-of-orderness bound) and 1 % are late (30 s behind, past every window). Both jobs read the
same pre-made batches through ``queueStream`` on ``local[2]``, stepped on the manual clock:

* batch time: ``flatMap -> (word, 1) -> reduceByKeyAndWindow(add, sub, 10, 1)`` (with its
  inverse function: each slide adds the new batch and subtracts the expired one);
* event time, stamped per word: ``flatMap -> (word, ts) -> withEventTime(ts, 2) ->
  countByKeyAndEventWindow(10, 1)`` (sliding, as the batch-time job), and the same with
  tumbling 10 s windows;
* event time, stamped per line: ``withEventTime(ts, 2) -> flatMap -> (word, 1) ->
  countByKeyAndEventWindow`` (the words keep their line's event time), sliding and tumbling:
  the same functions per word as the batch-time job, plus one timestamp per line;
* event time per line, sessions: the same words' counts per session window with a gap of 1 s
  (``reduceByKeyAndSessionWindow``), to follow the sessions' speed (no batch-time twin).

Each output collects its batch. The first ``--warmup`` batches (worker start-up, first
imports) are run but not measured. Throughput is the measured batches' words over their wall
time, run back to back; the delay of a batch is its wall time from the clock step to its
completion (no queueing: one batch at a time), reported as p50 / p99.

``--compare-with DIR`` runs every job in a subprocess, once on this checkout's engine and once
on the checkout in ``DIR`` (say, the main branch), alternating job by job (and which engine
goes first, round by round) for ``--rounds`` rounds, and prints each round's table and the
medians (the machine's load moves: compare within a round). ``--only TEXT`` runs the jobs
whose name holds ``TEXT`` and the batch-time job (shorter rounds, so the job and its
reference run closer in time).

    python -m benchmarks.event_time_wordcount [--batches 40] [--lines 20000]
    python -m benchmarks.event_time_wordcount --compare-with ../before --rounds 3
    python -m benchmarks.event_time_wordcount --compare-with ../before --rounds 5 --only sliding
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import random
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

from benchmarks.harness import median, percentile, table
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
    """Each word stamped: ``(word, ts)`` pairs, then ``withEventTime``."""
    def job(lines: Any) -> Any:
        words = lines.flatMap(lambda tl: [(w, tl[0]) for w in tl[1].split()])
        return words.withEventTime(lambda wt: wt[1], 2).countByKeyAndEventWindow(10, slide)
    return job


def event_time_lines_job(slide: float | None) -> Callable[[Any], Any]:
    """Each line stamped, its words keeping its event time."""
    def job(lines: Any) -> Any:
        words = lines.withEventTime(lambda tl: tl[0], 2).flatMap(lambda tl: tl[1].split())
        return words.map(lambda w: (w, 1)).countByKeyAndEventWindow(10, slide)
    return job


def event_time_sessions_job(gap: float) -> Callable[[Any], Any]:
    """Each line stamped, its words' counts per session (records of a word closer than
    ``gap``)."""
    def job(lines: Any) -> Any:
        words = lines.withEventTime(lambda tl: tl[0], 2).flatMap(lambda tl: tl[1].split())
        return words.map(lambda w: (w, 1)).reduceByKeyAndSessionWindow(operator.add, gap)
    return job


BASE = "batch time, sliding 10 s / 1 s"
JOBS: dict[str, Callable[[Any], Any]] = {
    BASE: batch_time_job,
    "event time per word, sliding 10 s / 1 s": event_time_job(1),
    "event time per word, tumbling 10 s": event_time_job(None),
    "event time per line, sliding 10 s / 1 s": event_time_lines_job(1),
    "event time per line, tumbling 10 s": event_time_lines_job(None),
    "event time per line, sessions (gap 1 s)": event_time_sessions_job(1),
}


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


def measure(args: argparse.Namespace, name: str) -> dict[str, float]:
    """Run one job: words/s and batch p50 / p99 (ms)."""
    batches = make_batches(args.batches, args.lines)
    words = sum(len(line.split()) for b in batches[args.warmup:] for _t, line in b)
    total, delays = run(args.master, batches, JOBS[name], args.warmup)
    return {"words": words, "rate": words / total, "p50": percentile(delays, 50) * 1000,
            "p99": percentile(delays, 99) * 1000, "engine": _engine()}


def _engine() -> str:
    """The checkout whose ``dstream`` runs."""
    import dstream
    return os.path.dirname(os.path.dirname(os.path.abspath(dstream.__file__)))


def measure_in(checkout: str, args: argparse.Namespace, name: str) -> dict[str, float]:
    """``measure`` in a subprocess whose engine is the one in ``checkout``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.abspath(checkout), _HERE]))
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--job", name, "--batches",
         str(args.batches), "--lines", str(args.lines), "--master", args.master, "--warmup",
         str(args.warmup)], env=env, cwd=tempfile.gettempdir(), capture_output=True,
        text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["engine"] != os.path.abspath(checkout):
        raise RuntimeError(f"the job ran the engine in {result['engine']}, not {checkout}")
    return result


_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def compare(args: argparse.Namespace) -> None:
    """Each job on this engine and on the one in ``--compare-with``, alternating."""
    engines = {"before": args.compare_with, "after": _HERE}
    rounds: list[dict[tuple[str, str], dict[str, float]]] = []
    for r in range(args.rounds):
        results, load = {}, [_load()]
        order = list(engines.items())[::-1 if r % 2 else 1]    # who runs first alternates too
        for name in _selected(args):
            for engine, checkout in order:
                results[(name, engine)] = measure_in(checkout, args, name)
        load.append(_load())
        rounds.append(results)
        print(f"round {r + 1} (load average 1/5/15 min: {load[0]} at the start, {load[1]} at the end)")
        print(_table(results, engines))
    print(f"median of {args.rounds} rounds")
    print(_table({key: {m: median([rd[key][m] for rd in rounds]) for m in ("rate", "p50", "p99")}
                  for key in rounds[0]}, engines, [rd for rd in rounds]))


def _selected(args: argparse.Namespace) -> list[str]:
    """The jobs to run: those whose name holds ``--only`` (all without it), and the
    batch-time job they are compared with."""
    return [name for name in JOBS if name == BASE or not args.only or args.only in name]


def _table(results: dict[tuple[str, str], dict[str, float]], engines: dict[str, str],
           rounds: list[dict[tuple[str, str], dict[str, float]]] | None = None) -> str:
    """``x batch`` divides by the batch-time job on the same engine (in a median table, the
    median of the rounds' ratios)."""
    rows = []
    for name in dict.fromkeys(name for name, _engine in results):
        row = [name]
        for engine in engines:
            res = results[(name, engine)]
            if rounds:
                ratio = median([rd[(name, engine)]["rate"] / rd[(BASE, engine)]["rate"]
                                for rd in rounds])
            else:
                ratio = res["rate"] / results[(BASE, engine)]["rate"]
            row += [f"{res['rate']:,.0f}", f"{ratio:.2f}", f"{res['p50']:.0f} / {res['p99']:.0f}"]
        rows.append(row)
    head = ["job"] + [f"{e} {m}" for e in engines for m in ("words/s", "x batch", "p50 / p99 ms")]
    return table(head, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--lines", type=int, default=20_000, help="lines per batch (~10 words each)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--warmup", type=int, default=2, help="batches run first, not measured")
    parser.add_argument("--job", choices=list(JOBS), help="run this job alone, print JSON")
    parser.add_argument("--compare-with", metavar="DIR", help="a checkout with the engine to compare")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of --compare-with")
    parser.add_argument("--only", metavar="TEXT",
                        help="run only the jobs whose name holds TEXT (and the batch-time job)")
    args = parser.parse_args()
    if args.job:
        print(json.dumps(measure(args, args.job)))
        return
    if args.compare_with:
        compare(args)
        return
    rows, rates = [], {}
    words = 0
    for name in _selected(args):
        res = measure(args, name)
        words, rates[name] = res["words"], res["rate"]
        rows.append([name, f"{res['rate']:,.0f}", f"{res['p50']:.0f}", f"{res['p99']:.0f}",
                     f"{res['rate'] / rates[BASE]:.2f}"])
    print(f"{args.batches} batches of {args.lines} lines, {args.batches - args.warmup} measured "
          f"({words:,} words), {args.master}")
    print(table(["job", "words/s", "batch p50 ms", "batch p99 ms", "x batch time"], rows))


if __name__ == "__main__":
    main()
