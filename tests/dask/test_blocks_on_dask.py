"""Blocks on a real Dask LocalCluster. Received blocks: replicas on distinct workers, tasks where
the data is, a lost replica read from the other one, every replica lost, removal. Cached RDD
partitions: kept on the worker that computed them, read there, computed again when lost."""

from __future__ import annotations

import functools
import os
import pickle
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dstream import Context
from dstream.errors import BlockLostError
from dstream.executors.dask_blocks import DaskBlock, DaskCachedBlock
from dstream.rdd_kinds import BlockRDD
from dstream.storagelevel import StorageLevel
from dstream.taskcontext import Serialized
from tests.dask.conftest import until


def _bytes(records: list) -> Serialized:
    return Serialized(pickle.dumps(records, protocol=5))


@pytest.fixture
def blocks(whole_cluster: Context) -> Iterator[list[str]]:
    """Block ids the test put in the driver's block manager; removed afterwards."""
    ids: list[str] = []
    yield ids
    for block_id in ids:
        whole_cluster._block_manager.remove(block_id)


def put(ctx: Context, ids: list[str], block_id: str, records: list, replicas: int,
        recover: object = None) -> DaskBlock:
    handle = ctx._backend.store_block(block_id, _bytes(records), replicas, recover)
    ctx._block_manager.put(block_id, handle, StorageLevel.MEMORY_AND_DISK_2)
    ids.append(block_id)
    return handle


def from_log(block_id: str, records: list, calls: list[str]) -> Callable[[], Serialized]:
    """A block's ``recover`` (its write-ahead log copy): gives ``records``, notes the call."""

    def recover() -> Serialized:
        calls.append(block_id)
        return _bytes(records)

    return recover


def holders(ctx: Context, handle: DaskBlock) -> set[str]:
    who_has = ctx._backend._client.who_has([f for f, _ in handle.replicas])
    return {w for workers in who_has.values() for w in workers}


def held_on_workers(ctx: Context, keys: list[str]) -> list[str]:
    """Which of ``keys`` some worker holds in memory (each once per worker holding it)."""

    def held(dask_worker: object) -> list[str]:
        return [k for k in keys if k in dask_worker.data]  # type: ignore[attr-defined]

    return [k for found in ctx._backend._client.run(held).values() for k in found]


def test_replicas_go_to_the_driver_and_to_distinct_workers(whole_cluster: Context,
                                                          blocks: list[str]) -> None:
    """The driver keeps one replica (as Spark's receiver executor does), counted in its block
    manager's memory and dropped when the block is released; the others go to distinct
    workers."""
    ctx = whole_cluster
    bm = ctx._block_manager
    used_before = bm.memory_used
    data = _bytes(list(range(1000)))
    handle = put(ctx, blocks, "input-90-0", list(range(1000)), 3)
    assert len(handle.replicas) == 2
    assert holders(ctx, handle) == {w for _, w in handle.replicas}
    assert len(holders(ctx, handle)) == 2
    assert handle.kept == data.data and bm.memory_used == used_before + len(data.data)
    assert bm.get_for_task("input-90-0") is handle
    assert BlockRDD(ctx, ["input-90-0"]).sum() == sum(range(1000))
    assert bm.release("input-90-0") and handle.kept is None and bm.memory_used == used_before
    assert len(holders(ctx, handle)) == 2                       # the workers keep theirs
    assert BlockRDD(ctx, ["input-90-0"]).sum() == sum(range(1000))


def test_replication_two_sends_a_block_to_one_worker(whole_cluster: Context,
                                                     blocks: list[str]) -> None:
    ctx = whole_cluster
    handles = [put(ctx, blocks, f"input-97-{i}", [i], 2) for i in range(4)]
    assert all(len(h.replicas) == 1 and h.kept is not None for h in handles)
    assert len({h.replicas[0][1] for h in handles}) == 2         # spread over both workers
    assert BlockRDD(ctx, [h.block_id for h in handles]).collect() == [0, 1, 2, 3]


