"""The streaming word count the benchmarks run, written against PySpark's API.

    socketTextStream -> flatMap(split) -> map((w, 1)) -> reduceByKeyAndWindow(add, sub, 10, 1)
    + the window's top 10 words per batch (foreachRDD)

with a checkpoint directory, batch interval 1 s, master local[2]. ``--engine pyspark`` runs
the very same code on PySpark: only the imports (and the configuration prefix) change.
Every completed batch's ``BatchInfo`` (from a ``StreamingListener``), the top words, and the
job's start-up milestones go to a JSON-lines file (``--report``) that the runners read.

    python -m benchmarks.jobs.wordcount_job --port 9999 --report /tmp/batches.jsonl
    python -m benchmarks.jobs.wordcount_job --engine pyspark --port 9999 --report ...

It runs until SIGTERM (or ``--seconds``), then stops without waiting for queued batches.
``--cost-us`` adds a busy per-line cost (the backpressure benchmark makes the job heavier
with it); ``--backpressure`` turns on ``*.streaming.backpressure.enabled``.
"""

from __future__ import annotations

import time

LAUNCHED_MS = int(time.time() * 1000)     # the interpreter is up, nothing imported yet

import argparse
import json
import operator
import os
import signal
import sys
import tempfile
import threading
from typing import Any


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.jobs.wordcount_job",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("dstream", "pyspark"), default="dstream")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="the feeder's port")
    parser.add_argument("--report", required=True, help="JSON-lines file of batch infos")
    parser.add_argument("--checkpoint", help="checkpoint directory (default: a temporary one)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--batch", type=float, default=1.0, help="batch interval, seconds")
    parser.add_argument("--window", type=float, default=10.0, help="window length, seconds")
    parser.add_argument("--slide", type=float, default=1.0, help="window slide, seconds")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after this (0: at SIGTERM)")
    parser.add_argument("--cost-us", type=float, default=0.0,
                        help="busy-wait this many microseconds per line (a heavier job)")
    parser.add_argument("--backpressure", action="store_true",
                        help="set *.streaming.backpressure.enabled=true")
    parser.add_argument("--initial-rate", type=float, default=0.0,
                        help="*.streaming.backpressure.initialRate (lines/s), 0: unset")
    parser.add_argument("--max-rate", type=float, default=0.0,
                        help="*.streaming.receiver.maxRate (lines/s), 0: unset")
    parser.add_argument("--trace", help="dstream only: timing probes to this JSON-lines file "
                                         "(benchmarks/jobs/trace.py)")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                        help="extra configuration (full key), repeatable")
    return parser.parse_args(argv)


def _engine() -> str:
    """``--engine`` from the command line when run as a script (imported: dstream)."""
    if __name__ != "__main__":
        return "dstream"
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--engine", choices=("dstream", "pyspark"), default="dstream")
    return pre.parse_known_args()[0].engine


ENGINE = _engine()

# ---------------------------------------------------------------------- the only engine switch
if ENGINE == "pyspark":
    from pyspark import SparkConf, SparkContext
    from pyspark.streaming import StreamingContext
    from pyspark.streaming.listener import StreamingListener
    PREFIX = "spark."
else:
    from dstream import SparkConf, SparkContext, StreamingContext
    from dstream.streaming.listener import StreamingListener
    PREFIX = "dstream."
# ----------------------------------------------------------------------------------------------

IMPORTED_MS = int(time.time() * 1000)


