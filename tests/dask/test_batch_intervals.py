"""``dstream.dask.batchInterval``: the interval of Dask's batched streams, as the setting and its
scope say, read back from the real client, scheduler and worker processes.

This module's ``dask-local[2]`` Context sets 3 ms (none of Dask's own values), so a stream at
3 ms was set by dstream. A worker that joins later (``LocalCluster.scale``) gets it too. A
cluster made with the setting at 0 keeps Dask's own intervals; a second backend connecting to
it (``dask://``) sets only its own client's stream unless the scope is ``cluster``, and then
puts back what it found when it stops.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dstream import Conf, Context
from dstream.executors.dask_backend import DaskBackend
from dstream.executors.dask_intervals import INTERVAL_KEY, SCOPE_KEY
from tests.dask.conftest import MASTER, until

SET = 0.003
#: Dask's own intervals (distributed's code: client.py, scheduler.py add_worker / add_client,
#: worker.py): client -> scheduler, scheduler -> worker, scheduler -> client, worker -> scheduler
DASK_CLIENT, DASK_TO_WORKER, DASK_TO_CLIENT, DASK_WORKER = 0.010, 0.005, 0.002, 0.002


@pytest.fixture(scope="module")
def ctx() -> Iterator[Context]:
    context = Context(MASTER, "dask-batch-intervals", conf=Conf().set(INTERVAL_KEY, "3ms"))
    try:
        yield context
    finally:
        context.stop()


def streams(backend: DaskBackend) -> dict[str, Any]:
    """The intervals in force, as read where each stream lives: this backend's client, the
    scheduler (its streams to the workers, to this client, its plugins) and each worker."""
    client = backend._client
    on_scheduler = client.run_on_scheduler(lambda dask_scheduler: {
        "to_workers": {a: s.interval for a, s in dask_scheduler.stream_comms.items()},
        "to_clients": {c: s.interval for c, s in dask_scheduler.client_comms.items()},
        "plugins": sorted(dask_scheduler.plugins)})
    return {"client": client.scheduler_comm.interval,
            "to_workers": on_scheduler["to_workers"],
            "to_client": on_scheduler["to_clients"][client.id],
            "to_clients": on_scheduler["to_clients"],
            "scheduler_plugins": on_scheduler["plugins"],
            "workers": client.run(lambda dask_worker: dask_worker.batched_stream.interval),
            "worker_plugins": client.run(lambda dask_worker: sorted(dask_worker.plugins))}


def test_dask_local_sets_the_interval_on_every_stream(ctx: Context) -> None:
    backend = ctx._backend
    assert isinstance(backend, DaskBackend)
    found = streams(backend)
    assert found["client"] == SET
    assert found["to_client"] == SET
    assert len(found["to_workers"]) == 2 and set(found["to_workers"].values()) == {SET}
    assert found["workers"].keys() == found["to_workers"].keys()
    assert set(found["workers"].values()) == {SET}
    # the job runs as before
    pairs = ctx.parallelize([(i % 3, i) for i in range(30)], 3).reduceByKey(lambda a, b: a + b, 2)
    assert sorted(pairs.collect()) == [(k, sum(range(k, 30, 3))) for k in range(3)]


def test_a_worker_that_joins_later_gets_it_too(ctx: Context) -> None:
    backend = ctx._backend
    assert isinstance(backend, DaskBackend) and backend._cluster is not None
    before = set(streams(backend)["workers"])
    backend._cluster.scale(3)
    try:
        backend._restore_seed()      # the nanny of the new worker writes PYTHONHASHSEED here
        backend._client.wait_for_workers(3, timeout=60)
        found = until(lambda: (lambda s: s if len(s["workers"]) == 3
                               and set(s["workers"].values()) == {SET} else None)(streams(backend)),
                      "the third worker's stream to the scheduler is at 3 ms")
        (joined,) = set(found["workers"]) - before
        assert found["to_workers"][joined] == SET
        assert set(found["to_workers"].values()) == {SET}
        assert sum(ctx.parallelize(range(60), 6).map(lambda x: x * 2).collect()) == 3540
    finally:
        backend._cluster.scale(2)
        until(lambda: len(backend._client.nthreads()) == 2, "the cluster is back to 2 workers")
        backend._restore_seed()


def test_zero_keeps_dasks_own_and_a_dask_url_sets_its_client_unless_told_cluster() -> None:
    owner = DaskBackend(n_workers=1, conf=Conf().set(INTERVAL_KEY, 0))
    try:
        found = streams(owner)
        dasks_own = {"client": DASK_CLIENT, "to_client": DASK_TO_CLIENT}
        assert {k: found[k] for k in dasks_own} == dasks_own
        assert set(found["to_workers"].values()) == {DASK_TO_WORKER}
        assert set(found["workers"].values()) == {DASK_WORKER}
        assert not any("dstream" in p for p in found["scheduler_plugins"])

        address = owner._cluster.scheduler_address if owner._cluster else ""
        # dask:// with the default scope (auto): someone else's cluster, only our client's stream
        guest = DaskBackend(address=address, conf=Conf().set(INTERVAL_KEY, "3ms"))
        try:
            found = streams(guest)
            assert found["client"] == SET
            assert found["to_client"] == DASK_TO_CLIENT
            assert set(found["to_workers"].values()) == {DASK_TO_WORKER}
            assert set(found["workers"].values()) == {DASK_WORKER}
            assert not any("dstream" in p for p in found["scheduler_plugins"])
        finally:
            guest.stop()

        # scope cluster: the scheduler's and the workers' streams too, put back at stop
        guest = DaskBackend(address=address, conf=Conf().set(INTERVAL_KEY, "3ms")
                            .set(SCOPE_KEY, "cluster"))
        try:
            found = streams(guest)
            assert found["client"] == SET and found["to_client"] == SET
            assert set(found["to_workers"].values()) == {SET}
            assert set(found["workers"].values()) == {SET}
            assert found["to_clients"][owner._client.id] == DASK_TO_CLIENT   # not ours
            assert guest._intervals_name in found["scheduler_plugins"]
        finally:
            guest.stop()
        found = streams(owner)
        assert set(found["to_workers"].values()) == {DASK_TO_WORKER}
        assert set(found["workers"].values()) == {DASK_WORKER}
        assert not any("dstream" in p for p in found["scheduler_plugins"])
        assert not any("dstream" in p for ps in found["worker_plugins"].values() for p in ps)
    finally:
        owner.stop()