def test_without_the_driver_replica_the_driver_keeps_only_handles(
        whole_cluster: Context, blocks: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = whole_cluster
    monkeypatch.setattr(ctx._backend._blocks, "_driver_replica", False)
    used_before = ctx._block_manager.memory_used
    handle = put(ctx, blocks, "input-98-0", list(range(100)), 2)
    assert handle.kept is None and len(holders(ctx, handle)) == 2
    assert ctx._block_manager.memory_used == used_before
    assert BlockRDD(ctx, ["input-98-0"]).sum() == sum(range(100))


def _count_scheduler_hops(dask_scheduler: Any) -> None:
    """Count the scheduler's ``scatter`` and ``gather`` requests: data a client sends to
    workers, or reads from them, through the scheduler."""
    counts = dask_scheduler.dstream_hops = {"scatter": 0, "gather": 0}
    for name in counts:
        @functools.wraps(dask_scheduler.handlers[name])
        def counting(*args: Any, _handler: Any = dask_scheduler.handlers[name], _name: str = name,
                     **kwargs: Any) -> Any:
            counts[_name] += 1
            return _handler(*args, **kwargs)
        dask_scheduler.handlers[name] = counting


def test_blocks_and_results_go_straight_between_driver_and_workers(
        whole_cluster: Context, blocks: list[str]) -> None:
    ctx = whole_cluster
    client = ctx._backend._client
    client.run_on_scheduler(_count_scheduler_hops)
    records = [f"line {i}" for i in range(5000)]
    put(ctx, blocks, "input-95-0", records, 2)
    assert BlockRDD(ctx, ["input-95-0"]).collect() == records   # over 4 KiB: fetched
    assert client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.dstream_hops) == {
        "scatter": 0, "gather": 0}


def test_a_replica_meant_for_a_worker_that_is_gone_goes_to_a_running_one(
        whole_cluster: Context, blocks: list[str]) -> None:
    """The store's list of workers can be a second old: a replica whose worker is no longer
    running goes to another one after a short wait, not after the client's 30 s timeout
    (the receiver that stores the block waits meanwhile)."""
    ctx = whole_cluster
    store = ctx._backend._blocks
    gone = "tcp://127.0.0.1:9"                  # nothing listens there
    with store._lock:
        store._workers, store._workers_at = [gone], time.monotonic()
    started = time.monotonic()
    handle = put(ctx, blocks, "input-96-0", [1, 2, 3], 1)
    waited = time.monotonic() - started
    running = set(store.workers(refresh=True))
    assert [w for _, w in handle.replicas] != [gone] and holders(ctx, handle) <= running
    assert waited < 15, f"the store waited {waited:.1f} s for a worker that is gone"
    assert BlockRDD(ctx, ["input-96-0"]).collect() == [1, 2, 3]


def test_a_task_runs_on_the_worker_that_holds_its_block(whole_cluster: Context,
                                                         blocks: list[str]) -> None:
    ctx = whole_cluster
    pid_of = ctx._backend._client.run(os.getpid)
    handles = [put(ctx, blocks, f"input-91-{i}", [i], 1) for i in range(6)]
    ran_on = BlockRDD(ctx, [h.block_id for h in handles]).mapPartitions(
        lambda it: [os.getpid()]).collect()
    assert ran_on == [pid_of[h.replicas[0][1]] for h in handles]
    assert len(set(ran_on)) == 2                   # the blocks were spread over both workers


def test_a_killed_worker_s_blocks_are_read_from_the_other_replica_and_re_replicated(
        whole_cluster: Context, blocks: list[str]) -> None:
    ctx = whole_cluster
    client = ctx._backend._client
    # two replicas on the workers (and the driver's)
    handles = [put(ctx, blocks, f"input-92-{i}", list(range(i * 10, i * 10 + 10)), 3)
               for i in range(4)]
    victim = handles[0].replicas[0][1]
    os.kill(client.run(os.getpid)[victim], signal.SIGKILL)
    rdd = BlockRDD(ctx, [h.block_id for h in handles])
    assert rdd.collect() == list(range(40))
    client.wait_for_workers(2, timeout=60)         # the nanny's replacement joins
    assert rdd.collect() == list(range(40))        # lost replicas are copied to the new worker
    for handle in handles:
        handle.replicas[-1][0].result(timeout=30)
        assert len(holders(ctx, handle)) == 2 and victim not in holders(ctx, handle)


