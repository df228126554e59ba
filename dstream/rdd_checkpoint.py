"""Checkpointing RDDs: save the partitions, then cut the lineage there.

``rdd.checkpoint()`` writes pickled partitions under the context's checkpoint directory;
``rdd.localCheckpoint()`` keeps them in the block manager. Either way the RDD forgets its
parents, so a long chain of batches does not keep a long lineage alive.
"""

from __future__ import annotations

import os
import pickle
from typing import TYPE_CHECKING, Any, Iterator

from .block_manager import rdd_block_id
from .storagelevel import StorageLevel
from .taskcontext import FileInput

if TYPE_CHECKING:
    from .rdd import RDD

__all__ = ["checkpoint_requested_in", "materialize_checkpoint", "truncate_to"]


def checkpoint_requested_in(rdd: RDD[Any]) -> list[RDD[Any]]:
    """RDDs in ``rdd``'s lineage that asked to be checkpointed and are not yet, parents first."""
    found: list[RDD[Any]] = []
    seen: set[int] = set()

    def visit(node: RDD[Any]) -> None:
        if node.id in seen or node._checkpointed:
            return
        seen.add(node.id)
        for dep in node.deps:
            if dep.rdd is not None:
                visit(dep.rdd)
        if node._checkpoint_requested:
            found.append(node)

    visit(rdd)
    return found


def materialize_checkpoint(rdd: RDD[Any]) -> None:
    """Save ``rdd``'s partitions and truncate its lineage."""
    ctx = rdd.ctx
    if rdd._checkpoint_requested == "reliable":
        assert ctx._checkpoint_dir is not None   # RDD.checkpoint() refuses to ask without it
        directory = os.path.join(ctx._checkpoint_dir, f"rdd-{rdd.id}")
        os.makedirs(directory, exist_ok=True)
        paths = ctx._run_job(rdd, lambda split, it: _write_partition(directory, split, it))
        rdd._checkpoint_inputs = [FileInput(p) for p in paths]
    else:
        for split, values in enumerate(ctx._run_job(rdd, lambda _, it: list(it))):
            ctx._block_manager.put(rdd_block_id(rdd.id, split), values, StorageLevel.MEMORY_AND_DISK)
        rdd._checkpoint_inputs = None
    rdd._checkpointed = True
    rdd.deps = []
    rdd._drop_parent_references()


def _write_partition(directory: str, split: int, it: Iterator[Any]) -> str:
    path = os.path.join(directory, f"part-{split:05d}")
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        pickle.dump(list(it), f, protocol=5)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def truncate_to(rdd: RDD[Any], partitions: list[Any]) -> None:
    """Cut ``rdd``'s lineage: from now on its partitions are ``partitions`` (lists of records
    or their pickled form), held by the driver (streaming data checkpoints use this)."""
    if len(partitions) != rdd.getNumPartitions():
        raise ValueError(f"{rdd!r} has {rdd.getNumPartitions()} partitions, got {len(partitions)}")
    rdd._checkpoint_inputs = list(partitions)
    rdd._checkpoint_requested = rdd._checkpoint_requested or "local"
    rdd._checkpointed = True
    rdd.deps = []
    rdd._drop_parent_references()
