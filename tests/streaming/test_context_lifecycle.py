"""StreamingContext lifecycle (PySpark's rules), the active context, and stable stream ids."""

from __future__ import annotations

import logging
import operator
import threading
from typing import Any

import pytest

from dstream import Context, StreamingContext
from dstream.errors import ContextStateError
from dstream.streaming import StreamingListener
from dstream.streaming.testing import advance_batch, collect_batches


def started(ssc: StreamingContext) -> StreamingContext:
    ssc.queueStream([[1]]).foreachRDD(lambda rdd: None)
    ssc.start()
    return ssc


# ---------------------------------------------------------------------- construction
def test_needs_a_context_and_a_batch_duration(ctx: Context) -> None:
    with pytest.raises(TypeError, match="StreamingContext needs a Context, got str"):
        StreamingContext("local", 1)
    with pytest.raises(ValueError, match="needs batchDuration"):
        StreamingContext(ctx)
    with pytest.raises(ValueError, match="batchDuration must be positive"):
        StreamingContext(ctx, 0)
    with pytest.raises(ValueError, match="unknown clock 'sundial'"):
        StreamingContext(ctx, 1, clock="sundial")


def test_states(ssc: StreamingContext) -> None:
    assert ssc.getState() == "INITIALIZED"
    started(ssc)
    assert ssc.getState() == "ACTIVE"
    ssc.stop(stopSparkContext=False)
    assert ssc.getState() == "STOPPED"


# ---------------------------------------------------------------------- start / stop
def test_second_start_only_warns(ssc: StreamingContext, caplog: pytest.LogCaptureFixture) -> None:
    started(ssc)
    with caplog.at_level(logging.WARNING, logger="dstream.streaming.context"):
        ssc.start()
    assert "StreamingContext has already been started" in caplog.text
    assert ssc.getState() == "ACTIVE"
    advance_batch(ssc)


def test_stop_twice_is_fine(ssc: StreamingContext) -> None:
    started(ssc)
    ssc.stop(stopSparkContext=False)
    ssc.stop(stopSparkContext=False)
    ssc.stop()
    assert ssc.getState() == "STOPPED"


def test_stop_before_start(ctx: Context) -> None:
    ssc = StreamingContext(ctx, 1, clock="manual")
    ssc.stop(stopSparkContext=False)
    assert ssc.getState() == "STOPPED"
    assert ctx.parallelize([1]).collect() == [1]


def test_start_after_stop_raises(ssc: StreamingContext) -> None:
    started(ssc)
    ssc.stop(stopSparkContext=False)
    with pytest.raises(ContextStateError, match="already been stopped"):
        ssc.start()
    assert isinstance(ContextStateError("x"), RuntimeError)


def test_stop_keeping_the_context_leaves_it_usable(ctx: Context) -> None:
    first = started(StreamingContext(ctx, 1, clock="manual"))
    advance_batch(first)
    first.stop(stopSparkContext=False)
    assert ctx.parallelize([1, 2, 3]).map(lambda x: x * 2).collect() == [2, 4, 6]
    second = StreamingContext(ctx, 1, clock="manual")
    batches = collect_batches(second.queueStream([["again"]]))
    second.start()
    advance_batch(second)
    second.stop(stopSparkContext=False)
    assert batches == [["again"]]


def test_stop_stops_the_context_by_default() -> None:
    ctx = Context("local")
    try:
        ssc = started(StreamingContext(ctx, 1, clock="manual"))
        ssc.stop()
        with pytest.raises(ContextStateError, match="this Context has been stopped"):
            ctx.parallelize([1])
    finally:
        ctx.stop()


def test_one_context_per_process(ctx: Context) -> None:
    with pytest.raises(ValueError, match="Cannot run multiple Contexts at once"):
        Context("local")


def test_one_active_streaming_context(ssc: StreamingContext, ctx: Context) -> None:
    started(ssc)
    other = StreamingContext(ctx, 1, clock="manual")
    other.queueStream([[1]]).foreachRDD(lambda rdd: None)
    with pytest.raises(ContextStateError, match="Only one StreamingContext may be started"):
        other.start()
    ssc.stop(stopSparkContext=False)
    other.start()
    other.stop(stopSparkContext=False)


