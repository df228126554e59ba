"""StreamingListener: which events arrive, in what order, with which BatchInfo, on which thread."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from dstream import StreamingContext
from dstream.streaming import BatchInfo, StreamingListener
from dstream.streaming.testing import advance_batch

EVENTS = ["onStreamingStarted", "onBatchSubmitted", "onBatchStarted", "onBatchCompleted",
          "onOutputOperationStarted", "onOutputOperationCompleted", "onReceiverStarted",
          "onReceiverError", "onReceiverStopped"]


class Recorder(StreamingListener):
    """Keeps every event with the thread that delivered it."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.threads: set[str] = set()

    def __getattribute__(self, name: str) -> Any:
        if name in EVENTS:
            def record(event: Any) -> None:
                self.events.append((name, event))
                self.threads.add(threading.current_thread().name)
            return record
        return super().__getattribute__(name)

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def of(self, name: str) -> list[Any]:
        return [event for n, event in self.events if n == name]


class Boom(RuntimeError):
    pass


def fail_second(rdd: Any) -> None:
    if rdd.collect() == [2]:
        raise Boom("second batch")


@pytest.fixture
def recorded(ssc: StreamingContext) -> tuple[StreamingContext, Recorder, list[str]]:
    """Two batches with two outputs: the first takes 300 ms of (manual) clock time, the
    second fails on batch 2."""
    recorder = Recorder()
    ssc.addStreamingListener(recorder)
    batch_threads: list[str] = []

    def slow(rdd: Any) -> None:
        batch_threads.append(threading.current_thread().name)
        ssc._clock.advance(300)

    stream = ssc.queueStream([[1], [2]])
    stream.foreachRDD(slow)
    stream.foreachRDD(fail_second)
    ssc.start()
    advance_batch(ssc), advance_batch(ssc)
    assert ssc._bus.wait_until_empty(30)
    return ssc, recorder, batch_threads


def test_event_order(recorded: Any) -> None:
    _, recorder, _ = recorded
    per_batch = ["onBatchSubmitted", "onBatchStarted",
                 "onOutputOperationStarted", "onOutputOperationCompleted",
                 "onOutputOperationStarted", "onOutputOperationCompleted", "onBatchCompleted"]
    assert recorder.names() == ["onStreamingStarted"] + per_batch * 2


def test_delivered_off_the_batch_thread(recorded: Any) -> None:
    _, recorder, batch_threads = recorded
    assert recorder.threads == {"dstream-listener-bus"}
    assert set(batch_threads) == {"dstream-batch-0"}


def test_batch_info_fields(recorded: Any) -> None:
    _, recorder, _ = recorded
    first, second = (e.batchInfo() for e in recorder.of("onBatchCompleted"))
    assert isinstance(first, BatchInfo)
    assert [first.batchTime().milliseconds(), second.batchTime().milliseconds()] == [1000, 2000]
    assert (first.submissionTime(), first.processingStartTime(), first.processingEndTime()) == (1000, 1000, 1300)
    assert (first.schedulingDelay(), first.processingDelay(), first.totalDelay()) == (0, 300, 300)
    assert (second.submissionTime(), second.processingStartTime(), second.processingEndTime()) == (2000, 2000, 2300)
    # Spark's queue stream reports no input information, so its batches count 0 records
    assert first.numRecords() == 0 and first.streamIdToInputInfo() == {}


def test_total_delay_is_scheduling_delay_plus_processing_time_as_in_spark() -> None:
    late = BatchInfo(batch_time_ms=1000, submission_time_ms=1005, processing_start_time_ms=1200,
                     processing_end_time_ms=1500)
    assert (late.schedulingDelay(), late.processingDelay(), late.totalDelay()) == (195, 300, 495)
    # a graceful stop's drain runs the last batch before its batch time
    early = BatchInfo(batch_time_ms=2000, submission_time_ms=1300, processing_start_time_ms=1310,
                      processing_end_time_ms=1350)
    assert (early.schedulingDelay(), early.processingDelay(), early.totalDelay()) == (10, 40, 50)


def test_submitted_and_started_batch_info(recorded: Any) -> None:
    _, recorder, _ = recorded
    submitted = recorder.of("onBatchSubmitted")[0].batchInfo()
    started = recorder.of("onBatchStarted")[0].batchInfo()
    assert (submitted.submissionTime(), submitted.processingStartTime(), submitted.schedulingDelay(),
            submitted.totalDelay()) == (1000, None, None, None)
    assert (started.processingStartTime(), started.schedulingDelay(), started.processingEndTime(),
            started.processingDelay()) == (1000, 0, None, None)


