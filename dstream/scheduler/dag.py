"""Jobs into stages, stages into tasks, tasks onto the executor backend.

A job's final RDD is walked up its narrow dependencies; each shuffle dependency met there
is a map stage that must have run first. Shuffle outputs are kept per map task, so a lost
partition needs only its own map tasks again (outputs that the backend reports lost for good
are made again before a task that reads them is submitted); cached partitions and
checkpoints cut the walk short.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..accumulators import merge_updates
from ..blocks import BlockManager, rdd_block_id
from ..errors import TaskFailedError
from ..executors.base import RemoteBlock
from ..rdd_kinds import ShuffledRDD, shuffle_input_key
from .task import StageBinary, TaskResult

if TYPE_CHECKING:
    from ..dependency import ShuffleDependency
    from ..executors.base import ExecutorBackend
    from ..rdd import RDD

__all__ = ["DAGScheduler"]

log = logging.getLogger(__name__)


class _MapOutputs:
    """Map outputs of one shuffle: per map task, its buckets (one per reduce partition)."""

    def __init__(self, num_maps: int) -> None:
        self.outputs: list[list[Any] | None] = [None] * num_maps

    def missing(self) -> list[int]:
        return [i for i, out in enumerate(self.outputs) if out is None]

    def drop_lost(self, backend: ExecutorBackend) -> bool:
        """Forget the outputs the backend can no longer read or recompute; True if any."""
        lost = [i for i, out in enumerate(self.outputs)
                if out is not None and backend.outputs_lost(out)]
        for i in lost:
            self.outputs[i] = None
        return bool(lost)

    def bucket_inputs(self, reduce_split: int) -> list[Any]:
        return [out[reduce_split] for out in self.outputs if out is not None]


class DAGScheduler:
    """Runs jobs on one executor backend; thread-safe, so several jobs can run at once."""

    def __init__(self, backend: ExecutorBackend, block_manager: BlockManager, max_failures: int = 4) -> None:
        self.backend = backend
        self.block_manager = block_manager
        self.max_failures = max(1, max_failures)
        self._stage_ids = itertools.count()
        self._shuffles: dict[int, _MapOutputs] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ jobs
    def run_job(self, rdd: RDD, func: Callable[[int, Iterator], Any],
                partitions: list[int] | None = None) -> list[Any]:
        """``func(split, iterator)`` over the given partitions of ``rdd``, results in order."""
        if partitions is None:
            partitions = list(range(rdd.getNumPartitions()))
        for split in partitions:
            if not 0 <= split < rdd.getNumPartitions():
                raise ValueError(f"partition {split} does not exist in {rdd!r} "
                                 f"({rdd.getNumPartitions()} partitions)")
        if not partitions:
            return []
        for dep in self._shuffle_parents(rdd, partitions):
            self._run_map_stage(dep)
        stage = StageBinary(next(self._stage_ids), "result", rdd, func, None,
                            f"{getattr(func, '__name__', 'func')} on {rdd!r}")
        return self._run_stage(stage, partitions)

    def _shuffle_parents(self, rdd: RDD, partitions: list[int]) -> list[ShuffleDependency]:
        """Shuffle dependencies reachable from the partitions through narrow edges, each once."""
        found: dict[int, ShuffleDependency] = {}
        seen: set[tuple[int, int]] = set()
        stack = [(rdd, s) for s in partitions]
        while stack:
            node, split = stack.pop()
            if (node.id, split) in seen:
                continue
            seen.add((node.id, split))
            if node._checkpointed or (node.is_cached and self.block_manager.contains(rdd_block_id(node.id, split))):
                continue
            if isinstance(node, ShuffledRDD):
                found.setdefault(node.shuffle_dep.shuffle_id, node.shuffle_dep)
            stack.extend(node.narrow_parents(split))
        return list(found.values())

    def _run_map_stage(self, dep: ShuffleDependency) -> None:
        parent = dep.rdd
        with self._lock:
            outputs = self._shuffles.get(dep.shuffle_id)
            if outputs is None:
                outputs = self._shuffles[dep.shuffle_id] = _MapOutputs(parent.getNumPartitions())
                weakref.finalize(dep, self._forget_shuffle, dep.shuffle_id)
        missing = outputs.missing()
        if not missing:
            return
        for grandparent in self._shuffle_parents(parent, missing):
            self._run_map_stage(grandparent)
        stage = StageBinary(next(self._stage_ids), "shuffle", parent, None, dep.partitioner,
                            f"shuffle {dep.shuffle_id} of {parent!r}")
        for split, buckets in zip(missing, self._run_stage(stage, missing)):
            outputs.outputs[split] = buckets

    def _forget_shuffle(self, shuffle_id: int) -> None:
        with self._lock:
            self._shuffles.pop(shuffle_id, None)

    def shuffle_count(self) -> int:
        """How many shuffles' map outputs are held (for memory checks)."""
        with self._lock:
            return len(self._shuffles)

    # ------------------------------------------------------------------ stages
    def _run_stage(self, stage: StageBinary, partitions: list[int]) -> list[Any]:
        results: dict[int, Any] = {}
        failures: dict[int, int] = {}
        rdds: dict[int, RDD] = {}
        futures = {self._submit(stage, split, 0, rdds): split for split in partitions}
        try:
            while futures:
                done, _ = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    split = futures.pop(future)
                    error = future.exception()
                    if error is None:
                        results[split] = self._accept(future.result(), rdds)
                        continue
                    failures[split] = failures.get(split, 0) + 1
                    if failures[split] >= self.max_failures:
                        raise self._final_error(stage, split, failures[split], error)
                    log.warning("task %d of stage %d (%s) failed (attempt %d of %d), retrying: %r",
                                split, stage.stage_id, stage.description, failures[split],
                                self.max_failures, error)
                    futures[self._submit(stage, split, failures[split], rdds)] = split
        finally:
            for future in futures:
                future.cancel()
            self.backend.forget_stage(stage.stage_id)
        return [results[s] for s in partitions]

    def _submit(self, stage: StageBinary, split: int, attempt: int, rdds: dict[int, RDD]) -> cf.Future:
        inputs: dict[Any, Any] = {}
        try:
            self._collect_inputs(stage.rdd, split, inputs, rdds)
        except Exception as e:
            future: cf.Future = cf.Future()
            future.set_exception(e)
            return future
        return self.backend.submit(stage, split, attempt, inputs)

    def _collect_inputs(self, rdd: RDD, split: int, inputs: dict[Any, Any], rdds: dict[int, RDD]) -> None:
        """Gather what the driver must ship for ``rdd``'s partition ``split``."""
        key = (rdd.id, split)
        if key in inputs:
            return
        rdds[rdd.id] = rdd
        if rdd._checkpointed or rdd.is_cached:
            block_id = rdd_block_id(rdd.id, split)
            if self.block_manager.contains(block_id):
                value = self.block_manager.get_for_task(block_id)
                if not (isinstance(value, RemoteBlock) and value.lost()):
                    inputs[key] = value
                    return
                self.block_manager.remove(block_id)    # lost with its executor: computed again
            if rdd._checkpointed:
                inputs[key] = rdd._checkpoint_input(split)
                return
        if isinstance(rdd, ShuffledRDD):
            sid = rdd.shuffle_dep.shuffle_id
            with self._lock:
                outputs = self._shuffles.get(sid)
            if outputs is None or outputs.drop_lost(self.backend) or outputs.missing():
                self._run_map_stage(rdd.shuffle_dep)      # lost for good: run those maps again
                with self._lock:
                    outputs = self._shuffles.get(sid)
            if outputs is None or outputs.missing():
                raise TaskFailedError(f"map outputs of shuffle {sid} are missing for {rdd!r}")
            inputs[shuffle_input_key(sid, split)] = outputs.bucket_inputs(split)
            return
        payload = rdd.driver_input(split)
        if payload is not None:
            inputs[key] = payload
        for parent, parent_split in rdd.narrow_parents(split):
            self._collect_inputs(parent, parent_split, inputs, rdds)

    def _accept(self, result: TaskResult, rdds: dict[int, RDD]) -> Any:
        merge_updates(result.accumulator_updates)
        for (rdd_id, split), values in result.blocks.items():
            rdd = rdds.get(rdd_id)
            if rdd is not None and rdd.is_cached:
                self.block_manager.put(rdd_block_id(rdd_id, split), values, rdd.storage_level)
        return result.value

    def _final_error(self, stage: StageBinary, split: int, attempts: int, error: BaseException) -> BaseException:
        remote = error.__dict__.get("_dstream_traceback", "")
        note = (f"dstream: task {split} of stage {stage.stage_id} failed {attempts} time(s); "
                f"{stage.description}, partition {split}")
        if remote and self.backend.serializes:
            note += "\n--- executor traceback ---\n" + remote.rstrip()
        _add_note(error, note)
        return error


def _add_note(error: BaseException, note: str) -> None:
    if hasattr(error, "add_note"):
        error.add_note(note)
    else:  # Python 3.10
        error.__dict__.setdefault("__notes__", []).append(note)

