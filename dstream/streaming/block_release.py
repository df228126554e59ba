"""Releasing a batch's received blocks once nothing will read them again.

A batch's blocks are read by that batch's jobs. After them, a later batch reaches them only
through a stream that reads remembered RDDs: one that reads its parent's earlier batches (a
window: its parents remember longer than it does) or its own earlier results (a stateful
stream). It reaches them only through narrow lineage: a shuffle whose map outputs are all
held, a persisted RDD whose partitions are all cached, or a checkpointed RDD ends the walk.
With an inverse function a window reads each batch's ``reduceByKey`` output (a shuffle), so
the raw blocks are free as soon as their batch is done; a window without one reads the
parent's cached RDDs. A window sliding more than one batch reads batches it has not made RDDs
for yet: those batches' blocks stay. Blocks of a succeeded batch that no such lineage reaches are released
(``BlockManager.release``): the memory copy goes (the disk copy of a ``_2`` or disk level
stays), and when the block is in the write-ahead log the disk copy goes too. Should a block be
read after all (a cached partition evicted, map outputs lost with a worker), it comes from
that disk copy or the log, and ``BlockManager.reads_after_release`` counts it. With
``ssc.remember`` set nothing is released early (a ``slice`` may read any remembered batch).

>>> from dstream import Context
>>> with Context("local") as ctx:
...     raw = BlockRDD(ctx, ["input-0-0", "input-0-1"])
...     reduced = raw.map(lambda w: (w, 1)).reduceByKey(lambda a, b: a + b)
...     sorted(lineage_blocks([reduced.map(str)], ctx._scheduler, ctx._block_manager))
['input-0-0', 'input-0-1']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..block_manager import rdd_block_id
from ..rdd import RDD, ShuffledRDD
from ..rdd_kinds import BlockRDD
from .stream_node import StreamNode

if TYPE_CHECKING:
    from ..block_manager import BlockManager
    from ..scheduler.dag import DAGScheduler

__all__ = ["lineage_blocks", "remembered_rdds", "unmade_times"]


def _reads_parents_history(stream: StreamNode) -> bool:
    wanted, own = stream._parent_remember_ms(), stream.remember_ms
    return wanted is not None and own is not None and wanted > own


def remembered_rdds(streams: Iterable[StreamNode]) -> list[RDD[Any]]:
    """The RDDs later batches may read again: the remembered ones of every stream a window
    (or other history reader) reads, and of every stream that reads its own earlier results."""
    rdds: list[RDD[Any]] = []
    for stream in streams:
        sources = list(stream.parents) if _reads_parents_history(stream) else []
        if stream.must_checkpoint:
            sources.append(stream)
        for source in sources:
            with source._lock:
                rdds.extend(source.generated.values())
    return rdds


def unmade_times(streams: Iterable[StreamNode], times: Iterable[int]) -> set[int]:
    """Those of ``times`` at which a stream read by a window has no RDD yet (the window slides
    over more than one batch and will make it later, from that batch's blocks).

    >>> from dstream import Context, StreamingContext
    >>> with Context("local") as ctx:
    ...     ssc = StreamingContext(ctx, 1, clock="manual")
    ...     numbers = ssc.queueStream([[1], [2]])
    ...     numbers.window(4, 2).count().foreachRDD(lambda rdd: None)
    ...     numbers.generated[1000] = ctx.parallelize([1])     # as batch 1 s would
    ...     ssc._graph.start(0)
    ...     sorted(unmade_times(ssc._graph.all_streams(), [1000, 2000]))
    [2000]
    """
    times = list(times)
    unmade: set[int] = set()
    for stream in streams:
        if not _reads_parents_history(stream):
            continue
        for parent in stream.parents:
            with parent._lock:
                unmade.update(t for t in times if t not in parent.generated and parent._is_time_valid(t))
    return unmade


def lineage_blocks(rdds: Iterable[RDD[Any]], scheduler: DAGScheduler, block_manager: BlockManager) -> set[str]:
    """Received block ids that computing ``rdds`` would read now: their narrow lineage down to
    the ``BlockRDD``s, stopping at checkpointed RDDs, fully cached ones and shuffles whose map
    outputs are all held."""
    found: set[str] = set()
    seen: set[int] = set()
    stack = list(rdds)
    while stack:
        rdd = stack.pop()
        if rdd.id in seen:
            continue
        seen.add(rdd.id)
        if rdd._checkpointed or _fully_cached(rdd, block_manager):
            continue
        if isinstance(rdd, BlockRDD):
            found.update(rdd.block_ids)
        elif isinstance(rdd, ShuffledRDD) and scheduler.has_map_outputs(rdd.shuffle_dep.shuffle_id):
            continue
        else:
            stack.extend(dep.rdd for dep in rdd.deps)
    return found


def _fully_cached(rdd: RDD[Any], block_manager: BlockManager) -> bool:
    return rdd.is_cached and all(block_manager.contains(rdd_block_id(rdd.id, split))
                                 for split in range(rdd.getNumPartitions()))