class Report:
    """Appends JSON lines to the report file, from any thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._file = open(path, "a", encoding="utf-8", buffering=1)
        self._lock = threading.Lock()

    def __reduce__(self) -> Any:
        # PySpark pickles output functions into its checkpoints: reopen the file when revived
        return (Report, (self.path,))

    def write(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, "wall_ms": int(time.time() * 1000), **fields})
        with self._lock:
            self._file.write(line + "\n")

    def close(self) -> None:
        with self._lock:
            self._file.close()


def _ms(value: Any) -> int | None:
    """A BatchInfo time or delay as int ms, None when unknown (dstream: None; PySpark: -1)."""
    if value is None:
        return None
    value = int(value)
    return None if value < 0 else value


class BatchReporter(StreamingListener):
    """Every completed batch's timings to the report (PySpark's BatchInfo accessors)."""

    def __init__(self, report: Report, extra: Any = None) -> None:
        self._report = report
        self._extra = extra

    def onBatchCompleted(self, batchCompleted: Any) -> None:
        info = batchCompleted.batchInfo()
        self._report.write(
            "batch",
            batch_time_ms=_ms(info.batchTime().milliseconds()),
            submission_ms=_ms(info.submissionTime()),
            start_ms=_ms(info.processingStartTime()),
            end_ms=_ms(info.processingEndTime()),
            records=int(info.numRecords()),
            scheduling_delay_ms=_ms(info.schedulingDelay()),
            processing_ms=_ms(info.processingDelay()),
            total_delay_ms=_ms(info.totalDelay()),
            **(self._extra() if self._extra is not None else {}))


def make_cost(cost_us: float) -> Any:
    """A per-line function that busy-waits ``cost_us`` microseconds and returns the line."""
    cost_s = cost_us / 1e6

    def cost(line: str) -> str:
        end = time.perf_counter() + cost_s
        while time.perf_counter() < end:
            pass
        return line
    return cost


def by_count(kv: tuple[str, int]) -> tuple[int, str]:
    return (-kv[1], kv[0])


def build(ssc: Any, args: argparse.Namespace, report: Report) -> None:
    lines = ssc.socketTextStream(args.host, args.port)
    if args.cost_us > 0:
        lines = lines.map(make_cost(args.cost_us))
    counts = (lines.flatMap(str.split)
                   .map(lambda w: (w, 1))
                   .reduceByKeyAndWindow(operator.add, operator.sub, args.window, args.slide))
    top = args.top

    def report_top(time: Any, rdd: Any) -> None:
        words = rdd.takeOrdered(top, key=by_count)
        report.write("top", batch_time_ms=int(time.timestamp() * 1000), top=words)

    counts.foreachRDD(report_top)


def receiver_rate(ssc: Any) -> Any:
    """dstream only (beyond the common API): the receivers' current rate limit, what the
    driver's block manager holds in memory (bytes, blocks) and how often a block released early
    was read again (expected: never), for reports."""
    tracker = getattr(ssc, "_receiver_tracker", None)
    if tracker is None:
        return None
    blocks = ssc.sparkContext._block_manager

    def extra() -> dict[str, Any]:
        limits = [s.rate_limit for s in tracker.supervisors()]
        return {"rate_limit": limits[0] if limits else None, "block_bytes": blocks.memory_used,
                "blocks": len(blocks.block_ids()),
                "reads_after_release": getattr(blocks, "reads_after_release", None)}
    return extra


def main(args: argparse.Namespace) -> None:
    report = Report(args.report)
    report.write("launched", at_ms=LAUNCHED_MS, imported_ms=IMPORTED_MS, engine=args.engine,
                 pid=os.getpid())
    close_trace = None
    if args.trace and args.engine == "dstream":
        from benchmarks.jobs.trace import install
        close_trace = install(args.trace)
    conf = SparkConf().setMaster(args.master).setAppName("wordcount-benchmark")
    if args.backpressure:
        conf.set(PREFIX + "streaming.backpressure.enabled", "true")
    if args.initial_rate > 0:
        conf.set(PREFIX + "streaming.backpressure.initialRate", str(int(args.initial_rate)))
    if args.max_rate > 0:
        conf.set(PREFIX + "streaming.receiver.maxRate", str(int(args.max_rate)))
    if args.engine == "pyspark":
        conf.set("spark.ui.showConsoleProgress", "false")
    for item in args.conf:
        key, _, value = item.partition("=")
        conf.set(key, value)
    sc = SparkContext(conf=conf)
    if args.engine == "pyspark":
        sc.setLogLevel("WARN")
    ssc = StreamingContext(sc, args.batch)
    checkpoint = args.checkpoint or tempfile.mkdtemp(prefix="wordcount-benchmark-")
    ssc.checkpoint(checkpoint)
    report.write("context_ready")
    ssc.addStreamingListener(BatchReporter(report, receiver_rate(ssc)))
    build(ssc, args, report)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    ssc.start()
    report.write("started")
    deadline = time.monotonic() + args.seconds if args.seconds > 0 else None
    while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
        if ssc.awaitTerminationOrTimeout(0.2):
            break
    report.write("stopping")
    ssc.stop(stopSparkContext=True, stopGraceFully=False)
    report.write("stopped")
    report.close()
    if close_trace is not None:
        close_trace()
    sys.stdout.flush()


if __name__ == "__main__":
    main(parse_args())
