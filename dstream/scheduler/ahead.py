"""Map tasks run ahead: a received block's map side, computed as soon as the block is stored.

A batch of a receiver's stream is a ``BlockRDD`` with one partition per block, and the first
stage of most streaming jobs reads it: a shuffle's map stage, which pipes each block through
per-record functions (``flatMap``, ``map``, the map-side combine of ``reduceByKey``) and
writes the shuffle. Every batch builds that stage again from the same functions. So when a
map stage over a stream's blocks runs, the scheduler keeps it as a *template* of that
stream; when the stream's next block is stored, it runs the template's stage on the block
right away, as partition ``k`` (the block's place among the stream's blocks that no batch
has taken yet). At the batch time, the batch's own map stage takes such a task instead of
submitting one when

- its pipeline is the template's: the same functions (``same_code.same_function``: the same
  code over the same captured values) and the same partitioner, over a ``BlockRDD`` of the
  same stream, nothing cached or checkpointed in between;
- the block is partition ``k`` of the batch, as predicted (a block stored while the batch
  was being cut may land in the next batch instead: its task is then not taken).

A task taken is the batch's map task from then on: if it fails, the batch's own task is
retried in its place; its accumulator updates are merged when it is taken, never for a task
left untaken; its outputs are held and lost like any map output. So the batch's map side
runs while its interval fills, and at the batch time only the last block's map task and
the stages after the shuffle are left. Tasks run ahead are background tasks: a running
batch's own tasks go first.

Runs ahead only on backends whose tasks run in other processes (``local[N]``, Dask): in
``local`` the receiver's thread would compute them. The setting
``dstream.streaming.mapAhead.enable`` turns it off. A function's captured values are read
when its task is sent: ahead, that is when the block is stored rather than at the batch time,
which a function that reads driver state changed by the previous batch's output can see.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Hashable

from ..rdd import PipelinedRDD
from ..rdd_kinds import BlockRDD
from .same_code import same_function
from .task import StageBinary, TaskResult

if TYPE_CHECKING:
    from ..block_manager import BlockManager
    from ..dependency import ShuffleDependency
    from ..executors.base import ExecutorBackend
    from ..rdd import RDD

__all__ = ["MapAhead", "blocks_of_map_stage"]

log = logging.getLogger(__name__)

#: a template not matched by this many map stages over its stream in a row is dropped
_STALE_AFTER = 8
#: a stream whose templates on trial failed this many times in a row (its functions change
#: from batch to batch, e.g. they capture the batch time) makes no more of them
_GIVE_UP_AFTER = 2
#: at most this many tasks run ahead wait for their batch per template (a block past them is
#: left to its batch)
_MAX_AHEAD = 256


@dataclass
class _Ahead:
    """A task run ahead on one block: the partition it computed and its future."""

    split: int
    future: Future[TaskResult]


@dataclass
class _Template:
    """A map stage over a stream's blocks, run again on each new block of the stream."""

    stage: StageBinary
    blocks: BlockRDD
    last_match: int
    #: a later batch's stage matched it (until then it is on trial)
    confirmed: bool = False
    runs: OrderedDict[str, _Ahead] = field(default_factory=OrderedDict)


def blocks_of_map_stage(dep: ShuffleDependency[RDD[Any]]) -> BlockRDD | None:
    """The ``BlockRDD`` of a stream under the shuffle's map side, when that map side is one
    pipeline of functions straight over it (what can run ahead), else ``None``.

    >>> from dstream import Context
    >>> with Context("local") as ctx:
    ...     blocks = BlockRDD(ctx, ["input-0-0"], source=0)
    ...     pairs = blocks.map(lambda w: (w, 1)).reduceByKey(lambda a, b: a + b)
    ...     dep = pairs.prev.shuffle_dep          # the shuffle under the reduce side
    ...     blocks_of_map_stage(dep) is blocks
    True
    """
    rdd = dep.rdd
    if type(rdd) is not PipelinedRDD or not rdd._is_pipelinable():
        return None
    blocks = rdd.prev
    if type(blocks) is not BlockRDD or blocks.source is None:
        return None
    if blocks.is_cached or blocks._checkpoint_requested or blocks._checkpointed:
        return None
    return blocks


def _same_stage(template: _Template, dep: ShuffleDependency[RDD[Any]]) -> bool:
    pipeline = template.stage.rdd
    assert isinstance(pipeline, PipelinedRDD)      # templates are made from such stages only
    rdd = dep.rdd
    assert isinstance(rdd, PipelinedRDD)
    return (template.stage.partitioner == dep.partitioner
            and same_function(pipeline.func, rdd.func))


