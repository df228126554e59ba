"""The block manager: memory budget, spilling to disk, eviction, and cached RDDs under it.

Contexts here are made per test with a tiny memory budget (this module does not use ``ctx``).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from dstream import Conf, Context, StorageLevel
from dstream.block_manager import BlockManager, BlockNotFoundError
from dstream.executors.dask_blocks import DaskBlock
from dstream.taskcontext import Serialized


def test_put_get_remove(tmp_path: Path) -> None:
    bm = BlockManager(str(tmp_path / "spill"), memory_budget=1 << 20)
    bm.put("rdd_1_0", [1, 2, 3])
    bm.put("rdd_1_1", Serialized(pickle.dumps(["x"])))
    bm.put("rdd_2_0", [4], StorageLevel.DISK_ONLY)
    assert bm.get_values("rdd_1_0") == [1, 2, 3]
    assert bm.get_values("rdd_1_1") == ["x"]
    assert bm.get_values("rdd_2_0") == [4]
    assert isinstance(bm.get_for_task("rdd_2_0"), Serialized)
    assert os.listdir(tmp_path / "spill") == ["rdd_2_0"]
    bm.remove_rdd(1)
    assert bm.block_ids() == ["rdd_2_0"]
    bm.clear()
    assert bm.block_ids() == [] and os.listdir(tmp_path / "spill") == [] and bm.memory_used == 0
    with pytest.raises(BlockNotFoundError, match="rdd_9_9"):
        bm.get_for_task("rdd_9_9")


def test_over_budget_memory_only_blocks_are_dropped_and_others_spilled(tmp_path: Path) -> None:
    bm = BlockManager(str(tmp_path / "spill"), memory_budget=4000)
    bm.put("rdd_1_0", list(range(200)), StorageLevel.MEMORY_ONLY)
    bm.put("rdd_1_1", list(range(200)), StorageLevel.MEMORY_AND_DISK)
    bm.put("rdd_1_2", list(range(200)), StorageLevel.MEMORY_AND_DISK)
    assert bm.memory_used <= 4000
    assert not bm.contains("rdd_1_0")                     # recomputed from lineage when needed
    assert bm.get_values("rdd_1_1") == list(range(200))  # read back from disk
    assert bm.get_values("rdd_1_2") == list(range(200))


def test_replicated_level_keeps_a_disk_copy(tmp_path: Path) -> None:
    bm = BlockManager(str(tmp_path / "spill"), memory_budget=1 << 20)
    bm.put("input-0", ["a"], StorageLevel.MEMORY_AND_DISK_2)
    assert os.listdir(tmp_path / "spill") == ["input-0"]
    assert bm.get_values("input-0") == ["a"]


def test_the_driver_s_copy_of_an_executors_block_counts_and_leaves_memory_first(
        tmp_path: Path) -> None:
    """A block the executors hold may come with the driver's own replica (Dask's): counted in
    memory; over budget or released, it goes to disk (levels with disk) or stays; released
    with the write-ahead log, it is read back from there."""
    spill = tmp_path / "spill"
    bm = BlockManager(str(spill), memory_budget=350)
    first, second, third, logged = (DaskBlock(f"input-0-{i}", [], 1, None, kept=bytes([i]) * 100)
                                    for i in range(4))
    bm.put("input-0-0", first, StorageLevel.MEMORY_AND_DISK_2)
    bm.put("input-0-1", second, StorageLevel.MEMORY_AND_DISK_2)
    bm.put("input-0-2", third, StorageLevel.MEMORY_ONLY_2)
    assert bm.memory_used == 300 and not spill.exists()
    bm.put("input-0-3", logged, StorageLevel.MEMORY_AND_DISK_2)      # over budget
    assert first.kept is None and os.listdir(spill) == ["input-0-0"]  # least recently used
    assert bm.memory_used == 300 and bm.get_for_task("input-0-0") is first
    assert first.copy_source() == (bytes([0]) * 100, "the driver's copy, read back")
    assert not bm.release("input-0-0")                  # nothing left in memory
    assert not bm.release("input-0-2") and third.kept   # no disk, no log: the copy stays
    assert bm.release("input-0-1") and second.kept is None
    assert sorted(os.listdir(spill)) == ["input-0-0", "input-0-1"]
    assert bm.release("input-0-3", reread=lambda: Serialized(b"from the log"))
    assert logged.copy_source() == (b"from the log", "the driver's copy, read back")
    assert bm.released_blocks == 2 and bm.memory_used == 100
    bm.clear()
    assert bm.memory_used == 0 and os.listdir(spill) == [] and first.released


@pytest.mark.parametrize("master", ["local", "local[2]"])
@pytest.mark.parametrize("level", [StorageLevel.MEMORY_ONLY, StorageLevel.MEMORY_AND_DISK,
                                   StorageLevel.DISK_ONLY])
def test_cached_rdd_over_a_small_budget_stays_correct(master: str, level: StorageLevel) -> None:
    conf = Conf().set("dstream.storage.memoryBudgetBytes", 20_000)
    with Context(master, "budget", conf=conf) as ctx:
        seen = ctx.accumulator(0)
        rdd = ctx.parallelize(range(10_000), 8).map(lambda x: seen.add(1) or x).persist(level)
        assert rdd.sum() == sum(range(10_000))
        assert rdd.map(lambda x: -x).sum() == -sum(range(10_000))
        assert ctx._block_manager.memory_used <= 20_000
        if level.useDisk:
            assert seen.value == 10_000            # spilled partitions are read back, not recomputed
        else:
            assert 10_000 <= seen.value <= 20_000  # dropped partitions are recomputed
        rdd.unpersist()
        assert ctx._block_manager.block_ids() == []