def test_output_operation_infos(recorded: Any) -> None:
    _, recorder, _ = recorded
    first, second = (e.batchInfo() for e in recorder.of("onBatchCompleted"))
    ops = first.outputOperationInfos()
    assert sorted(ops) == [0, 1]
    assert [ops[i].name for i in (0, 1)] == ["foreachRDD", "foreachRDD"]
    assert "test_listener.py:" in ops[0].description and "queueStream-0.foreachRDD" in ops[0].description
    assert (ops[0].startTime(), ops[0].endTime(), ops[0].duration()) == (1000, 1300, 300)
    assert ops[0].failureReason() is None and ops[1].failureReason() is None
    assert not first.failed
    failed = second.outputOperationInfos()
    assert failed[0].failureReason() is None
    assert failed[1].failureReason() is not None
    assert "Boom: second batch" in failed[1].failureReason()
    assert "fail_second" in failed[1].failureReason()
    assert second.failed
    assert failed[1].batchTime().milliseconds() == 2000


def test_output_operation_events(recorded: Any) -> None:
    _, recorder, _ = recorded
    started = [e.outputOperationInfo() for e in recorder.of("onOutputOperationStarted")]
    completed = [e.outputOperationInfo() for e in recorder.of("onOutputOperationCompleted")]
    assert [(o.batch_time_ms, o.id) for o in started] == [(1000, 0), (1000, 1), (2000, 0), (2000, 1)]
    assert all(o.endTime() is None for o in started)
    assert [o.failureReason() is None for o in completed] == [True, True, True, False]


def test_streaming_started_time(recorded: Any) -> None:
    _, recorder, _ = recorded
    assert recorder.of("onStreamingStarted")[0].time() == 0


def test_await_termination_raises_the_failed_output(recorded: Any) -> None:
    ssc, _, _ = recorded
    with pytest.raises(Boom, match="second batch"):
        ssc.awaitTerminationOrTimeout(0)


def test_remove_listener_stops_delivery(ssc: StreamingContext) -> None:
    recorder = Recorder()
    ssc.addStreamingListener(recorder)
    ssc.queueStream([[1], [2]]).foreachRDD(lambda rdd: None)
    ssc.start()
    advance_batch(ssc)
    assert ssc._bus.wait_until_empty(30)
    ssc.removeStreamingListener(recorder)
    count = len(recorder.events)
    advance_batch(ssc)
    assert ssc._bus.wait_until_empty(30)
    assert len(recorder.events) == count


def test_a_failing_listener_does_not_stop_the_stream(ssc: StreamingContext) -> None:
    class Broken(StreamingListener):
        def onBatchCompleted(self, batchCompleted: Any) -> None:
            raise ValueError("listener bug")

    recorder = Recorder()
    ssc.addStreamingListener(Broken())
    ssc.addStreamingListener(recorder)
    out: list[Any] = []
    ssc.queueStream([[1], [2]]).foreachRDD(lambda rdd: out.append(rdd.collect()))
    ssc.start()
    advance_batch(ssc), advance_batch(ssc)
    assert ssc._bus.wait_until_empty(30)
    assert out == [[1], [2]]
    assert len(recorder.of("onBatchCompleted")) == 2
    assert ssc.awaitTerminationOrTimeout(0) is False


def test_listener_must_be_a_streaming_listener(ssc: StreamingContext) -> None:
    with pytest.raises(TypeError, match="StreamingListener subclass"):
        ssc.addStreamingListener(object())


def _posted_events() -> set[str]:
    """Every callback name the engine posts on a listener bus, read from its source: the
    names in ``bus.post("on…", …)`` calls and in tables of them (receiver events)."""
    import pathlib
    import re

    import dstream
    root = pathlib.Path(dstream.__file__).parent
    pattern = re.compile(r"""["'](on[A-Z][A-Za-z]+)["']""")
    names: set[str] = set()
    for path in root.rglob("*.py"):
        names.update(pattern.findall(path.read_text(encoding="utf-8")))
    return names


def test_every_event_the_engine_posts_has_a_documented_no_op_on_a_bare_listener(caplog: Any) -> None:
    from dstream.streaming.listener import ListenerBus

    posted = _posted_events()
    assert {"onCheckpointWritten", "onCheckpointError", "onRecoveryCompleted", "onReceiverError",
            "onReceiverBadRecord", "onBatchCompleted"} <= posted        # the scan finds them
    for name in sorted(posted):
        method = getattr(StreamingListener, name, None)
        assert callable(method), f"the engine posts {name}, which StreamingListener does not define"
        assert method.__doc__, f"StreamingListener.{name} has no docstring"
    bus = ListenerBus()
    bus.add(StreamingListener())
    bus.start()
    try:
        for name in sorted(posted):
            bus.post(name, time_ms=1000)
        assert bus.wait_until_empty(10)
    finally:
        bus.stop()
    assert not [r for r in caplog.records if "failed in" in r.getMessage()], caplog.text
