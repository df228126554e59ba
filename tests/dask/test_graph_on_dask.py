"""A job's stages go to Dask as one graph: the reduce tasks are submitted while the map tasks
still run (they take the map tasks' bucket futures as dependencies). What that must not break:
retries of a failed map task (and of the reduce tasks that failed only because of it), the
accumulators (each task counted once), and locality (map tasks run where their block is).
Lost workers and lost map outputs run through the same path in ``test_faults_on_dask``.
"""

from __future__ import annotations

import operator
import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from distributed import Event

from dstream import Context, TaskContext
from dstream.rdd_kinds import BlockRDD
from tests.dask.conftest import until
from tests.dask.test_blocks_on_dask import blocks, put  # noqa: F401 - fixture
from tests.dstream.test_scheduler_faults import run_in_thread


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