@pytest.mark.parametrize("define", [
    lambda ssc, s: s.map(str),
    lambda ssc, s: s.foreachRDD(lambda rdd: None),
    lambda ssc, s: s.window(2),
    lambda ssc, s: s.reduceByKey(operator.add),
    lambda ssc, s: s.cache(),
    lambda ssc, s: s.checkpoint(2),
    lambda ssc, s: ssc.queueStream([[1]]),
    lambda ssc, s: ssc.remember(5),
], ids=["map", "foreachRDD", "window", "reduceByKey", "cache", "checkpoint", "queueStream", "remember"])
def test_adding_operators_after_start_raises(ssc: StreamingContext, define: Any) -> None:
    stream = ssc.queueStream([[1]])
    stream.foreachRDD(lambda rdd: None)
    ssc.start()
    with pytest.raises(ContextStateError, match="after starting a context is not supported"):
        define(ssc, stream)
    ssc.stop(stopSparkContext=False)
    with pytest.raises(ContextStateError, match="after stopping a context is not supported"):
        define(ssc, stream)


def test_await_termination_after_stop_returns(ssc: StreamingContext) -> None:
    started(ssc)
    assert ssc.awaitTerminationOrTimeout(0) is False
    ssc.stop(stopSparkContext=False)
    assert ssc.awaitTerminationOrTimeout(0) is True
    assert ssc.awaitTerminationOrTimeout(None) is True
    ssc.awaitTermination()
    ssc.awaitTermination(1)


def test_await_termination_returns_when_another_thread_stops(ssc: StreamingContext) -> None:
    started(ssc)
    stopper = threading.Thread(target=ssc.stop, kwargs={"stopSparkContext": False})
    stopper.start()
    ssc.awaitTermination()
    stopper.join()
    assert ssc.getState() == "STOPPED"


def test_graceful_stop_runs_the_generated_batches(ssc: StreamingContext) -> None:
    gate, submitted = threading.Event(), threading.Event()

    class Submitted(StreamingListener):
        def onBatchSubmitted(self, batchSubmitted: Any) -> None:
            if batchSubmitted.batchInfo().batchTime().milliseconds() == 3000:
                submitted.set()

    ssc.addStreamingListener(Submitted())
    seen: list[Any] = []
    ssc.queueStream([[1], [2], [3]]).foreachRDD(lambda rdd: gate.wait(30) and seen.append(rdd.collect()))
    ssc.start()
    ssc._clock.set_time(3000)               # three batches due at once; the first blocks
    assert submitted.wait(30)
    stopper = threading.Thread(target=ssc.stop, kwargs={"stopSparkContext": False, "stopGraceFully": True})
    stopper.start()
    gate.set()
    stopper.join(30)
    assert not stopper.is_alive()
    assert seen == [[1], [2], [3]]


# ---------------------------------------------------------------------- active context
def test_get_active(ssc: StreamingContext) -> None:
    assert StreamingContext.getActive() is None
    started(ssc)
    assert StreamingContext.getActive() is ssc
    ssc.stop(stopSparkContext=False)
    assert StreamingContext.getActive() is None


def test_get_active_or_create(ctx: Context, tmp_path: Any) -> None:
    made: list[StreamingContext] = []

    def setup() -> StreamingContext:
        made.append(StreamingContext(ctx, 1, clock="manual"))
        return made[-1]

    created = StreamingContext.getActiveOrCreate(None, setup)
    assert made == [created]
    started(created)
    try:
        assert StreamingContext.getActiveOrCreate(None, setup) is created
        assert StreamingContext.getActiveOrCreate(str(tmp_path), setup) is created
        assert len(made) == 1
    finally:
        created.stop(stopSparkContext=False)
    from_checkpoint_path = StreamingContext.getActiveOrCreate(str(tmp_path), setup)
    assert from_checkpoint_path is made[-1] and len(made) == 2
    from_checkpoint_path.stop(stopSparkContext=False)


def test_get_active_or_create_checks_the_setup_function(ctx: Context) -> None:
    with pytest.raises(TypeError, match="setupFunc must return a StreamingContext, got int"):
        StreamingContext.getActiveOrCreate(None, lambda: 1)


def test_checkpoint_directory_is_created(ssc: StreamingContext, ctx: Context, tmp_path: Any) -> None:
    target = tmp_path / "a" / "b"
    ssc.checkpoint(str(target))
    assert target.is_dir()
    assert ctx.getCheckpointDir() is not None and ctx.getCheckpointDir().startswith(str(target))
    with pytest.raises(ValueError, match="checkpoint needs a directory"):
        ssc.checkpoint("")


