"""Where a dstream job's time goes, from a py-spy profile of the job and its worker processes.

Reads the collapsed stacks that ``py-spy record --subprocesses --threads --idle --format raw``
writes (``python -m benchmarks.streaming_wordcount --py-spy FILE`` makes one) and attributes
every sample to a process role (driver / worker), a thread, and a step of the engine:
receiving, block handling, scheduling and task dispatch, task execution (map side, shuffle
write, window update, output), checkpointing, or waiting. Percentages are of wall time:
with ``--idle`` every thread is sampled at the rate, busy or not.

    python -m benchmarks.pyspy_breakdown /tmp/profile.txt --batches 40

>>> classify("process 1:x;thread (1): block-generator-0;BlockManager._write (dstream/block_manager.py:141)")
('driver', 'block-generator', 'block handling: 2nd copy of a received block (file)')
"""

from __future__ import annotations

import argparse
import collections
import os
import re
from collections.abc import Iterable

from .harness import table

__all__ = ["breakdown", "classify"]

def _line_of(path: str, text: str) -> int:
    """The first line of ``path`` (from the repository root) that contains ``text``: py-spy
    names a frame by file and line only."""
    with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), path),
              encoding="utf-8") as f:
        return next(n for n, line in enumerate(f, 1) if text in line)


_WAIT_LEAVES = ("Condition.wait", "Event.wait", "Connection._recv ", "Queue.get", "sleep",
                "select", "Thread.join", "wait (concurrent")

# (substring of the stack, step), first match wins, leaf-most conditions first;
# "A (+ B": both A and B are in the stack
_DRIVER_RULES = [
    (f"SocketTextReceiver._consume (receivers/socket.py:{_line_of('receivers/socket.py', 'sock.recv(')})",
     "receiver: waiting in recv()"),
    ("LineSplitter", "receiver: decode + split lines"),
    ("store_all", "receiver: hand lines to the block generator"),
    ("BlockManager._write", "block handling: 2nd copy of a received block (file)"),
    ("EngineBlockSink.store_block (+ dumps_data", "block handling: pickle a received block (once)"),
    ("EngineBlockSink.store_block", "block handling: store block (block manager, tracker)"),
    ("BlockGenerator", "block handling: cut blocks"),
    ("dumps_data", "dispatch: pickle task inputs"),
    ("Connection._send", "dispatch: write task to the worker pipe"),
    ("_code_of", "dispatch: pickle stage code (cloudpickle)"),
    ("ProcessBackend", "dispatch: backend thread, other"),
    ("CheckpointManager", "checkpoint writer"),
    ("StreamCheckpoints", "checkpoint snapshot (batch thread)"),
    ("JobScheduler.generate", "scheduling: generate batch (allocate blocks, jobs)"),
    ("DAGScheduler._accept", "scheduling: store cached result blocks"),
    ("DAGScheduler", "scheduling: DAG scheduler (stages, inputs)"),
    ("ListenerBus", "listener bus"),
    ("takeOrdered", "output: top 10 (driver merge)"),
]
_WORKER_RULES = [
    (("takeOrdered",), "worker: output (top 10 per partition)"),
    (("WindowUpdateRDD.compute", "Serialized.load"), "worker: window update: unpickle shuffled counts"),
    (("WindowUpdateRDD.compute", "combine_combiners"),
     "worker: window update: merge old/new batches' shuffled counts"),
    (("WindowUpdateRDD.compute",), "worker: window update: previous window +/- batches"),
    (("write_shuffle (",), "worker: shuffle write (partition + pickle buckets)"),
    (("combine_values",), "worker: flatMap(split) -> map((w, 1)) -> map-side combine"),
    (("TaskContext.store_block",), "worker: cache result partition"),
    (("Serialized.load",), "worker: unpickle inputs"),
    (("dumps_data",), "worker: pickle task result"),
    (("serve (dstream/executors/worker.py",), "worker: receive + unpickle task"),
]


def _thread_name(stack: str) -> str:
    m = re.search(r";thread \(\d+\): ([^;]*)", stack)
    name = m.group(1) if m else "?"
    name = name.split("-127.0.0.1")[0]
    return re.sub(r"-\d+$", "", name)


def classify(stack: str) -> tuple[str, str, str]:
    """(role, thread, step) of one collapsed stack."""
    role = "worker" if "executors/worker.py" in stack else "driver"
    thread = _thread_name(stack)
    leaf = stack.rsplit(";", 1)[-1]
    if role == "worker":
        if leaf.startswith("Connection._recv") and "run_task" not in stack:
            return role, thread, "worker: idle (waiting for a task)"
        for needles, step in _WORKER_RULES:
            if all(needle in stack for needle in needles):
                return role, thread, step
        return role, thread, "worker: other"
    for needle, step in _DRIVER_RULES[:1]:
        if needle in leaf:
            return role, thread, step
    if any(leaf.startswith(w) or f" {w}" in leaf for w in _WAIT_LEAVES):
        return role, thread, "waiting"
    for needle, step in _DRIVER_RULES[1:]:
        if all(part in stack for part in needle.split(" (+ ")):
            return role, thread, step
    return role, thread, "driver: other"


def breakdown(lines: Iterable[str]) -> dict[tuple[str, str, str], int]:
    counts: collections.Counter[tuple[str, str, str]] = collections.Counter()
    for line in lines:
        stack, _, n = line.rstrip("\n").rpartition(" ")
        if stack and n.isdigit():
            counts[classify(stack)] += int(n)
    return dict(counts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pyspy_breakdown",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("profile", help="py-spy raw (collapsed) output")
    parser.add_argument("--rate", type=float, default=250.0, help="py-spy's sampling rate (Hz)")
    parser.add_argument("--batches", type=int, default=0,
                        help="batches in the profiled window: also print ms per batch")
    parser.add_argument("--all", action="store_true", help="include waiting samples")
    args = parser.parse_args(argv)
    with open(args.profile, encoding="utf-8") as f:
        counts = breakdown(f)
    by_step: collections.Counter[tuple[str, str]] = collections.Counter()
    by_thread: collections.Counter[tuple[str, str]] = collections.Counter()
    for (role, thread, step), n in counts.items():
        by_thread[(role, thread)] += n
        if args.all or not (step == "waiting" or step.endswith("idle (waiting for a task)")
                            or step.startswith("receiver: waiting")):
            by_step[(role, step)] += n
    busy = sum(by_step.values())
    rows = []
    for (role, step), n in by_step.most_common():
        seconds = n / args.rate
        row = [role, step, f"{seconds:.2f}", f"{n / busy:.0%}"]
        if args.batches:
            row.append(f"{seconds * 1000 / args.batches:.1f}")
        rows.append(row)
    header = ["process", "step", "busy s", "% of busy"] + (["ms per batch"] if args.batches else [])
    print(table(header, rows))
    print()
    print(table(["process", "thread", "samples (wall)"],
                [[r, t, n] for (r, t), n in by_thread.most_common()]))


if __name__ == "__main__":
    main()
