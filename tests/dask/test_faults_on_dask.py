"""Lost workers on a real Dask LocalCluster: a task that kills its own worker process.

The dask-local scheduler is made with ``allowed-failures`` 0, so the task's Dask future fails
(``KilledWorker``) at once; dstream retries it with the next attempt number, and the nanny
starts a replacement worker. Map outputs that died with a worker are recomputed by Dask.
"""

from __future__ import annotations

import operator
import os
import signal
import sys
from typing import Any

import dask
import pytest

from dstream import Context
from tests.dask.conftest import until
from tests.dstream.test_scheduler_faults import first_attempt, grouped_with_kills


def test_task_that_kills_its_worker_on_first_attempt(whole_cluster: Context) -> None:
    ctx = whole_cluster

    def die_once(x: int) -> int:
        if x == 5 and first_attempt():
            os.kill(os.getpid(), signal.SIGKILL)
        return x * 10

    before = set(ctx._backend.worker_pids())
    assert ctx.parallelize(range(10), 4).map(die_once).collect() == [x * 10 for x in range(10)]
    assert ctx.parallelize(range(4), 4).map(lambda x: x + 1).sum() == 10
    after = set(ctx._backend.worker_pids())
    assert len(before - after) == 1               # the killed worker was replaced


def _settings(dask_worker: Any) -> tuple[Any, ...]:
    callbacks = dask_worker.periodic_callbacks
    return (dask.config.get("distributed.admin.system-monitor.interval"),
            "profile" in callbacks, callbacks["tick"].callback_time,
            callbacks["memory_monitor"].callback_time, sys.flags.hash_randomization)


def test_a_replacement_worker_has_the_cluster_s_settings(whole_cluster: Context) -> None:
    """A worker the nanny starts after one died runs with ``LOCAL_CLUSTER_CONFIG`` too: no
    profiler, the slow system monitor, the event loop's and memory's checks every 1 s and 0.5 s,
    and the builtin hash unsalted (``PYTHONHASHSEED=0``); and the scheduler fails a task that
    kills its worker."""
    client = whole_cluster._backend._client
    expected = ("2s", False, 1000, 500, 0)
    assert set(client.run(_settings).values()) == {expected}
    address, pid = sorted(client.run(os.getpid).items())[0]
    os.kill(pid, signal.SIGKILL)

    def workers() -> set[str]:
        return set(client.scheduler_info(n_workers=-1)["workers"])

    until(lambda: address not in workers() and len(workers()) == 2,
          "the nanny replaced the killed worker")
    assert set(client.run(_settings).values()) == {expected}
    assert client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.allowed_failures) == 0
    assert client.run_on_scheduler(
        lambda dask_scheduler: dask_scheduler.periodic_callbacks["tick"].callback_time) == 1000


@pytest.mark.parametrize("reduce_partitions", [2, 3], ids=["whole-map-outputs", "bucket-tasks"])
def test_worker_killed_in_map_and_in_reduce_stage(whole_cluster: Context,
                                                  reduce_partitions: int) -> None:
    """The reduce-stage kill also loses the map outputs held by that worker: Dask recomputes
    them from their lineage when the retried reduce task asks for them. Two reduce partitions
    read the map results themselves, three through a Dask task per bucket."""
    grouped, summed, expected = grouped_with_kills(whole_cluster, reduce_partitions)
    assert sorted(summed.collect()) == expected
    # the kept map outputs are still readable by a later job
    assert sorted(grouped.mapValues(sum).collect()) == expected


def test_accumulators_count_each_task_once_despite_a_lost_worker(whole_cluster: Context) -> None:
    ctx = whole_cluster
    seen = ctx.accumulator(0)

    def tick(x: int) -> tuple[int, int]:
        seen.add(1)
        if x == 3 and first_attempt():
            os.kill(os.getpid(), signal.SIGKILL)
        return x % 2, x

    result = ctx.parallelize(range(12), 3).map(tick).reduceByKey(operator.add, 2).collect()
    assert sorted(result) == [(0, 30), (1, 36)]
    assert seen.value == 12
