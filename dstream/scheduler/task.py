"""What runs on an executor: one task computes one partition of a stage.

>>> from dstream import Context
>>> with Context("local") as ctx:
...     rdd = ctx.parallelize([1, 2, 3], 1)
...     stage = StageBinary(0, "result", rdd, lambda split, it: sum(it), None, "sum")
...     run_task(stage, 0, 0, {(rdd.id, 0): [1, 2, 3]}, serialize=False).value
6
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Literal

from ..hashing import BUILTIN_HASH_IS_PORTABLE, portable_hash
from ..partitioner import HashPartitioner, Partitioner, no_partition_error
from ..taskcontext import Serialized, TaskContext

if TYPE_CHECKING:
    from ..rdd import RDD

__all__ = ["StageBinary", "TaskResult", "run_task", "write_shuffle"]


@dataclass
class StageBinary:
    """The code of a stage: its last RDD (with the narrow lineage above it) and what to do
    with each partition: apply ``func`` (result stage) or cut it by ``partitioner`` (map stage)."""

    stage_id: int
    kind: Literal["result", "shuffle"]
    rdd: RDD[Any]
    func: Callable[[int, Iterator[Any]], Any] | None      # of a result stage
    partitioner: Partitioner | None                       # of a map (shuffle) stage
    description: str


@dataclass
class TaskResult:
    value: Any
    blocks: dict[tuple[int, int], Any] = field(default_factory=dict)
    accumulator_updates: dict[int, Any] = field(default_factory=dict)


def run_task(stage: StageBinary, split: int, attempt: int, inputs: dict[Any, Any],
             serialize: bool) -> TaskResult:
    """Compute partition ``split`` of ``stage`` from ``inputs``."""
    with TaskContext(stage.stage_id, split, attempt, inputs, serialize) as task:
        records = stage.rdd.iterator(split, task)
        if stage.kind == "result":
            assert stage.func is not None   # a result stage has a function
            value = stage.func(split, records)
        else:
            assert stage.partitioner is not None   # a map stage has a partitioner
            # Always pickled, even in the driver's thread: map outputs are kept and read again
            # by later jobs and retried tasks, and a reduce-side merge (groupByKey's extend, a
            # user's in-place mergeCombiners) mutates what it reads.
            value = write_shuffle(records, stage.partitioner, serialize=True)
    return TaskResult(value, task.new_blocks, task.accumulator_updates)


def write_shuffle(records: Iterator[tuple[Any, Any]], partitioner: Partitioner,
                  serialize: bool) -> list[Any]:
    """Cut ``(key, value)`` records into one bucket per reduce partition."""
    n = partitioner.numPartitions
    if n == 0:
        for kv in records:     # an RDD without reduce partitions: only an empty input fits
            raise no_partition_error(partitioner, kv[0] if _is_pair(kv) else kv)
        buckets: list[list[tuple[Any, Any]]] = []
    elif n == 1:
        buckets = [list(records)]
    else:
        buckets = [[] for _ in range(n)]
        appends = [b.append for b in buckets]
        part = partitioner
        try:
            if _builtin_hash_partitions(partitioner):
                # portable_hash(k) is hash(k) for str and int keys here: no calls per record
                for kv in records:
                    k = kv[0]
                    if type(k) is str or type(k) is int:
                        appends[hash(k) % n](kv)
                    else:
                        appends[part(k)](kv)
            else:
                for kv in records:
                    appends[part(kv[0])](kv)
        except (TypeError, IndexError) as e:
            if "kv" in locals() and not _is_pair(kv):
                raise TypeError(f"a shuffle needs (key, value) pairs, got {type(kv).__name__}: "
                                f"{kv!r:.200}") from e
            raise
    if serialize:
        return [Serialized(pickle.dumps(b, protocol=5)) for b in buckets]
    return buckets


def _builtin_hash_partitions(partitioner: Partitioner) -> bool:
    """Whether ``partitioner(k)`` is ``hash(k) % n`` for str and int keys in this process."""
    return (BUILTIN_HASH_IS_PORTABLE and type(partitioner) in (Partitioner, HashPartitioner)
            and partitioner.partitionFunc is portable_hash)


def _is_pair(x: Any) -> bool:
    return isinstance(x, (tuple, list)) and len(x) == 2
