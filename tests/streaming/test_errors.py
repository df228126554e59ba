"""Failures in user code: the batch's job fails, the user's own exception reaches
awaitTermination with notes naming the batch, the stream and where it was defined; later
batches go on; nothing hangs."""

from __future__ import annotations

import datetime as dt
import inspect
import operator
from typing import Any

import pytest

from dstream import StreamingContext
from dstream.errors import ContextStateError
from dstream.streaming import StateSpec
from dstream.streaming.testing import advance_batch, collect_batches


class RecordError(Exception):
    """The user's own exception type (module level, so worker processes can rebuild it)."""


def explode_on_two(x: int) -> int:
    if x == 2:
        raise RecordError(f"cannot handle {x}")
    return x


def notes(error: BaseException) -> str:
    return "\n".join(getattr(error, "__notes__", []))


def run_and_fail(ssc: StreamingContext, n: int) -> BaseException:
    ssc.start()
    for _ in range(n):
        advance_batch(ssc)
    with pytest.raises(Exception) as info:
        ssc.awaitTermination()            # no timeout: returns at once because a batch failed
    return info.value


@pytest.mark.parametrize("ctx", ["local", "local[2]", "dask-local[2]"], indirect=True)
def test_user_map_error_reaches_await_termination(ctx: Any, ssc: StreamingContext) -> None:
    numbers = ssc.queueStream([[1], [2], [3]])
    mapped, line = numbers.map(explode_on_two), inspect.currentframe().f_lineno
    defined_at = f"test_errors.py:{line}"
    out = collect_batches(mapped.map(lambda x: (x, 1)).reduceByKey(operator.add))
    error = run_and_fail(ssc, 3)
    assert type(error) is RecordError and str(error) == "cannot handle 2"
    text = notes(error)
    assert f"the batch of {dt.datetime.fromtimestamp(2)} (2000 ms)" in text   # the batch time
    assert f"queueStream-0.map (map defined at {defined_at})" in text   # the operator and its line
    assert out == [[(1, 1)], [(3, 1)]]                      # later batches went on


def test_error_is_raised_again_and_by_both_await_calls(ssc: StreamingContext) -> None:
    collect_batches(ssc.queueStream([[2]]).map(explode_on_two))
    ssc.start()
    advance_batch(ssc)
    with pytest.raises(RecordError):
        ssc.awaitTerminationOrTimeout(5)
    with pytest.raises(RecordError):
        ssc.awaitTermination(5)
    ssc.stop(stopSparkContext=False)
    with pytest.raises(RecordError):
        ssc.awaitTermination()


def test_the_latest_error_is_raised(ssc: StreamingContext) -> None:
    def fail(rdd: Any) -> None:
        raise RecordError(f"batch {rdd.collect()}")

    ssc.queueStream([[1], [2]]).foreachRDD(fail)
    ssc.start()
    advance_batch(ssc), advance_batch(ssc)
    with pytest.raises(RecordError, match=r"batch \[2\]"):
        ssc.awaitTerminationOrTimeout(0)


def test_failing_output_is_skipped_for_that_batch_only(ssc: StreamingContext) -> None:
    order: list[Any] = []

    def fragile(rdd: Any) -> None:
        values = rdd.collect()
        if values == [2]:
            raise RecordError("output failed")
        order.append(("fragile", values))

    stream = ssc.queueStream([[1], [2], [3]])
    stream.foreachRDD(lambda rdd: order.append(("before", rdd.collect())))
    stream.foreachRDD(fragile)
    stream.foreachRDD(lambda rdd: order.append(("after", rdd.collect())))
    error = run_and_fail(ssc, 3)
    assert isinstance(error, RecordError)
    assert order == [("before", [1]), ("fragile", [1]), ("after", [1]),
                     ("before", [2]), ("after", [2]),
                     ("before", [3]), ("fragile", [3]), ("after", [3])]
    text = notes(error)
    assert "output operation 1 (foreachRDD of queueStream-0, defined at test_errors.py:" in text
    assert "(2000 ms)" in text
    assert "queueStream-0.foreachRDD#2 (foreachRDD defined at test_errors.py:" in text


