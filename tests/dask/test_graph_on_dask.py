"""A job's stages go to Dask as one graph, in one message to the Dask scheduler: the reduce
tasks are submitted with the map tasks (they take the map tasks' outputs as dependencies).
What that must not break: retries of a failed map task (and of the reduce tasks that failed
only because of it), the accumulators (each task counted once), locality (tasks run where
their received block or cached partition is), and a worker dying mid-job (its tasks rerun).
Lost map outputs run through the same path in ``test_faults_on_dask``.
"""

from __future__ import annotations

import operator
import os
import re
import signal
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from distributed import Event

from dstream import Context, TaskContext
from dstream.rdd_kinds import BlockRDD
from tests.dask.conftest import until
from tests.dask.test_blocks_on_dask import blocks, put  # noqa: F401 - fixture
from tests.dstream.test_scheduler_faults import first_attempt, run_in_thread


#: a dstream task's Dask key: dstream-SESSION-STAGE-SPLIT-ATTEMPT-N (helpers add a suffix)
TASK_KEY = re.compile(r"^dstream-[0-9a-f]+-\d+-\d+-\d+-\d+$")


class UserError(Exception):
    """A user's own exception type, importable by the workers."""


def reduce_tasks_waiting(dask_scheduler: Any) -> dict[str, list[str]]:
    """The dstream tasks (not their helper tasks: buckets, side outputs, cached blocks) that
    the Dask scheduler holds as waiting, each with the keys it waits on."""
    return {str(ts.key): sorted(str(d.key) for d in ts.dependencies)
            for ts in dask_scheduler.tasks.values()
            if ts.state == "waiting" and TASK_KEY.match(str(ts.key))}


def graphs_sent(ctx: Context) -> set[str]:
    """The graphs this driver's Dask client has sent so far (the Dask scheduler's
    ``update-graph`` events on the client's topic, by stimulus id)."""
    client = ctx._backend._client
    return {event["stimulus_id"] for _, event in client.get_events(client.id)
            if isinstance(event, dict) and event.get("action") == "update-graph"}


def test_reduce_tasks_are_submitted_while_the_map_tasks_run(ctx: Context) -> None:
    gate = f"dstream-test-gate-{uuid.uuid4().hex}"

    def held(x: int) -> tuple[int, int]:
        Event(gate).wait(timeout=60)      # the map tasks wait until the test saw the reducers
        return x % 3, x

    job = ctx.parallelize(range(12), 2).map(held).reduceByKey(operator.add, 2)
    thread, outcome = run_in_thread(job.collect)
    try:
        client = ctx._backend._client
        waiting = until(lambda: len(found := client.run_on_scheduler(reduce_tasks_waiting)) == 2
                        and found, "both reduce tasks were submitted before the map tasks ended")
        # two reduce partitions: each reduce task reads the two map tasks' results themselves
        # (dstream.dask.wholeMapOutputPartitions), with no bucket task in between
        assert all(len(deps) == 2 and all(TASK_KEY.match(d) for d in deps)
                   for deps in waiting.values()), waiting
    finally:
        Event(gate, client=ctx._backend._client).set()
        thread.join(timeout=60)
    assert sorted(outcome["value"]) == [(k, sum(range(k, 12, 3))) for k in range(3)]


def test_a_failed_map_task_is_retried_and_its_reducers_run_once_more_uncounted(
        ctx: Context) -> None:
    seen = ctx.accumulator(0)

    def flaky(x: int) -> tuple[int, tuple[int, int]]:
        seen.add(1)
        if x == 7 and TaskContext.get().attemptNumber() < 2:
            raise UserError("the first two attempts fail")
        return x % 2, (x, TaskContext.get().attemptNumber())

    def total(kv: tuple[int, Any]) -> tuple[int, int, list[int], int]:
        xs = sorted(kv[1])
        return kv[0], sum(x for x, _ in xs), sorted({a for _, a in xs}), \
            TaskContext.get().attemptNumber()

    result = sorted(ctx.parallelize(range(16), 4).map(flaky).groupByKey(2).map(total).collect())
    assert [(k, s) for k, s, _, _ in result] == [(0, 56), (1, 64)]
    assert [attempts for _, _, attempts, _ in result] == [[0, 2], [0, 2]]   # map task 1: attempt 2
    assert [reduce_attempt for _, _, _, reduce_attempt in result] == [0, 0]
    assert seen.value == 16                 # the failed attempts' updates were not merged


def test_a_map_task_failing_every_attempt_reports_its_own_error(ctx: Context) -> None:
    def broken(x: int) -> tuple[int, int]:
        if x == 5:
            raise UserError(f"bad record {x}")
        return x, x

    with pytest.raises(UserError, match="bad record 5") as info:
        ctx.parallelize(range(8), 2).map(broken).reduceByKey(operator.add, 2).collect()
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "failed 4 time(s)" in notes and "shuffle" in notes     # the map task's, not a reducer's


def test_map_tasks_over_received_blocks_run_where_the_blocks_are(
        whole_cluster: Context, blocks: list[str]) -> None:  # noqa: F811 - fixture
    ctx = whole_cluster
    pid_of = ctx._backend._client.run(os.getpid)
    handles = [put(ctx, blocks, f"input-95-{i}", [i], 1) for i in range(6)]

    def where(split: int, records: Iterator[int]) -> list[tuple[int, int]]:
        return [(split, os.getpid()) for _ in records]

    ran_on = dict(BlockRDD(ctx, [h.block_id for h in handles]).mapPartitionsWithIndex(where)
                  .reduceByKey(operator.add, 2).collect())
    assert ran_on == {i: pid_of[h.replicas[0][1]] for i, h in enumerate(handles)}
    assert len(set(ran_on.values())) == 2      # the blocks were spread over both workers


