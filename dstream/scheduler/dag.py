"""Jobs into stages, stages into tasks, tasks onto the executor backend.

A job's final RDD is walked up its narrow dependencies; each shuffle dependency met there
is a map stage that must have run first. Shuffle outputs are kept per map task, so a lost
partition needs only its own map tasks again (outputs that the backend reports lost for good
are made again before a task that reads them is submitted); cached partitions and
checkpoints cut the walk short.

When the backend hands out a map task's outputs as soon as the task is submitted
(``ExecutorBackend.pending_outputs``: on Dask, futures of its buckets), a job's stages are
submitted one after the other without waiting: the reduce tasks take those outputs as
dependencies and the backend runs the whole job as one graph (``flush``, called before the
scheduler first waits for a task, sends it in one go). The map stages are then
*settled* (their results accepted, accumulator updates merged, failed tasks retried) after
the stage that reads them; a task that failed because a map task it reads failed is submitted
again, not counted as a failure of its own.

A map stage over a receiver's blocks may have tasks that ran ahead (``ahead``: as each
block was stored, before the batch was cut); the stage takes them instead of submitting its
own.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import itertools
import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterator, TypeVar

from ..accumulators import merge_updates
from ..block_manager import BlockManager, RemoteBlock, rdd_block_id
from ..errors import TaskFailedError
from ..rdd import ShuffledRDD, shuffle_input_key
from .ahead import MapAhead
from .task import StageBinary, TaskResult

if TYPE_CHECKING:
    from ..dependency import ShuffleDependency
    from ..executors.base import ExecutorBackend
    from ..rdd import RDD

__all__ = ["DAGScheduler"]

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


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

    def any_lost(self, backend: ExecutorBackend) -> bool:
        return any(out is not None and backend.outputs_lost(out) for out in self.outputs)

    def bucket_inputs(self, reduce_split: int) -> list[Any]:
        return [out[reduce_split] for out in self.outputs if out is not None]


class _StageRun:
    """One stage's submitted tasks: futures, failures per partition, results."""

    def __init__(self, stage: StageBinary, partitions: list[int]) -> None:
        self.stage = stage
        self.partitions = partitions
        self.futures: dict[cf.Future[TaskResult], tuple[int, int]] = {}  # -> (split, job epoch)
        self.failures: dict[int, int] = {}
        self.results: dict[int, Any] = {}
        self.rdds: dict[int, RDD[Any]] = {}
        self.settled = False


class _Job:
    """The map stages of one job that run ahead, submitted but not yet settled, in the order
    they were submitted. ``epoch`` counts the settled ones that had a failed task: a task
    submitted before then may have failed only because its input did."""

    def __init__(self) -> None:
        self.ahead: list[tuple[ShuffleDependency[RDD[Any]], _StageRun]] = []
        self.epoch = 0