def test_a_block_whose_worker_replica_is_lost_goes_back_from_the_driver_s_copy(
        whole_cluster: Context, blocks: list[str]) -> None:
    ctx = whole_cluster
    client = ctx._backend._client
    recovered: list[str] = []
    handle = put(ctx, blocks, "input-99-0", ["a", "b", "c"], 2,
                 from_log("input-99-0", ["never", "read"], recovered))
    victim = handle.replicas[0][1]
    os.kill(client.run(os.getpid, workers=[victim])[victim], signal.SIGKILL)
    until(lambda: victim not in ctx._backend._blocks.workers(refresh=True),
          "the scheduler removed the killed worker")
    assert BlockRDD(ctx, ["input-99-0"]).collect() == ["a", "b", "c"]
    assert recovered == []                          # the log was not needed
    assert victim not in holders(ctx, handle) and len(holders(ctx, handle)) == 1


def test_every_replica_lost_is_recovered_or_reported(whole_cluster: Context,
                                                     blocks: list[str]) -> None:
    ctx = whole_cluster
    client = ctx._backend._client
    recovered: list[str] = []
    logged = put(ctx, blocks, "input-93-0", ["a", "b"], 1,
                 from_log("input-93-0", ["a", "b"], recovered))
    unlogged = put(ctx, blocks, "input-93-1", ["c"], 1)
    for handle in (logged, unlogged):
        worker = handle.replicas[0][1]
        os.kill(client.run(os.getpid, workers=[worker])[worker], signal.SIGKILL)
        client.wait_for_workers(2, timeout=60)
    assert BlockRDD(ctx, ["input-93-0"]).collect() == ["a", "b"]
    assert recovered == ["input-93-0"]
    with pytest.raises(BlockLostError, match=r"input-93-1 is lost"):
        BlockRDD(ctx, ["input-93-1"]).collect()


def test_removing_a_block_frees_it_on_the_workers(whole_cluster: Context,
                                                  blocks: list[str]) -> None:
    ctx = whole_cluster
    handle = put(ctx, blocks, "input-94-0", [1, 2, 3], 2)
    keys = [f.key for f, _ in handle.replicas]
    assert sorted(held_on_workers(ctx, keys)) == sorted(keys)
    ctx._block_manager.remove("input-94-0")
    until(lambda: not held_on_workers(ctx, keys), "the workers dropped the replicas")


# ---------------------------------------------------------------------- cached partitions
def test_cached_partitions_stay_on_the_workers_that_computed_them(whole_cluster: Context) -> None:
    ctx = whole_cluster
    computed = ctx.accumulator(0)

    def tick(x: int) -> tuple[int, int]:
        computed.add(1)
        return (os.getpid(), x)

    used_before = ctx._block_manager.memory_used
    cached = ctx.parallelize(range(40), 4).map(tick).cache()
    made_on = cached.glom().map(lambda part: part[0][0]).collect()
    handles = [ctx._block_manager.get_for_task(f"rdd_{cached.id}_{i}") for i in range(4)]
    assert all(isinstance(h, DaskCachedBlock) for h in handles), handles
    assert ctx._block_manager.memory_used == used_before          # no bytes in the driver
    read_on = cached.mapPartitions(lambda it: [os.getpid()]).collect()
    assert read_on == made_on and computed.value == 40             # read where it was made
    assert sorted(x for _, x in cached.collect()) == list(range(40))
    keys = [h.future.key for h in handles]
    assert len(held_on_workers(ctx, keys)) == 4
    cached.unpersist()
    assert not any(b.startswith(f"rdd_{cached.id}_") for b in ctx._block_manager.block_ids())
    until(lambda: not held_on_workers(ctx, keys), "the workers dropped the partitions")


def test_cached_partitions_lost_with_a_worker_are_computed_again(whole_cluster: Context) -> None:
    ctx = whole_cluster
    cached = ctx.parallelize(range(40), 4).map(lambda x: (os.getpid(), x * 3)).cache()
    made_on = cached.glom().map(lambda part: part[0][0]).collect()
    os.kill(made_on[0], signal.SIGKILL)
    assert sorted(x for _, x in cached.collect()) == [x * 3 for x in range(40)]
    assert sorted(x for _, x in cached.map(lambda kv: (kv[0] % 2, kv[1])).collect()) == [
        x * 3 for x in range(40)]
