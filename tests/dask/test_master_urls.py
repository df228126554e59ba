"""Master URLs of cluster mode, and ``dask://HOST:PORT`` against a running scheduler.

The ``dask://`` test connects a second backend to the scheduler of the package's LocalCluster
(only one Context may be active, so it drives that backend with its own DAGScheduler) and
checks that stopping it leaves the cluster running.
"""

from __future__ import annotations

import operator
from pathlib import Path

import pytest

from dstream import Context
from dstream.block_manager import BlockManager
from dstream.executors import create_backend, parse_master
from dstream.executors.dask_backend import DaskBackend
from dstream.scheduler import DAGScheduler


@pytest.mark.parametrize("master, expected", [
    ("dask-local[2]", ("dask", 2)),
    ("dask-local[1]", ("dask", 1)),
    ("dask://127.0.0.1:8786", ("dask", 0)),
    ("dask://scheduler.example:8786/", ("dask", 0)),
])
def test_parse_dask_masters(master: str, expected: tuple[str, int]) -> None:
    assert parse_master(master) == expected


@pytest.mark.parametrize("master", ["dask-local[0]", "dask-local", "dask://nohost", "dask:/x:1"])
def test_bad_dask_masters(master: str) -> None:
    with pytest.raises(ValueError, match="master"):
        parse_master(master)


def test_dask_url_connects_to_an_existing_scheduler(whole_cluster: Context, tmp_path: Path) -> None:
    ctx = whole_cluster
    address = ctx._backend._cluster.scheduler_address          # tcp://127.0.0.1:PORT
    backend = create_backend("dask://" + address.removeprefix("tcp://"), ctx.getConf(), str(tmp_path))
    try:
        assert isinstance(backend, DaskBackend) and backend._cluster is None
        assert backend.parallelism == 2
        assert backend.worker_pids() == ctx._backend.worker_pids()
        scheduler = DAGScheduler(backend, BlockManager(str(tmp_path / "blocks")))
        pairs = ctx.parallelize([(i % 3, i) for i in range(30)], 3).reduceByKey(operator.add, 2)
        result = scheduler.run_job(pairs, lambda _, it: list(it))
        assert sorted(kv for part in result for kv in part) == [
            (k, sum(range(k, 30, 3))) for k in range(3)]
    finally:
        backend.stop()
    assert ctx.parallelize(range(5), 2).sum() == 10             # the cluster still serves
