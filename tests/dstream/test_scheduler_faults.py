"""Faults: killed workers, failing user code, closures that cannot be shipped.

Each test makes its own Context (this module does not use the shared ``ctx`` fixture). Waits
are on conditions (a FIFO the task writes to, a thread's end), never on sleeps.
"""

from __future__ import annotations

import operator
import os
import select
import signal
import threading
from pathlib import Path
from typing import Any, Callable

import pytest

from dstream import ClosurePicklingError, Conf, Context, TaskContext, WorkerLostError

MASTERS = ["local", "local[2]"]


class UserError(Exception):
    """A user's own exception type (importable, as a job's module usually is)."""


def context(master: str, max_failures: int = 4) -> Context:
    return Context(master, "faults", conf=Conf().set("dstream.task.maxFailures", max_failures))


def first_attempt(partition: int | None = None) -> bool:
    task = TaskContext.get()
    return task.attemptNumber() == 0 and (partition is None or task.partitionId() == partition)


def run_in_thread(job: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Run ``job`` in a thread; its value or exception lands in the returned dict."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = job()
        except BaseException as e:  # noqa: B902 - handed to the test
            outcome["error"] = e

    thread = threading.Thread(target=target, name="test-job")
    thread.start()
    return thread, outcome


# ---------------------------------------------------------------------- killed workers
def test_task_that_kills_its_worker_on_first_attempt() -> None:
    def die_once(x: int) -> int:
        if x == 5 and first_attempt():
            os.kill(os.getpid(), signal.SIGKILL)
        return x * 10

    with context("local[2]") as ctx:
        before = set(ctx._backend.worker_pids())
        assert ctx.parallelize(range(10), 4).map(die_once).collect() == [x * 10 for x in range(10)]
        after = set(ctx._backend.worker_pids())
        assert len(after) == 2 and len(before - after) == 1       # one worker was replaced
        assert ctx.parallelize(range(4), 4).map(lambda x: x + 1).sum() == 10


def _die_in_map(kv: tuple[int, int]) -> tuple[int, int]:
    if kv[1] == 7 and first_attempt():
        os.kill(os.getpid(), signal.SIGKILL)
    return kv


def _die_in_reduce(kv: tuple[int, list[int]]) -> tuple[int, int]:
    if first_attempt(partition=1):
        os.kill(os.getpid(), signal.SIGKILL)
    return kv[0], sum(kv[1])


def grouped_with_kills(ctx: Context, reduce_partitions: int) -> tuple[Any, Any, list[tuple[int, int]]]:
    """``(grouped, summed, expected)``: a groupByKey whose map task (record 7) and reduce task
    (partition 1) kill their worker on their first attempt; shared with the Dask tests."""
    data = [(i % 5, i) for i in range(40)]
    expected = sorted((k, sum(v for kk, v in data if kk == k)) for k in range(5))
    grouped = ctx.parallelize(data, 4).map(_die_in_map).groupByKey(reduce_partitions)
    return grouped, grouped.map(_die_in_reduce), expected


def test_worker_killed_in_map_and_in_reduce_stage() -> None:
    with context("local[2]") as ctx:
        grouped, summed, expected = grouped_with_kills(ctx, 3)
        assert sorted(summed.collect()) == expected
        assert sorted(grouped.mapValues(sum).collect()) == expected      # outputs reused, intact


def read_line_from_fifo(path: Path, job: threading.Thread) -> str:
    """The first line written to FIFO ``path``; fails at once if ``job`` ends before any
    writer shows up (rather than blocking in ``open`` forever)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        data = b""
        while not data.endswith(b"\n"):
            readable, _, _ = select.select([fd], [], [], 1.0)
            if readable:
                data += os.read(fd, 64)
            elif not job.is_alive():
                raise AssertionError("the job ended before its task reported its pid")
        return data.decode().strip()
    finally:
        os.close(fd)


def test_killing_a_busy_worker_from_outside(tmp_path: Path) -> None:
    started = tmp_path / "started"
    os.mkfifo(started)

    def slow(split: int, it):
        items = list(it)
        if split == 0 and first_attempt():
            with open(started, "w") as f:          # the test reads the pid from the FIFO
                f.write(f"{os.getpid()}\n")
            threading.Event().wait(120)           # the test kills this process meanwhile
            raise TimeoutError("the test did not kill this worker")
        return [sum(items)]

    with context("local[2]") as ctx:
        rdd = ctx.parallelize(range(20), 4).mapPartitionsWithIndex(slow)
        job, outcome = run_in_thread(rdd.collect)
        pid = int(read_line_from_fifo(started, job))
        try:
            assert pid in ctx._backend.worker_pids()
        finally:
            os.kill(pid, signal.SIGKILL)
            job.join(timeout=120)
        assert not job.is_alive()
        assert "error" not in outcome, outcome.get("error")
        assert outcome["value"] == [sum(range(0, 5)), sum(range(5, 10)), sum(range(10, 15)),
                                    sum(range(15, 20))]
        assert pid not in ctx._backend.worker_pids()


def test_idle_worker_killed_between_jobs() -> None:
    with context("local[2]") as ctx:
        assert ctx.parallelize(range(4), 2).sum() == 6
        victim = ctx._backend._workers[0].process
        victim.kill()
        victim.wait()
        assert ctx.parallelize(range(100), 8).map(lambda x: x * 2).sum() == 9900


def test_worker_lost_on_every_attempt_fails_the_job() -> None:
    def always_die(x: int) -> int:
        os.kill(os.getpid(), signal.SIGKILL)
        return x

    with context("local[2]", max_failures=2) as ctx:
        with pytest.raises(WorkerLostError, match="died") as info:
            ctx.parallelize([1], 1).map(always_die).collect()
        assert any("failed 2 time(s)" in note for note in info.value.__notes__)
        assert ctx.parallelize(range(5), 2).count() == 5         # the context is still usable


# ---------------------------------------------------------------------- failing user code
@pytest.mark.parametrize("master", MASTERS)
def test_user_exception_fails_the_job_after_max_failures(master: str, tmp_path: Path) -> None:
    attempts = tmp_path / "attempts"
    attempts.mkdir()

    def fail_on_three(x: int) -> int:
        if x == 3:
            task = TaskContext.get()
            (attempts / f"p{task.partitionId()}-a{task.attemptNumber()}").touch()
            raise UserError(f"cannot handle {x}")
        return x

    with context(master, max_failures=3) as ctx:
        rdd = ctx.parallelize(range(6), 3).map(fail_on_three)
        with pytest.raises(UserError, match="cannot handle 3") as info:
            rdd.collect()
        assert type(info.value) is UserError
        assert sorted(os.listdir(attempts)) == ["p1-a0", "p1-a1", "p1-a2"]
        notes = "\n".join(info.value.__notes__)
        assert repr(rdd) in notes                           # names the RDD (kind, id, call site)
        assert "test_scheduler_faults.py:" in notes
        assert "partition 1" in notes and "failed 3 time(s)" in notes
        if master != "local":
            assert "executor traceback" in notes and "fail_on_three" in notes
        assert ctx.parallelize(range(6), 3).filter(lambda x: x != 3).count() == 5


@pytest.mark.parametrize("master", MASTERS)
def test_exception_class_defined_in_a_function(master: str) -> None:
    class LocalError(ValueError):
        pass

    def fail(x: int) -> int:
        raise LocalError(f"local {x}")

    with context(master, max_failures=1) as ctx:
        with pytest.raises(LocalError, match="local 0"):
            ctx.parallelize([0]).map(fail).collect()


@pytest.mark.parametrize("master", MASTERS)
def test_unpicklable_exception_is_reported_by_name(master: str) -> None:
    class Unpicklable(Exception):
        def __init__(self, lock: Any) -> None:
            super().__init__("holds a lock")
            self.lock = lock

    def fail(x: int) -> int:
        raise Unpicklable(threading.Lock())

    with context(master, max_failures=1) as ctx:
        expected = Unpicklable if master == "local" else Exception
        with pytest.raises(expected, match="holds a lock") as info:
            ctx.parallelize([0]).map(fail).collect()
        if master != "local":
            assert "Unpicklable" in str(info.value)


@pytest.mark.parametrize("master", MASTERS)
def test_flaky_tasks_are_retried_in_every_stage(master: str) -> None:
    def flaky_map(kv: tuple[int, int]) -> tuple[int, int]:
        if kv[1] == 4 and first_attempt():
            raise UserError("map side, once")
        return kv

    def flaky_reduce(kv: tuple[int, Any]) -> tuple[int, list[int]]:
        values = sorted(kv[1])
        if first_attempt(partition=0):
            raise UserError("reduce side, once")
        return kv[0], values

    def flaky_after_join(kv: tuple[int, Any]) -> tuple[int, Any]:
        if first_attempt(partition=0):
            raise UserError("after the join, once")
        return kv

    data = [(i % 3, i) for i in range(12)]
    expected = sorted((k, [v for kk, v in data if kk == k]) for k in range(3))
    with context(master, max_failures=2) as ctx:
        grouped = ctx.parallelize(data, 3).map(flaky_map).groupByKey(2)
        assert sorted(grouped.map(flaky_reduce).collect()) == expected
        joined = ctx.parallelize(data, 2).join(ctx.parallelize([(0, "z"), (1, "o")], 1))
        assert sorted(joined.map(flaky_after_join).collect()) == sorted((k, (v, "zo"[k])) for k, v in data if k < 2)


@pytest.mark.parametrize("master", MASTERS)
def test_a_failing_action_leaves_the_context_usable(master: str) -> None:
    with context(master, max_failures=1) as ctx:
        with pytest.raises(ZeroDivisionError):
            ctx.parallelize([1, 0], 2).map(lambda x: 1 // x).collect()
        assert ctx.parallelize([("a", 1), ("a", 2)], 2).reduceByKey(operator.add).collect() == [("a", 3)]


# ---------------------------------------------------------------------- closures
def test_closure_capturing_a_lock_names_the_variable() -> None:
    guard = threading.Lock()

    def locked(x: int) -> int:
        with guard:
            return x + 1

    with context("local[2]", max_failures=1) as ctx:
        with pytest.raises(ClosurePicklingError) as info:
            ctx.parallelize([1, 2], 2).map(locked).collect()
        message = str(info.value)
        assert "'guard'" in message and "lock" in message
        assert "locked" in message and "test_scheduler_faults.py" in message
        assert isinstance(info.value, TypeError)
        assert ctx.parallelize([1, 2], 2).map(lambda x: x + 1).collect() == [2, 3]
    with context("local") as ctx:       # tasks in the driver's thread are not pickled
        assert ctx.parallelize([1, 2], 2).map(locked).collect() == [2, 3]


def test_closure_capturing_the_context_is_rejected() -> None:
    with context("local[2]", max_failures=1) as ctx:
        with pytest.raises(ClosurePicklingError, match="ctx"):
            ctx.parallelize([1]).map(lambda x: ctx.defaultParallelism + x).collect()



def test_a_shuffle_collected_while_the_scheduler_holds_its_lock_neither_deadlocks_nor_leaks() -> None:
    """A finished shuffle's map outputs are forgotten by a weakref finalizer, which the garbage
    collector runs at any allocation: also inside the scheduler's own locked sections (it did,
    in the RDD property tests, and the job hung for good). Forgetting must not wait for the
    lock, and the outputs must still be dropped."""
    import gc

    with Context("local", "gc-shuffles") as ctx:
        counts = ctx.parallelize([(k, 1) for k in range(3)] * 2, 2).reduceByKey(operator.add)
        assert counts.count() == 3
        scheduler = ctx._scheduler
        held = scheduler.shuffle_count()

        def collected_inside_a_locked_section() -> int:
            with scheduler._lock:          # where weakref.finalize and dict updates allocate
                del counts_box[:]          # the RDD and its shuffle become garbage here
                gc.collect()               # ... and are collected, finalizer included
            return scheduler.shuffle_count()

        counts_box = [counts]
        del counts
        thread, outcome = run_in_thread(collected_inside_a_locked_section)
        thread.join(60)
        assert not thread.is_alive(), "forgetting a collected shuffle waited for the scheduler's lock"
        assert held == 1 and outcome == {"value": 0}


def test_the_stages_a_worker_is_known_to_hold_stay_bounded_over_many_jobs() -> None:
    # the driver notes which stages' code each worker holds; a stage that will not run again
    # leaves that note too (it grew by every stage of a long-running streaming job)
    with Context("local[2]", "known-stages") as ctx:
        for _ in range(60):
            pairs = ctx.parallelize(range(12), 2).map(lambda x: (x % 3, x))
            assert sorted(pairs.reduceByKey(operator.add).collect()) == [(0, 18), (1, 22), (2, 26)]
        known = [len(worker.known_stages) for worker in ctx._backend._workers]
    assert max(known) <= 2, known