def where_and_attempt(split: int, records: Iterator[Any]) -> list[tuple[int, tuple[int, int]]]:
    """Per record, its partition with the process and the attempt that read it; partition 2
    fails its first attempt (a transient error)."""
    if split == 2 and first_attempt():
        raise UserError("a transient failure")
    return [(split, (os.getpid(), TaskContext.get().attemptNumber())) for _ in records]


def test_one_graph_per_job_keeps_task_retries_and_locality(
        whole_cluster: Context, blocks: list[str]) -> None:  # noqa: F811 - fixture
    ctx = whole_cluster
    pid_of = ctx._backend._client.run(os.getpid)
    handles = [put(ctx, blocks, f"input-96-{i}", [i], 1) for i in range(6)]
    home = {i: pid_of[h.replicas[0][1]] for i, h in enumerate(handles)}
    assert len(set(home.values())) == 2        # the blocks are spread over both workers
    by_block = BlockRDD(ctx, [h.block_id for h in handles])
    cached = by_block.map(lambda x: (x, os.getpid())).cache()

    sent_before = graphs_sent(ctx)
    made_on = dict(cached.reduceByKey(operator.add, 2).collect())
    # the job's map tasks (over the blocks) and reduce tasks reached Dask in one message
    assert len(graphs_sent(ctx) - sent_before) == 1
    assert made_on == home                      # each map task ran where its block is

    sent_before = graphs_sent(ctx)
    ran = dict(cached.mapPartitionsWithIndex(where_and_attempt).reduceByKey(
        lambda a, b: a, 2).collect())
    assert len(graphs_sent(ctx) - sent_before) >= 2     # the retry went in a later graph
    # every task read its cached partition where it was made, the retried one too
    assert ran == {i: (home[i], 1 if i == 2 else 0) for i in range(6)}


def restrictions(dask_scheduler: Any) -> dict[str, tuple[list[str], bool]]:
    """The dstream tasks the Dask scheduler holds, not yet done, each with its worker
    restriction and whether the restriction is loose."""
    return {str(ts.key): (sorted(ts.worker_restrictions or ()), ts.loose_restrictions)
            for ts in dask_scheduler.tasks.values()
            if ts.state in ("waiting", "processing", "no-worker", "queued")
            and TASK_KEY.match(str(ts.key))}


def test_the_graph_carries_each_block_task_s_worker(
        whole_cluster: Context, blocks: list[str]) -> None:  # noqa: F811 - fixture
    """Tasks that read a received block are restricted (loosely: Dask's work stealing and a
    lost worker may still move them) to the block's worker, in the one graph of the job."""
    ctx = whole_cluster
    client = ctx._backend._client
    handles = [put(ctx, blocks, f"input-98-{i}", [i], 1) for i in range(4)]
    gate = f"dstream-test-gate-{uuid.uuid4().hex}"

    def held(split: int, records: Iterator[int]) -> list[tuple[int, int]]:
        Event(gate).wait(timeout=60)
        return [(x % 2, x) for x in records]

    job = BlockRDD(ctx, [h.block_id for h in handles]).mapPartitionsWithIndex(held)
    sent_before = graphs_sent(ctx)
    thread, outcome = run_in_thread(job.reduceByKey(operator.add, 2).collect)
    try:
        found = until(lambda: len(r := client.run_on_scheduler(restrictions)) == 6 and r,
                      "the job's six tasks reached the Dask scheduler")
        assert len(graphs_sent(ctx) - sent_before) == 1
    finally:
        Event(gate, client=client).set()
        thread.join(timeout=60)
    assert sorted(found.values()) == sorted(
        [([h.replicas[0][1]], True) for h in handles] + [([], False)] * 2)
    assert sorted(outcome["value"]) == [(0, 2), (1, 4)]


def test_a_worker_dying_mid_job_has_its_tasks_rerun_from_the_other_replica(
        whole_cluster: Context, blocks: list[str]) -> None:  # noqa: F811 - fixture
    ctx = whole_cluster
    pid_of = ctx._backend._client.run(os.getpid)
    # replicas on both workers (and the driver's): partition 0 reruns where the other one is
    handles = [put(ctx, blocks, f"input-97-{i}", [i], 3) for i in range(4)]
    first_home = {i: pid_of[h.replicas[0][1]] for i, h in enumerate(handles)}

    def die_once(split: int, records: Iterator[int]) -> list[tuple[int, int]]:
        if split == 0 and first_attempt():
            os.kill(os.getpid(), signal.SIGKILL)      # the worker dies under the running job
        return [(split, os.getpid()) for _ in records]

    ran = dict(BlockRDD(ctx, [h.block_id for h in handles]).mapPartitionsWithIndex(die_once)
               .reduceByKey(lambda a, b: a, 2).collect())
    assert sorted(ran) == [0, 1, 2, 3]
    assert first_home[0] not in ran.values()   # nothing ran on the dead worker after all
    survivor = next(p for p in pid_of.values() if p != first_home[0])
    assert ran[0] == survivor                  # partition 0 reran where its other replica is
