"""The batch core on a real Dask LocalCluster, against plain-Python references.

Each test runs its job on ``dask-local[2]`` (two worker processes) and compares with what
plain Python computes. Shuffle outputs must stay on the workers: the scheduler holds Dask
futures for them, never the buckets themselves.
"""

from __future__ import annotations

import operator
import os
from collections import Counter
from pathlib import Path

import pytest
from distributed import Future as DaskFuture
from distributed import LocalCluster

from dstream import Context, StorageLevel, TaskContext
from dstream.block_manager import BlockManager
from dstream.executors import create_backend
from dstream.executors.dask_graph import DaskTask
from dstream.hashing import portable_hash
from dstream.scheduler import DAGScheduler
from dstream.scheduler.task import StageBinary

WORDS = ("the quick brown fox jumps over the lazy dog and the dog sleeps " * 7).split()


class UserError(Exception):
    """A user's own exception type, importable by the workers."""


def test_context_shape(ctx: Context) -> None:
    assert ctx.master == "dask-local[2]"
    assert ctx.defaultParallelism == 2
    assert ctx._backend.parallelism == 2
    assert len(ctx._backend.worker_pids()) == 2


def test_narrow_transformations(ctx: Context) -> None:
    data = list(range(100))
    rdd = ctx.parallelize(data, 4)
    assert rdd.map(lambda x: x * 3).collect() == [x * 3 for x in data]
    assert rdd.filter(lambda x: x % 7 == 0).collect() == [x for x in data if x % 7 == 0]
    assert rdd.flatMap(lambda x: [x] * (x % 3)).collect() == [x for x in data for _ in range(x % 3)]
    assert rdd.mapPartitionsWithIndex(lambda i, it: [(i, sum(it))]).collect() == [
        (i, sum(data[i * 25:(i + 1) * 25])) for i in range(4)]
    assert rdd.sum() == sum(data) and rdd.count() == 100
    assert rdd.glom().map(len).collect() == [25, 25, 25, 25]


def test_reduce_by_key_and_group_by_key(ctx: Context) -> None:
    pairs = ctx.parallelize(WORDS, 3).map(lambda w: (w, 1))
    assert dict(pairs.reduceByKey(operator.add, 4).collect()) == Counter(WORDS)
    groups = pairs.groupByKey(3).mapValues(len).collect()
    assert dict(groups) == Counter(WORDS)
    assert len(groups) == len(set(WORDS))


def builtin_hash_is_portable(_: object) -> bool:
    """``BUILTIN_HASH_IS_PORTABLE`` as the process running this sees it (a task: the worker)."""
    from dstream import hashing

    return hashing.BUILTIN_HASH_IS_PORTABLE


def test_str_keys_partition_like_seed_zero(ctx: Context) -> None:
    """dask-local's nannies start their workers with PYTHONHASHSEED=0 (Dask's own would pick
    6640), so the workers use the builtin hash; each key lands in portable_hash(key) % n."""
    assert ctx.parallelize([0, 1], 2).map(builtin_hash_is_portable).collect() == [True, True]
    keys = sorted(set(WORDS))
    placed = (ctx.parallelize([(k, None) for k in keys], 2).partitionBy(3)
              .mapPartitionsWithIndex(lambda i, it: [(k, i) for k, _ in it]).collect())
    assert dict(placed) == {k: portable_hash(k) % 3 for k in keys}


def test_workers_under_dasks_own_nanny_hash_in_python(ctx: Context, tmp_path: Path) -> None:
    """A cluster of your own started with Dask's nanny salts its workers (PYTHONHASHSEED=6640):
    they fall back to the pure-Python seed-0 hash, and keys land where seed 0 puts them."""
    seed = os.environ.get("PYTHONHASHSEED")
    try:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster:  # type: ignore[no-untyped-call]
            address = cluster.scheduler_address.removeprefix("tcp://")
            backend = create_backend(f"dask://{address}", ctx.getConf(), str(tmp_path))
            try:
                scheduler = DAGScheduler(backend, BlockManager(str(tmp_path / "blocks")))
                flags = ctx.parallelize([0, 1], 2).map(builtin_hash_is_portable)
                assert scheduler.run_job(flags, lambda _, it: list(it)) == [[False], [False]]
                keys = sorted(set(WORDS))
                placed = (ctx.parallelize([(k, None) for k in keys], 2).partitionBy(3)
                          .mapPartitionsWithIndex(lambda i, it: [(k, i) for k, _ in it]))
                parts = scheduler.run_job(placed, lambda _, it: list(it))
                assert dict(kv for part in parts for kv in part) == {
                    k: portable_hash(k) % 3 for k in keys}
            finally:
                backend.stop()
    finally:   # Dask's nanny wrote its seed into this process's environment
        if seed is None:
            os.environ.pop("PYTHONHASHSEED", None)
        else:
            os.environ["PYTHONHASHSEED"] = seed