@pytest.mark.parametrize("define, stream_id, op", [
    (lambda s: s.map(lambda x: (x, 1)).reduceByKey(lambda a, b: a // 0),
     "queueStream-0.map.reduceByKey", "reduceByKey"),
    (lambda s: s.transform(lambda rdd: rdd.map(lambda x: 1 // 0)), "queueStream-0.transform", "transform"),
    (lambda s: s.transform(lambda rdd: 1 // 0), "queueStream-0.transform", "transform"),
    (lambda s: s.filter(lambda x: x > 0).flatMap(lambda x: [1 // 0]), "queueStream-0.filter.flatMap", "flatMap"),
    (lambda s: s.map(lambda x: ("k", x)).updateStateByKey(lambda vs, st: 1 // 0),
     "queueStream-0.map.updateStateByKey", "updateStateByKey"),
    (lambda s: s.map(lambda x: ("k", x)).mapValues(lambda v: v / 0), "queueStream-0.map.mapValues", "mapValues"),
    (lambda s: s.map(lambda x: ("k", x)).reduceByKeyAndWindow(operator.add, lambda a, b: a // 0, 5, 1),
     "queueStream-0.map.reduceByKey.reduceByKeyAndWindow", "reduceByKeyAndWindow"),
    (lambda s: s.map(lambda x: ("k", x)).mapWithState(StateSpec.function(lambda k, v, st: 1 // 0)),
     "queueStream-0.map.mapWithState", "mapWithState"),
], ids=["reduceByKey", "transform-task", "transform-driver", "flatMap", "updateStateByKey", "mapValues",
        "inverse", "mapWithState"])
def test_error_names_the_failing_operator(ssc: StreamingContext, checkpoint_dir: str, define: Any,
                                          stream_id: str, op: str) -> None:
    ssc.checkpoint(checkpoint_dir)
    collect_batches(define(ssc.queueStream([[1, 1]] * 7)))
    error = run_and_fail(ssc, 7)
    assert isinstance(error, ZeroDivisionError)
    assert f"{stream_id} ({op} defined at test_errors.py:" in notes(error)


def test_engine_errors_are_not_blamed_on_the_output_function(ssc: StreamingContext) -> None:
    """reduceByKey over records that are not pairs fails inside the engine: the output that
    ran the job is named, but no user function is blamed (its collect() only started the job)."""
    collect_batches(ssc.queueStream([[1]]).reduceByKey(operator.add))
    error = run_and_fail(ssc, 1)
    assert isinstance(error, TypeError)
    assert "output operation 0 (foreachRDD of queueStream-0.reduceByKey" in notes(error)
    assert "raised by a function of" not in notes(error)


def test_transform_returning_a_non_rdd_names_the_stream(ssc: StreamingContext) -> None:
    collect_batches(ssc.queueStream([[1]]).transform(lambda rdd: 42))
    error = run_and_fail(ssc, 1)
    assert isinstance(error, TypeError)
    assert "queueStream-0.transform (transform at test_errors.py:" in str(error)
    assert "must return an RDD, got int" in str(error)


def test_failed_state_batch_fails_the_later_ones(ssc: StreamingContext, checkpoint_dir: str) -> None:
    """Later states are built on the failed batch's state, so they fail too (as in Spark:
    the state RDD of the failed batch is remembered and recomputed from its lineage)."""
    ssc.checkpoint(checkpoint_dir)

    def update(new: list[int], state: Any) -> int:
        if 2 in new:
            raise RecordError("bad value")
        return sum(new) + (state or 0)

    out = collect_batches(ssc.queueStream([[("a", 1)], [("a", 2)], [("a", 3)]]).updateStateByKey(update))
    error = run_and_fail(ssc, 3)
    assert isinstance(error, RecordError)
    assert out == [[("a", 1)]]


def test_an_error_while_generating_a_batch_does_not_hang(ssc: StreamingContext) -> None:
    def broken_hook(time_ms: int, info: Any) -> None:
        if time_ms == 2000:
            raise RecordError("cannot allocate blocks")

    ssc._scheduler.before_generate.append(broken_hook)
    out = collect_batches(ssc.queueStream([[1], [2], [3]]))
    error = run_and_fail(ssc, 3)
    assert isinstance(error, RecordError)
    assert "generating the batch of" in notes(error) and "(2000 ms)" in notes(error)
    assert out == [[1], [2]]


def test_context_state_error_is_not_swallowed(ssc: StreamingContext) -> None:
    ssc.queueStream([[1]]).foreachRDD(lambda rdd: None)
    ssc.start()
    with pytest.raises(ContextStateError):
        ssc.queueStream([[1]])


def test_failed_batches_keep_the_checkpoint_files_they_need(ssc: StreamingContext, checkpoint_dir: str) -> None:
    """The state checkpointed at t=10 is the base of every later state while no newer
    checkpoint is written (each batch from t=12 on fails): its files are kept, so the batches
    keep failing with the user's error, never with a missing checkpoint file."""
    ssc.checkpoint(checkpoint_dir)
    ssc.sparkContext._scheduler.max_failures = 1

    def update(new: list[int], state: Any) -> int:
        if 12 in new:
            raise RecordError("bad value")
        return sum(new) + (state or 0)

    out = collect_batches(ssc.queueStream([[("a", t)] for t in range(1, 33)]).updateStateByKey(update))
    error = run_and_fail(ssc, 32)
    assert isinstance(error, RecordError)
    assert out[-1] == [("a", sum(range(1, 12)))] and len(out) == 11
