"""cache/persist/unpersist, checkpoint and localCheckpoint: computed once, lineage cut."""

from __future__ import annotations

import operator
import os
from pathlib import Path

import pytest

from dstream import Context, StorageLevel


def counted(ctx: Context, rdd):
    """``rdd`` with an accumulator that counts the elements computed."""
    seen = ctx.accumulator(0)
    return rdd.map(lambda x: seen.add(1) or x), seen


def test_cache_computes_once(ctx: Context) -> None:
    rdd, seen = counted(ctx, ctx.parallelize(range(10), 3))
    rdd.cache()
    assert rdd.is_cached and rdd.getStorageLevel() == StorageLevel.MEMORY_ONLY
    assert rdd.sum() == 45
    assert rdd.collect() == list(range(10))
    assert rdd.map(lambda x: x * 2).count() == 10
    assert seen.value == 10
    assert "[Memory Serialized 1x Replicated]" in rdd.toDebugString().decode()


def test_cache_after_take_keeps_whole_partitions(ctx: Context) -> None:
    rdd, seen = counted(ctx, ctx.parallelize(range(10), 2))
    rdd.cache()
    assert rdd.take(1) == [0]
    assert rdd.collect() == list(range(10))
    assert rdd.collect() == list(range(10))
    assert seen.value == 10


def test_uncached_rdds_are_recomputed_for_each_action(ctx: Context) -> None:
    rdd, seen = counted(ctx, ctx.parallelize(range(10), 3))
    rdd.count()
    rdd.count()
    assert seen.value == 20          # PySpark: an accumulator counts again on every recompute


def test_unpersist_recomputes(ctx: Context) -> None:
    rdd, seen = counted(ctx, ctx.parallelize(range(6), 2))
    rdd.cache().count()
    rdd.count()
    assert seen.value == 6
    assert rdd.unpersist() is rdd
    assert not rdd.is_cached and rdd.getStorageLevel() == StorageLevel.NONE
    rdd.count()
    assert seen.value == 12
    assert not any(b.startswith(f"rdd_{rdd.id}_") for b in ctx._block_manager.block_ids())


@pytest.mark.parametrize("level", [StorageLevel.MEMORY_ONLY, StorageLevel.MEMORY_AND_DISK,
                                   StorageLevel.DISK_ONLY, StorageLevel.MEMORY_AND_DISK_2])
def test_persist_levels(ctx: Context, level: StorageLevel) -> None:
    rdd, seen = counted(ctx, ctx.parallelize([("a", 1), ("b", 2), ("a", 3)], 2))
    rdd.persist(level)
    assert rdd.getStorageLevel() == level
    assert sorted(rdd.reduceByKey(operator.add).collect()) == [("a", 4), ("b", 2)]
    assert rdd.collect() == [("a", 1), ("b", 2), ("a", 3)]
    assert seen.value == 3
    rdd.unpersist()


def test_persist_cannot_change_level(ctx: Context) -> None:
    rdd = ctx.parallelize([1]).map(str).persist(StorageLevel.DISK_ONLY)
    assert rdd.persist(StorageLevel.DISK_ONLY) is rdd
    with pytest.raises(ValueError, match="already persisted"):
        rdd.persist(StorageLevel.MEMORY_ONLY)
    rdd.unpersist()
    rdd.cache()


def test_cached_shuffle_output_skips_the_map_stage(ctx: Context) -> None:
    source, seen = counted(ctx, ctx.parallelize([(i % 3, i) for i in range(9)], 3))
    reduced = source.reduceByKey(operator.add).cache()
    assert sorted(reduced.collect()) == [(0, 9), (1, 12), (2, 15)]
    assert sorted(reduced.mapValues(lambda v: -v).collect()) == [(0, -9), (1, -12), (2, -15)]
    assert seen.value == 9


def test_checkpoint_truncates_lineage(ctx: Context, tmp_path: Path) -> None:
    ctx.setCheckpointDir(str(tmp_path / "ckpt"))
    assert ctx.getCheckpointDir() == str(tmp_path / "ckpt")
    source, seen = counted(ctx, ctx.parallelize([(i % 4, i) for i in range(20)], 3))
    rdd = source.reduceByKey(operator.add).mapValues(lambda v: v * 10)
    rdd.checkpoint()
    assert not rdd.isCheckpointed() and rdd.deps
    expected = sorted((k, 10 * sum(i for i in range(20) if i % 4 == k)) for k in range(4))
    assert sorted(rdd.collect()) == expected
    assert rdd.isCheckpointed() and not rdd.isLocallyCheckpointed()
    assert rdd.deps == []
    assert "+-" not in rdd.toDebugString().decode()
    assert "(checkpointed)" in rdd.toDebugString().decode()
    files = sorted(os.listdir(rdd.getCheckpointFile()))
    assert files == [f"part-{i:05d}" for i in range(rdd.getNumPartitions())]
    counted_so_far = seen.value
    assert sorted(rdd.collect()) == expected
    assert sorted(rdd.map(lambda kv: kv[1]).collect()) == sorted(v for _, v in expected)
    assert seen.value == counted_so_far             # read back from the files, not recomputed


def test_checkpoint_of_two_rdds(ctx: Context, tmp_path: Path) -> None:
    ctx.setCheckpointDir(str(tmp_path / "ckpt2"))
    a = ctx.parallelize(range(5), 2).map(lambda x: x + 1)
    b = ctx.parallelize(range(5), 2).map(lambda x: x * 2)
    a.checkpoint()
    b.checkpoint()
    assert a.count() == 5
    assert a.isCheckpointed() and not b.isCheckpointed()
    assert b.collect() == [0, 2, 4, 6, 8]
    assert b.isCheckpointed() and b.deps == []
    assert ctx._pending_checkpoints == 0


def test_checkpoint_of_parent_and_child_in_one_job(ctx: Context, tmp_path: Path) -> None:
    ctx.setCheckpointDir(str(tmp_path / "ckpt3"))
    parent = ctx.parallelize(range(6), 2).map(lambda x: (x % 2, x))
    parent.checkpoint()
    child = parent.groupByKey().mapValues(sorted)
    child.checkpoint()
    assert sorted(child.collect()) == [(0, [0, 2, 4]), (1, [1, 3, 5])]
    assert parent.isCheckpointed() and child.isCheckpointed()
    assert parent.deps == [] and child.deps == []
    assert sorted(child.collect()) == [(0, [0, 2, 4]), (1, [1, 3, 5])]


def test_local_checkpoint(ctx: Context) -> None:
    source, seen = counted(ctx, ctx.parallelize(range(8), 2))
    rdd = source.map(lambda x: (x % 2, x)).groupByKey().mapValues(sum)
    rdd.localCheckpoint()
    assert sorted(rdd.collect()) == [(0, 12), (1, 16)]
    assert rdd.isCheckpointed() and rdd.isLocallyCheckpointed()
    assert rdd.deps == [] and rdd.getCheckpointFile() is None
    counted_so_far = seen.value
    assert sorted(rdd.collect()) == [(0, 12), (1, 16)]
    assert rdd.values().sum() == 28
    assert seen.value == counted_so_far


def test_checkpoint_of_a_cached_rdd(ctx: Context, tmp_path: Path) -> None:
    ctx.setCheckpointDir(str(tmp_path / "ckpt4"))
    rdd, seen = counted(ctx, ctx.parallelize(range(4), 2))
    rdd.cache()
    rdd.checkpoint()
    assert rdd.collect() == [0, 1, 2, 3]
    assert rdd.isCheckpointed() and rdd.collect() == [0, 1, 2, 3]
    assert seen.value == 4

