"""Replay of the write-ahead log at recovery: every logged block goes to exactly one completed
batch, for runs that cross many log segments and checkpoints, and a recovered job goes on
checkpointing, committing and cleaning its log.

A receiver stores numbered records (one block a batch) on the manual clock; a "crash" stops the
context without draining it, and ``getOrCreate`` recovers a new one from the same checkpoint.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from dstream import Conf, Context, StreamingContext, StreamingListener
from dstream.receivers import Receiver
from dstream.streaming.testing import advance_batch


class Numbers(Receiver):
    """Stores the numbers it is given as one block (a reliable bulk store)."""

    def onStart(self) -> None:
        pass

    def onStop(self) -> None:
        pass

    def emit(self, records: list[int]) -> None:
        self.store(records)


class Events(StreamingListener):
    def __init__(self) -> None:
        self.written: list[int] = []
        self.errors: list[str] = []
        self.recoveries: list[dict[str, Any]] = []

    def onCheckpointWritten(self, event: Any) -> None:
        if event.metadata:
            self.written.append(event.time_ms)

    def onCheckpointError(self, event: Any) -> None:
        self.errors.append(event.error)

    def onRecoveryCompleted(self, event: Any) -> None:
        self.recoveries.append(dict(event.replayed))


class Job:
    """A running total and a sliding window of a ``Numbers`` receiver, recoverable."""

    def __init__(self, checkpoint: str, conf: Conf) -> None:
        self.checkpoint = checkpoint
        self.conf = conf
        self.totals: dict[int, int] = {}
        self.windows: dict[int, int] = {}
        self.receiver: Numbers | None = None
        self.events = Events()

    def setup(self) -> StreamingContext:
        ctx = Context.getOrCreate(self.conf)
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.checkpoint(self.checkpoint)
        self.receiver = Numbers()
        numbers = ssc.receiverStream(self.receiver)
        totals = numbers.map(lambda n: ("sum", n)).updateStateByKey(
            lambda new, old: sum(new) + (old or 0))
        totals.foreachRDD(lambda t, rdd: self.totals.__setitem__(
            int(t.timestamp() * 1000), dict(rdd.collect()).get("sum", 0)))
        numbers.window(3, 1).foreachRDD(lambda t, rdd: self.windows.__setitem__(
            int(t.timestamp() * 1000), sum(rdd.collect())))
        return ssc

    def start(self, at_ms: int) -> StreamingContext:
        self.receiver = None
        ssc = StreamingContext.getOrCreate(self.checkpoint, self.setup)
        if self.receiver is None:
            raise AssertionError("getOrCreate did not build the graph from the job's code")
        ssc.addStreamingListener(self.events)
        ssc._clock.set_time(at_ms)
        ssc.start()
        return ssc

    def batch(self, ssc: StreamingContext, numbers: list[int]) -> None:
        """One block of ``numbers``, received before the next batch time, then that batch."""
        assert self.receiver is not None
        tracker = ssc._receiver_tracker.tracker
        before = tracker.records_received
        self.receiver.emit(numbers)
        assert tracker.wait_for_records(before + len(numbers), 30)
        advance_batch(ssc)
        assert ssc._checkpoints is not None and ssc._checkpoints.manager.flush(30)


def crash(ssc: StreamingContext) -> None:
    """Stop without draining, after what the writer had queued is written."""
    assert ssc._checkpoints is not None and ssc._checkpoints.manager.flush(30)
    ssc.stop(stopSparkContext=False)


@pytest.fixture(autouse=True)
def no_context_left() -> Any:
    """A failing test leaves no started StreamingContext behind for the next one."""
    yield
    active = StreamingContext.getActive()
    if active is not None:
        active.stop(stopSparkContext=True)


@pytest.fixture
def conf() -> Conf:
    return (Conf().setMaster("local").setAppName("log-replay")
            .set("dstream.streaming.receiver.writeAheadLog.enable", "true")
            .set("dstream.streaming.receiver.writeAheadLog.rollingIntervalSecs", 4)
            .set("dstream.checkpoint.key", "log-replay-test-key"))


def test_a_long_run_recovered_three_times_counts_every_record_once(conf: Conf, tmp_path: Any) -> None:
    """40 batches in 4 s segments (10 segments, 4 data checkpoints) before each crash: the
    blocks of cleaned-up batches still in a segment are not counted again (issue #17), and a
    recovered job writes its checkpoints again."""
    job = Job(os.fspath(tmp_path / "ckpt"), conf)
    t, n, expected = 0, 0, 0
    with Context.getOrCreate(conf):
        for run in range(4):
            ssc = job.start(t)
            written_before = len(job.events.written)
            for _ in range(40 if run < 3 else 5):
                block = list(range(n, n + 3))
                n += 3
                expected += sum(block)
                job.batch(ssc, block)
                t += 1000
            assert job.totals[t] == expected, f"run {run}: total at {t} ms"
            assert job.windows[t] == sum(range(n - 9, n)), f"run {run}: window at {t} ms"
            assert ssc._checkpoints is not None and ssc._checkpoints.manager.flush(30)
            ssc._bus.wait_until_empty()
            assert job.events.written[written_before:], f"run {run} wrote no metadata checkpoint"
            assert job.events.written[-1] == t and not job.events.errors
            segments = ssc._checkpoints.manager.store.list("wal/")
            # the log is cleaned after recoveries too: 20 s of remembered batches (2 state
            # checkpoint intervals) in 4 s segments, settled in the oldest of 3 generations
            assert len(segments) <= 8, segments
            crash(ssc)
    assert len(job.events.recoveries) == 3 and all(r["new"] == 0 for r in job.events.recoveries)


def test_blocks_received_after_the_checkpoint_are_replayed_as_new_data_once(conf: Conf,
                                                                            tmp_path: Any) -> None:
    """A block logged but not yet allocated when the job dies is counted by the first batch
    after recovery, and only by it."""
    job = Job(os.fspath(tmp_path / "ckpt"), conf)
    with Context.getOrCreate(conf):
        ssc = job.start(0)
        for i in range(12):
            job.batch(ssc, [1])
        before = ssc._receiver_tracker.tracker.records_received
        job.receiver.emit([100, 200])                       # logged, never allocated
        assert ssc._receiver_tracker.tracker.wait_for_records(before + 2, 30)
        crash(ssc)
        ssc = job.start(12_000)
        job.batch(ssc, [5])
        job.batch(ssc, [])
        assert job.totals[13_000] == 12 + 300 + 5 and job.totals[14_000] == 317
        ssc.stop(stopSparkContext=False)
    assert job.events.recoveries[-1]["new"] == 1


def test_a_fresh_start_replays_only_blocks_no_completed_batch_took(conf: Conf, tmp_path: Any) -> None:
    """``discardState=true`` starts the state fresh: blocks completed batches consumed are not
    counted again, blocks received after the checkpoint are."""
    job = Job(os.fspath(tmp_path / "ckpt"), conf)
    with Context.getOrCreate(conf):
        ssc = job.start(0)
        for _ in range(30):
            job.batch(ssc, [1])
        before = ssc._receiver_tracker.tracker.records_received
        job.receiver.emit([7])
        assert ssc._receiver_tracker.tracker.wait_for_records(before + 1, 30)
        crash(ssc)
    conf.set("dstream.checkpoint.discardState", "true")
    with Context.getOrCreate(conf):
        ssc = job.start(30_000)
        job.batch(ssc, [1])
        assert job.totals[31_000] == 8
        ssc.stop(stopSparkContext=False)


def test_a_checkpoint_bound_that_is_not_a_positive_duration_is_refused(conf: Conf, tmp_path: Any) -> None:
    conf.set("dstream.streaming.checkpoint.maxAge", "0")
    job = Job(os.fspath(tmp_path / "ckpt"), conf)
    with Context.getOrCreate(conf):
        with pytest.raises(ValueError, match="dstream.streaming.checkpoint.maxAge must be a positive duration"):
            job.start(0)