class MapAhead:
    """The templates of each stream and the tasks they run ahead; thread-safe."""

    def __init__(self, backend: ExecutorBackend, block_manager: BlockManager) -> None:
        self._backend = backend
        self._block_manager = block_manager
        self._templates: dict[Hashable, list[_Template]] = {}
        self._stage_runs: dict[Hashable, int] = {}
        self._failed_trials: dict[Hashable, int] = {}
        self._lock = threading.Lock()
        #: tasks run ahead, taken by a batch, and cancelled or left untaken (for tests and logs)
        self.counts = {"run": 0, "taken": 0, "untaken": 0}

    # ------------------------------------------------------------------ the batch side
    def take(self, stage: StageBinary, dep: ShuffleDependency[RDD[Any]],
             splits: list[int]) -> dict[int, Future[TaskResult]]:
        """The tasks run ahead that compute these partitions of the map stage ``stage`` (over
        ``dep``), by partition. A task run ahead on one of the batch's blocks for another
        partition is cancelled.

        A stage that matches no template becomes a template on trial; one not matched in the
        next batch is dropped, and after two such failures in a row the stream makes no more
        (its functions change from batch to batch). A template no stage matched in the last
        eight over its stream is dropped too."""
        blocks = blocks_of_map_stage(dep)
        if blocks is None:
            return {}
        source = blocks.source
        taken: dict[int, Future[TaskResult]] = {}
        dropped: list[_Template] = []
        cancelled: list[_Ahead] = []
        with self._lock:
            count = self._stage_runs[source] = self._stage_runs.get(source, 0) + 1
            templates = self._templates.setdefault(source, [])
            match = next((t for t in templates if _same_stage(t, dep)), None)
            if match is not None:
                if not match.confirmed:
                    # a trial succeeded; later matches leave the count, so that another stage
                    # over the stream, one that changes every batch, still gives up
                    self._failed_trials[source] = 0
                match.last_match, match.confirmed = count, True
                taken, cancelled = self._take_runs(match, blocks, splits)
            for template in list(templates):
                # on trial since an earlier batch and not this stage: it will not be taken
                failed = (match is None and not template.confirmed
                          and template.blocks.block_ids != blocks.block_ids)
                if failed:
                    self._failed_trials[source] = self._failed_trials.get(source, 0) + 1
                if failed or count - template.last_match >= _STALE_AFTER:
                    templates.remove(template)
                    dropped.append(template)
            if match is None and self._failed_trials.get(source, 0) < _GIVE_UP_AFTER:
                templates.append(_Template(stage, blocks, count))
        for run in cancelled:
            run.future.cancel()
        for template in dropped:
            self._drop(template)
        with self._lock:
            self.counts["taken"] += len(taken)
            self.counts["untaken"] += len(cancelled)
        return taken

    @staticmethod
    def _take_runs(template: _Template, blocks: BlockRDD, splits: list[int]
                   ) -> tuple[dict[int, Future[TaskResult]], list[_Ahead]]:
        """The batch's blocks' tasks: taken where the partition is the predicted one."""
        taken: dict[int, Future[TaskResult]] = {}
        cancelled: list[_Ahead] = []
        for split in splits:
            run = template.runs.pop(blocks.block_ids[split], None)
            if run is None:
                continue
            if run.split == split:
                taken[split] = run.future
            else:
                cancelled.append(run)
        return taken, cancelled

    def holds(self, stage_id: int) -> bool:
        """Whether ``stage_id`` is a template's stage (its code must stay on the executors)."""
        with self._lock:
            return any(t.stage.stage_id == stage_id
                       for templates in self._templates.values() for t in templates)

    # ------------------------------------------------------------------ the receiver side
    def block_stored(self, source: Hashable, block_id: str, split: int) -> None:
        """A block of ``source`` was stored; it should be partition ``split`` of the next
        batch. Runs each of the stream's templates on it."""
        with self._lock:
            templates = [t for t in self._templates.get(source, ()) if len(t.runs) < _MAX_AHEAD]
        if not templates:
            return
        try:
            data = self._block_manager.get_for_task(block_id)
        except Exception as e:  # noqa: BLE001 - the batch reads the block itself, or fails
            log.debug("block %s not run ahead: %r", block_id, e)
            return
        for template in templates:
            inputs = {(template.blocks.id, split): data}
            future = self._backend.submit(template.stage, split, 0, inputs, background=True)
            with self._lock:
                template.runs[block_id] = _Ahead(split, future)
                self.counts["run"] += 1
        self._backend.flush()

    def forget_blocks(self, block_ids: list[str]) -> None:
        """These blocks will never be read again: cancel what still runs ahead on them (a
        batch that never reached its map stage, say because an earlier stage failed)."""
        cancelled: list[_Ahead] = []
        with self._lock:
            for templates in self._templates.values():
                for template in templates:
                    cancelled.extend(run for run in (template.runs.pop(b, None) for b in block_ids)
                                     if run is not None)
            self.counts["untaken"] += len(cancelled)
        for run in cancelled:
            run.future.cancel()

    def clear(self) -> None:
        """Forget every template and cancel what runs ahead (the streams stopped)."""
        with self._lock:
            templates = [t for ts in self._templates.values() for t in ts]
            self._templates.clear()
            self._stage_runs.clear()
            self._failed_trials.clear()
        for template in templates:
            self._drop(template)

    def _drop(self, template: _Template) -> None:
        with self._lock:
            runs = list(template.runs.values())
            template.runs.clear()
            self.counts["untaken"] += len(runs)
        for run in runs:
            run.future.cancel()
        self._backend.forget_stage(template.stage.stage_id)