# ---------------------------------------------------------------------- stable ids
def test_ids_are_deterministic_and_readable(ssc: StreamingContext) -> None:
    words = ssc.queueStream([["a b"]])
    counts = words.flatMap(str.split).map(lambda w: (w, 1)).reduceByKey(operator.add)
    other = ssc.queueStream([[("a", 1)]])
    joined = counts.join(other)
    windowed = counts.window(2, 1)
    assert words.id == "queueStream-0"
    assert counts.id == "queueStream-0.flatMap.map.reduceByKey"
    assert joined.id == "join(queueStream-0.flatMap.map.reduceByKey,queueStream-1)"
    assert windowed.id == "queueStream-0.flatMap.map.reduceByKey.window"
    assert ssc.union(words, other).id == "union(queueStream-0,queueStream-1)"
    assert words.map(str).id == "queueStream-0.map"
    assert words.map(str).id == "queueStream-0.map#2"


def test_ids_are_the_same_in_a_new_context(ctx: Context) -> None:
    def define(ssc: StreamingContext) -> list[str]:
        s = ssc.queueStream([[("a", 1)]])
        return [s.id, s.mapValues(str).id, s.reduceByKeyAndWindow(operator.add, None, 2, 1).id,
                s.updateStateByKey(lambda v, s: 1).id]

    first, second = (StreamingContext(ctx, 1, clock="manual") for _ in range(2))
    try:
        assert define(first) == define(second)
        assert define(StreamingContext(ctx, 1))[3] == "queueStream-0.updateStateByKey"
    finally:
        first.stop(stopSparkContext=False)
        second.stop(stopSparkContext=False)


def test_name_sets_an_id_and_children_use_it(ssc: StreamingContext) -> None:
    source = ssc.queueStream([[1]]).setName("numbers")
    assert source.id == "numbers"
    assert source.map(str).setName("as-text").id == "as-text"
    assert source.filter(bool).id == "numbers.filter"
    assert ssc._graph.streams["numbers"] is source


def test_name_returns_the_id_and_the_old_setter_form_warns(ssc: StreamingContext) -> None:
    stream = ssc.queueStream([[1]])
    assert stream.name() == stream.id == "queueStream-0"
    with pytest.warns(DeprecationWarning, match=r"call DStream.setName\(name\)"):
        assert stream.name("numbers") is stream
    assert stream.name() == "numbers"


def test_remember_takes_seconds_like_the_context(ssc: StreamingContext) -> None:
    stream = ssc.queueStream([[1]])
    stream.remember(2.5)
    assert stream.remember_ms == 2500
    with pytest.raises(ValueError, match="remember"):
        stream.remember(-1)


def test_duplicate_names_are_rejected(ssc: StreamingContext) -> None:
    a = ssc.queueStream([[1]]).setName("x")
    b = ssc.queueStream([[2]])
    with pytest.raises(ValueError, match="the id 'x' is already used by QueueInputDStream\\[x\\]"):
        b.setName("x")
    with pytest.raises(ValueError, match="the id 'queueStream-1' is already used"):
        a.setName("queueStream-1")
    assert a.setName("x") is a                  # naming a stream its own name again is fine
    with pytest.raises(ValueError, match="non-empty string"):
        b.setName("  ")


def test_stop_from_an_output_operation(ssc: StreamingContext) -> None:
    seen: list[Any] = []

    def stop_after_two(rdd: Any) -> None:
        seen.append(rdd.collect())
        if len(seen) == 2:
            ssc.stop(stopSparkContext=False)

    ssc.queueStream([[1], [2], [3]]).foreachRDD(stop_after_two)
    ssc.start()
    advance_batch(ssc)
    ssc._clock.set_time(2000)
    assert ssc.awaitTerminationOrTimeout(30) is True
    assert seen == [[1], [2]] and ssc.getState() == "STOPPED"


def test_naming_after_start_raises(ssc: StreamingContext) -> None:
    stream = ssc.queueStream([[1]])
    stream.foreachRDD(lambda rdd: None)
    ssc.start()
    with pytest.raises(ContextStateError, match="cannot add setName"):
        stream.setName("late")


def test_a_streams_context_offers_the_whole_public_api_of_streaming_context() -> None:
    """``DStream.context()`` is typed by the protocol ``StreamingContextLike`` (the streams sit
    below the context): it declares every public member but the class-level ones."""
    from dstream.streaming.dstream import StreamingContextLike

    class_level = {"getActive", "getActiveOrCreate", "getOrCreate", "isRecovering"}
    public = {n for n in dir(StreamingContext) if not n.startswith("_")} - class_level
    assert public == {n for n in dir(StreamingContextLike) if not n.startswith("_")}
