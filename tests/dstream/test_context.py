"""The Context's lifecycle: one active per process, stop, context manager, configuration.

Every test here makes its own Context (and none uses the shared ``ctx`` fixture).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from dstream import Conf, Context
from dstream.errors import ContextStateError
from dstream.rdd import RDDContext


@pytest.mark.parametrize("master", ["local", "local[2]"])
def test_context_manager_stops_the_context(master: str) -> None:
    with Context(master, "cm") as ctx:
        assert ctx.parallelize([1, 2, 3]).sum() == 6
        local_dir = ctx._local_dir
        pids = ctx._backend.worker_pids()
        assert len(pids) == (0 if master == "local" else 2)
    assert ctx._stopped
    assert not os.path.exists(local_dir)
    assert Context._active_context() is None
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.mark.parametrize("master", ["local", "local[2]"])
def test_one_active_context_per_process(master: str) -> None:
    first = Context(master, "first")
    try:
        with pytest.raises(ValueError, match="Cannot run multiple Contexts at once"):
            Context("local", "second")
        assert Context.getOrCreate() is first
        assert Context._active_context() is first
    finally:
        first.stop()
    second = Context("local", "second")
    second.stop()


def test_stop_twice_and_use_after_stop() -> None:
    ctx = Context("local", "stopped")
    rdd = ctx.parallelize([1, 2])
    ctx.stop()
    ctx.stop()
    with pytest.raises(ContextStateError, match="stopped"):
        ctx.parallelize([1])
    with pytest.raises(ContextStateError):
        rdd.collect()
    with pytest.raises(ContextStateError):
        ctx.emptyRDD()


def test_stop_with_processes_joins_workers_and_threads() -> None:
    ctx = Context("local[2]", "stop")
    assert ctx.parallelize(range(10), 4).map(lambda x: x * 2).sum() == 90
    backend = ctx._backend
    ctx.stop()
    assert all(not t.is_alive() for t in backend._threads)
    assert all(w.process.poll() is not None for w in backend._workers)


def test_get_or_create_makes_one_from_conf() -> None:
    conf = Conf().setMaster("local").setAppName("from-conf")
    ctx = Context.getOrCreate(conf)
    try:
        assert ctx.appName == "from-conf"
        assert ctx.master == "local"
        assert Context.getOrCreate() is ctx
    finally:
        ctx.stop()


def test_conf_and_default_parallelism() -> None:
    conf = Conf().set("spark.default.parallelism", 5)
    with Context("local", "conf", conf=conf) as ctx:
        assert ctx.defaultParallelism == 5
        assert ctx.getConf().get("spark.master") == "local"
        assert ctx.getConf().get("spark.app.name") == "conf"
        assert ctx.parallelize(range(10)).getNumPartitions() == 5
        # with spark.default.parallelism set, by-key operations use it (PySpark's rule)
        assert ctx.parallelize([(1, 1)], 2).reduceByKey(lambda a, b: a + b).getNumPartitions() == 5
    with Context("local[2]", "conf2") as ctx:
        assert ctx.defaultParallelism == 2


def test_bad_master_is_rejected_and_leaves_no_active_context() -> None:
    with pytest.raises(ValueError, match="unknown master URL"):
        Context("spark://nowhere:7077", "bad")
    with pytest.raises(ValueError):
        Context("local[0]", "bad")
    assert Context._active_context() is None
    Context("local", "after").stop()


def test_context_cannot_be_shipped_to_tasks() -> None:
    with Context("local", "ship") as ctx:
        with pytest.raises(RuntimeError, match="only be used on the driver"):
            ctx.__reduce__()


def test_local_one_runs_in_the_driver() -> None:
    with Context("local[1]", "one") as ctx:
        assert ctx._backend.worker_pids() == []
        assert ctx.parallelize([1]).map(lambda _: os.getpid()).collect() == [os.getpid()]


def test_local_n_runs_in_other_processes() -> None:
    with Context("local[2]", "two") as ctx:
        pids = set(ctx.parallelize(range(8), 8).map(lambda _: os.getpid()).collect())
        assert os.getpid() not in pids
        assert pids <= set(ctx._backend.worker_pids())


def test_checkpoint_needs_a_directory() -> None:
    with Context("local", "no-checkpoint-dir") as ctx:
        with pytest.raises(ValueError, match="setCheckpointDir"):
            ctx.parallelize([1]).checkpoint()


def test_local_star_uses_every_core() -> None:
    with Context("local[*]", "star") as ctx:
        assert ctx.defaultParallelism == (os.cpu_count() or 1)
        assert len(ctx._backend.worker_pids()) == ctx.defaultParallelism
        assert ctx.parallelize(range(10)).sum() == 45


def test_workers_ignore_a_folder_in_the_working_directory_named_like_a_package(
        tmp_path: Any, monkeypatch: Any) -> None:
    """A checkpoint folder called ``checkpoint`` must not shadow the ``checkpoint`` package
    in worker processes (``python -m`` would put the working directory first)."""
    for name in ("checkpoint", "dstream"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("raise ImportError('the wrong package')\n")
    monkeypatch.chdir(tmp_path)
    with Context("local[2]", "shadow") as ctx:
        assert ctx.parallelize([1, 2, 3], 2).map(lambda x: x + 1).collect() == [2, 3, 4]


def test_an_rdds_context_offers_the_whole_public_api_of_context() -> None:
    """``RDD.context`` is typed by the protocol ``RDDContext`` (RDDs sit below the Context that
    makes them): it declares every public member but the class-level ``getOrCreate``."""
    public = {n for n in dir(Context) if not n.startswith("_")} - {"getOrCreate"}
    assert public == {n for n in dir(RDDContext) if not n.startswith("_")}
