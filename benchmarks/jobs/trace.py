"""Timing probes inside a dstream job process, for the benchmarks' "where does the time go".

``install(path)`` wraps a few engine functions *in this process only* (the engine's files are
untouched) and counts, per probe, calls and seconds; a thread appends the cumulative counters
to ``path`` as a JSON line every 0.5 s, and every stage the DAG scheduler runs is written as
its own line. A runner diffs two counter lines to get the cost over a window. Driver side
only: the worker processes are profiled with py-spy instead.

Probes (seconds are wall time in the calling thread):

- ``receiver.split``: decoding and splitting received bytes into lines (receiver thread)
- ``receiver.store_all``: handing lines to the block generator (receiver thread)
- ``block.store``: a cut block stored: write-ahead log, block manager, tracker (generator thread)
- ``block.put``: of which ``BlockManager.put`` of received blocks (pickle + file for a 2nd copy)
- ``batch.generate``: block allocation and job generation (batch clock thread)
- ``batch.after``: after the batch's jobs: checkpoint snapshot, clearing old RDDs (batch thread)
- ``task.submit``: gathering a task's inputs in the driver (batch thread)
- ``task.pickle``: pickling a task's inputs for a worker (backend threads)
- ``task.roundtrip``: sending a task and waiting for its reply (backend threads)
- ``task.accept``: storing a task's cached blocks in the driver's block manager (batch thread)
- ``checkpoint.write``: the checkpoint writer (its thread)
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["install"]


class _Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values: dict[str, list[float]] = {}

    def add(self, name: str, seconds: float, amount: float = 0.0) -> None:
        with self._lock:
            entry = self.values.setdefault(name, [0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += seconds
            entry[2] += amount

    def snapshot(self) -> dict[str, list[float]]:
        with self._lock:
            return {k: list(v) for k, v in self.values.items()}


def _wrap(owner: Any, attr: str, name: str, counters: _Counters,
          amount: Callable[..., float] | None = None, when: Callable[..., bool] | None = None) -> None:
    original = getattr(owner, attr)

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        if when is not None and not when(*args, **kwargs):
            return original(*args, **kwargs)
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            counters.add(name, time.perf_counter() - start,
                         amount(*args, **kwargs) if amount is not None else 0.0)

    setattr(owner, attr, timed)


def install(path: str) -> Callable[[], None]:
    """Wrap the probes and start writing to ``path``; returns a function that stops it."""
    from dstream.block_manager import BlockManager
    from dstream.executors import processes
    from dstream.scheduler.dag import DAGScheduler
    from dstream.streaming.checkpointing import CheckpointManager
    from dstream.streaming.context import StreamingContext
    from dstream.streaming.inputs.receiver_streams import EngineBlockSink
    from dstream.streaming.scheduler import JobScheduler
    from dstream.receivers.block_generator import BlockGenerator
    from dstream.receivers.lines import LineSplitter

    counters = _Counters()
    out = open(path, "a", encoding="utf-8", buffering=1)
    lock = threading.Lock()

    def write(record: dict[str, Any]) -> None:
        with lock:
            if not out.closed:
                out.write(json.dumps(record) + "\n")

    _wrap(LineSplitter, "feed", "receiver.split", counters, amount=lambda self, data: len(data))
    _wrap(BlockGenerator, "store_all", "receiver.store_all", counters)
    _wrap(EngineBlockSink, "store_block", "block.store", counters,
          amount=lambda self, stream_id, block_id, records, metadata: len(records))
    _wrap(BlockManager, "put", "block.put", counters,
          when=lambda self, block_id, *a, **k: block_id.startswith("input-"))
    _wrap(JobScheduler, "generate", "batch.generate", counters)
    _wrap(StreamingContext, "_after_batch", "batch.after", counters)
    _wrap(DAGScheduler, "_submit", "task.submit", counters)
    _wrap(DAGScheduler, "_accept", "task.accept", counters)
    _wrap(processes.ProcessBackend, "_run_on", "task.roundtrip", counters)
    _wrap(CheckpointManager, "_write", "checkpoint.write", counters)

    dumps_data = processes.dumps_data

    def timed_dumps(obj: Any) -> bytes:
        start = time.perf_counter()
        data = dumps_data(obj)
        counters.add("task.pickle", time.perf_counter() - start, len(data))
        return data
    processes.dumps_data = timed_dumps

    run_stage = DAGScheduler._run_stage

    def traced_stage(self: Any, stage: Any, partitions: list[int], *args: Any, **kwargs: Any) -> Any:
        start = time.time()
        try:
            return run_stage(self, stage, partitions, *args, **kwargs)
        finally:
            write({"stage": stage.kind, "description": stage.description[:200],
                   "tasks": len(partitions), "start": start, "end": time.time()})
    DAGScheduler._run_stage = traced_stage

    stop = threading.Event()

    def dump() -> None:
        while not stop.wait(0.5):
            write({"counters": counters.snapshot(), "wall": time.time()})
        write({"counters": counters.snapshot(), "wall": time.time()})

    thread = threading.Thread(target=dump, name="benchmark-trace", daemon=True)
    thread.start()

    def close() -> None:
        stop.set()
        thread.join(5)
        with lock:
            out.close()
    return close