def test_join_and_sort_by_key(ctx: Context) -> None:
    left = [(i % 10, i) for i in range(50)]
    right = [(i % 15, -i) for i in range(30)]
    expected = sorted((k, (a, b)) for k, a in left for k2, b in right if k == k2)
    joined = ctx.parallelize(left, 3).join(ctx.parallelize(right, 2), 4)
    assert sorted(joined.collect()) == expected
    keys = [(x * 37) % 101 for x in range(200)]
    pairs = ctx.parallelize([(k, str(k)) for k in keys], 4)
    assert pairs.sortByKey(numPartitions=3).collect() == sorted((k, str(k)) for k in keys)
    assert pairs.sortByKey(False, 2).keys().collect() == sorted(keys, reverse=True)


def test_chained_shuffles(ctx: Context) -> None:
    counts = (ctx.parallelize(WORDS, 4).map(lambda w: (w, 1)).reduceByKey(operator.add, 3)
              .map(lambda kv: (kv[1], kv[0])).groupByKey(2).mapValues(sorted))
    expected: dict[int, list[str]] = {}
    for w, n in Counter(WORDS).items():
        expected.setdefault(n, []).append(w)
    assert dict(counts.collect()) == {n: sorted(ws) for n, ws in expected.items()}


def test_shuffle_outputs_stay_on_workers_and_are_reused(ctx: Context) -> None:
    calls = ctx.accumulator(0)

    def count(x: int) -> tuple[int, int]:
        calls.add(1)
        return x % 5, x

    summed = ctx.parallelize(range(40), 4).map(count).reduceByKey(operator.add, 3)
    assert sorted(summed.collect()) == [(k, sum(range(k, 40, 5))) for k in range(5)]
    shuffles = ctx._scheduler._shuffles
    outputs = shuffles[max(shuffles)].outputs   # the newest shuffle: this job's
    assert len(outputs) == 4
    for buckets in outputs:                     # one Dask task per reduce partition
        assert len(buckets) == 3 and all(isinstance(b, DaskTask) for b in buckets)
        assert all(isinstance(b.future, DaskFuture) for b in buckets)    # all sent
    assert calls.value == 40
    assert summed.count() == 5                  # a second job reads the kept map outputs
    assert calls.value == 40


def test_cache_and_persist(ctx: Context) -> None:
    seen = ctx.accumulator(0)

    def tick(x: int) -> int:
        seen.add(1)
        return x * 2

    cached = ctx.parallelize(range(30), 3).map(tick).cache()
    assert cached.sum() == sum(x * 2 for x in range(30))
    assert cached.collect() == [x * 2 for x in range(30)]
    assert seen.value == 30                     # the second job read the cached blocks
    on_disk = ctx.parallelize(range(10), 2).map(lambda x: -x).persist(StorageLevel.MEMORY_AND_DISK)
    assert on_disk.collect() == [-x for x in range(10)] == on_disk.collect()


def test_accumulators_and_broadcast(ctx: Context) -> None:
    total = ctx.accumulator(0)
    lookup = ctx.broadcast({w: len(w) for w in set(WORDS)})
    lengths = ctx.parallelize(WORDS, 4).map(lambda w: lookup.value[w])
    lengths.foreach(lambda n: total.add(n))
    assert total.value == sum(len(w) for w in WORDS)
    assert lengths.collect() == [len(w) for w in WORDS]


def test_task_context_on_workers(ctx: Context) -> None:
    ids = ctx.parallelize(range(6), 3).map(
        lambda _: (TaskContext.get().partitionId(), TaskContext.get().attemptNumber())).collect()
    assert ids == [(0, 0), (0, 0), (1, 0), (1, 0), (2, 0), (2, 0)]


def test_user_error_carries_worker_traceback(ctx: Context) -> None:
    def fail(x: int) -> int:
        if x == 3:
            raise UserError(f"bad record {x}")
        return x

    with pytest.raises(UserError, match="bad record 3") as info:
        ctx.parallelize(range(6), 2).map(fail).collect()
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "failed 4 time(s)" in notes
    assert "executor traceback" in notes and "in fail" in notes


def test_error_in_map_stage_and_retry_succeeds(ctx: Context) -> None:
    def flaky(x: int) -> tuple[int, int]:
        if x == 7 and TaskContext.get().attemptNumber() == 0:
            raise UserError("first attempt fails")
        return x % 3, x

    result = ctx.parallelize(range(20), 4).map(flaky).reduceByKey(operator.add, 2).collect()
    assert sorted(result) == [(k, sum(range(k, 20, 3))) for k in range(3)]


def test_stage_code_over_the_inline_limit_goes_as_a_dask_task(ctx: Context) -> None:
    big = "x" * (100 << 10)                        # over dstream.dask.inlineStageCodeBytes
    rdd = ctx.parallelize(range(6), 3).map(lambda v: (v % 2, len(big) + v))
    assert sorted(rdd.reduceByKey(operator.add, 2).collect()) == [
        (0, 3 * len(big) + 6), (1, 3 * len(big) + 9)]
    backend = ctx._backend
    for stage_id, expected in [(-1, DaskTask), (-2, bytes)]:
        code_rdd = rdd if expected is DaskTask else ctx.parallelize([1])
        stage = StageBinary(stage_id, "result", code_rdd, lambda s, it: list(it), None, "probe")
        try:
            assert isinstance(backend._code_of(stage)[1], expected)
        finally:
            backend.forget_stage(stage_id)