class DAGScheduler:
    """Runs jobs on one executor backend; thread-safe, so several jobs can run at once."""

    def __init__(self, backend: ExecutorBackend, block_manager: BlockManager, max_failures: int = 4) -> None:
        self.backend = backend
        self.block_manager = block_manager
        self.max_failures = max(1, max_failures)
        self._stage_ids = itertools.count()
        self._shuffles: dict[int, _MapOutputs] = {}
        #: shuffles whose dependency was collected, dropped from ``_shuffles`` under the lock
        self._forgotten: collections.deque[int] = collections.deque()
        self._lock = threading.Lock()
        #: map tasks run ahead on received blocks (tasks in other processes only: in the
        #: driver's process the receiver's thread would compute them)
        self._ahead = MapAhead(backend, block_manager) if backend.serializes else None

    # ------------------------------------------------------------------ map tasks ahead
    def block_stored(self, source: Hashable, block_id: str, split: int) -> None:
        """A received block of stream ``source`` was stored and should be partition ``split``
        of the stream's next batch: run its map side now (``scheduler.ahead``), when a map
        stage over the stream's blocks ran before."""
        if self._ahead is not None:
            self._ahead.block_stored(source, block_id, split)

    def blocks_forgotten(self, block_ids: list[str]) -> None:
        """Received blocks that no RDD will read again: nothing runs ahead on them any more."""
        if self._ahead is not None:
            self._ahead.forget_blocks(block_ids)

    def stop_running_ahead(self) -> None:
        """Forget the map stages kept to run ahead, and cancel their tasks (streams stopped)."""
        if self._ahead is not None:
            self._ahead.clear()

    # ------------------------------------------------------------------ jobs
    def run_job(self, rdd: RDD[T], func: Callable[[int, Iterator[T]], R],
                partitions: list[int] | None = None) -> list[R]:
        """``func(split, iterator)`` over the given partitions of ``rdd``, results in order."""
        if partitions is None:
            partitions = list(range(rdd.getNumPartitions()))
        for split in partitions:
            if not 0 <= split < rdd.getNumPartitions():
                raise ValueError(f"partition {split} does not exist in {rdd!r} "
                                 f"({rdd.getNumPartitions()} partitions)")
        if not partitions:
            return []
        job = _Job()
        try:
            for dep in self._shuffle_parents(rdd, partitions):
                self._run_map_stage(dep, job)
            stage = StageBinary(next(self._stage_ids), "result", rdd, func, None,
                                f"{getattr(func, '__name__', 'func')} on {rdd!r}")
            results = self._run_stage(stage, partitions, job)
        except BaseException:
            self._settle_quietly(job)
            raise
        self._settle_ahead(job, len(job.ahead))
        return results

    def _shuffle_parents(self, rdd: RDD[Any], partitions: list[int]) -> list[ShuffleDependency[RDD[Any]]]:
        """Shuffle dependencies reachable from the partitions through narrow edges, each once."""
        found: dict[int, ShuffleDependency[RDD[Any]]] = {}
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

    def _run_map_stage(self, dep: ShuffleDependency[RDD[Any]], job: _Job) -> None:
        parent = dep.rdd
        with self._lock:
            self._drop_forgotten()
            outputs = self._shuffles.get(dep.shuffle_id)
            if outputs is None:
                outputs = self._shuffles[dep.shuffle_id] = _MapOutputs(parent.getNumPartitions())
                weakref.finalize(dep, self._forget_shuffle, dep.shuffle_id)
        missing = outputs.missing()
        if not missing:
            return
        for grandparent in self._shuffle_parents(parent, missing):
            self._run_map_stage(grandparent, job)
        stage = StageBinary(next(self._stage_ids), "shuffle", parent, None, dep.partitioner,
                            f"shuffle {dep.shuffle_id} of {parent!r}")
        taken = self._ahead.take(stage, dep, missing) if self._ahead is not None else {}
        run = self._launch(stage, missing, job, taken)
        ahead = {split: self.backend.pending_outputs(f) for f, (split, _) in run.futures.items()}
        if all(handles is not None for handles in ahead.values()):
            for split, handles in ahead.items():      # later stages read them before they exist
                outputs.outputs[split] = handles
            job.ahead.append((dep, run))
            return
        self._record_outputs(outputs, run, self._finish(run, job))

    def _record_outputs(self, outputs: _MapOutputs, run: _StageRun, results: list[Any]) -> None:
        for split, buckets in zip(run.partitions, results):
            outputs.outputs[split] = buckets

    def _settle_ahead(self, job: _Job, count: int) -> None:
        """Settle the first ``count`` map stages that run ahead (in the order submitted)."""
        for dep, run in list(job.ahead[:count]):
            if run.settled:
                continue
            results = self._finish(run, job)
            with self._lock:
                outputs = self._shuffles.get(dep.shuffle_id)
            if outputs is not None:
                self._record_outputs(outputs, run, results)
            if run.failures:
                job.epoch += 1

    def _settle_quietly(self, job: _Job) -> None:
        """After a failed job: accept what the map stages ahead did (their outputs stay
        registered); their own failures are logged, the job's error is the one raised."""
        try:
            self._settle_ahead(job, len(job.ahead))
        except Exception as e:  # noqa: BLE001 - the job's own error is already on its way
            log.info("a map stage of a failed job failed too: %r", e)

    def _forget_shuffle(self, shuffle_id: int) -> None:
        # A weakref finalizer: the garbage collector runs it at any allocation, in whichever
        # thread allocates, possibly one that holds self._lock (taking the lock here deadlocked
        # such a thread). So it only notes the id; holders of the lock drop the outputs.
        self._forgotten.append(shuffle_id)

    def _drop_forgotten(self) -> None:
        """With ``self._lock`` held: drop the map outputs of collected shuffles."""
        while self._forgotten:
            self._shuffles.pop(self._forgotten.popleft(), None)

    def has_map_outputs(self, shuffle_id: int) -> bool:
        """Whether every map output of the shuffle is held (a read of it runs no map task)."""
        with self._lock:
            self._drop_forgotten()
            outputs = self._shuffles.get(shuffle_id)
            return outputs is not None and not outputs.missing()

    def shuffle_count(self) -> int:
        """How many shuffles' map outputs are held (for memory checks)."""
        with self._lock:
            self._drop_forgotten()
            return len(self._shuffles)

    # ------------------------------------------------------------------ stages
    def _run_stage(self, stage: StageBinary, partitions: list[int], job: _Job) -> list[Any]:
        return self._finish(self._launch(stage, partitions, job), job)

    def _launch(self, stage: StageBinary, partitions: list[int], job: _Job,
                taken: dict[int, cf.Future[TaskResult]] | None = None) -> _StageRun:
        """Submit the stage's tasks; ``taken``: tasks that already run (ahead), by partition."""
        run = _StageRun(stage, partitions)
        for split in partitions:
            if taken and split in taken:
                run.futures[taken[split]] = (split, job.epoch)
            else:
                self._resubmit(run, split, job)
        return run

    def _resubmit(self, run: _StageRun, split: int, job: _Job) -> None:
        attempt = run.failures.get(split, 0)
        run.futures[self._submit(run.stage, split, attempt, run.rdds, job)] = (split, job.epoch)

    def _finish(self, run: _StageRun, job: _Job) -> list[Any]:
        """Wait for the stage's tasks, retrying failed ones; the results in partition order."""
        stage = run.stage
        # the map stages ahead that were submitted before this stage: what it may read
        upstream = next((i for i, (_, r) in enumerate(job.ahead) if r is run), len(job.ahead))
        try:
            while run.futures:
                self.backend.flush()      # what this job submitted goes out now, in one graph
                done, _ = cf.wait(run.futures, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    split, epoch = run.futures.pop(future)
                    error = future.exception()
                    if error is None:
                        run.results[split] = self._accept(future.result(), run.rdds)
                        continue
                    self._settle_ahead(job, upstream)
                    if job.epoch != epoch:   # an input of this task failed: not its own failure
                        self._resubmit(run, split, job)
                        continue
                    run.failures[split] = run.failures.get(split, 0) + 1
                    if run.failures[split] >= self.max_failures:
                        raise self._final_error(stage, split, run.failures[split], error)
                    log.warning("task %d of stage %d (%s) failed (attempt %d of %d), retrying: %r",
                                split, stage.stage_id, stage.description, run.failures[split],
                                self.max_failures, error)
                    self._resubmit(run, split, job)
        finally:
            run.settled = True
            for future in run.futures:
                future.cancel()
            if self._ahead is None or not self._ahead.holds(stage.stage_id):
                self.backend.forget_stage(stage.stage_id)
        return [run.results[s] for s in run.partitions]

    def _submit(self, stage: StageBinary, split: int, attempt: int, rdds: dict[int, RDD[Any]],
                job: _Job) -> cf.Future[TaskResult]:
        inputs: dict[Any, Any] = {}
        try:
            self._collect_inputs(stage.rdd, split, inputs, rdds, job)
        except Exception as e:
            future: cf.Future[TaskResult] = cf.Future()
            future.set_exception(e)
            return future
        return self.backend.submit(stage, split, attempt, inputs)

    def _collect_inputs(self, rdd: RDD[Any], split: int, inputs: dict[Any, Any],
                        rdds: dict[int, RDD[Any]], job: _Job) -> None:
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
            if outputs is not None and outputs.any_lost(self.backend):
                self._settle_shuffle(job, sid)            # a map stage ahead retries its own
            if outputs is None or outputs.drop_lost(self.backend) or outputs.missing():
                self._run_map_stage(rdd.shuffle_dep, job)  # lost for good: run those maps again
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
            self._collect_inputs(parent, parent_split, inputs, rdds, job)

    def _settle_shuffle(self, job: _Job, shuffle_id: int) -> None:
        """Settle the map stages ahead up to the one of ``shuffle_id`` (if it runs ahead)."""
        for i, (dep, run) in enumerate(job.ahead):
            if dep.shuffle_id == shuffle_id and not run.settled:
                self._settle_ahead(job, i + 1)
                return

    def _accept(self, result: TaskResult, rdds: dict[int, RDD[Any]]) -> Any:
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

