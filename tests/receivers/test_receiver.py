"""The Receiver API under a ReceiverSupervisor: storing, restarts with backoff, events, stopping."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from dstream.receivers import BlockIds, Receiver, ReceiverSupervisor, parse_block_id
from tests.receivers.conftest import CollectingSink


class Scripted(Receiver):
    """A receiver whose reading thread runs ``script(self, start_number)``; it counts its starts."""

    def __init__(
        self, script: Callable[[Scripted, int], None], storageLevel: object = None
    ) -> None:
        super().__init__(storageLevel)
        self.script = script
        self.starts = 0
        self.stops = 0
        self.outcomes: list[object] = []

    def onStart(self) -> None:
        self.starts += 1
        self.start_thread(self.script, self, self.starts)

    def onStop(self) -> None:
        self.stops += 1


def supervise(receiver: Receiver, sink: CollectingSink, **kwargs) -> ReceiverSupervisor:
    kwargs.setdefault("restart_delay_s", 0.02)
    kwargs.setdefault("max_restart_delay_s", 0.5)
    kwargs.setdefault("block_interval_ms", 20)
    kwargs.setdefault("block_ids", BlockIds())
    supervisor = ReceiverSupervisor(receiver, kwargs.pop("stream_id", 1), sink, sink, **kwargs)
    supervisor.start()
    return supervisor


def test_a_custom_receiver_stores_records_and_reports_its_lifecycle(sink: CollectingSink) -> None:
    def script(receiver: Scripted, start: int) -> None:
        for i in range(10_000):
            receiver.store(("key", i))  # a tuple is one record
        idle = threading.Event()
        while not receiver.isStopped():  # a receiver's loop: poll the source until stopped
            idle.wait(0.01)

    receiver = Scripted(script, storageLevel="MEMORY_AND_DISK_2")
    supervisor = supervise(receiver, sink, stream_id=4)
    records = sink.wait_for_records(10_000, timeout=10)
    assert records == [("key", i) for i in range(10_000)]
    assert supervisor.is_alive() and receiver.isStarted() and not receiver.isStopped()
    assert (receiver.streamId, receiver.storageLevel, receiver.preferredLocation()) == (
        4,
        "MEMORY_AND_DISK_2",
        None,
    )
    assert supervisor.stop(graceful=True, timeout=10)
    assert not supervisor.is_alive() and receiver.isStopped() and receiver.stops == 1
    started, stopped = sink.events
    assert (started.kind, started.stream_id, started.info["name"]) == ("started", 4, "Scripted-4")
    assert stopped.kind == "stopped"
    assert (
        stopped.info["records_stored"] == 10_000
        and stopped.info["graceful"]
        and stopped.info["flushed"]
    )
    assert {b.stream_id for b in sink.blocks} == {4}


def test_an_exception_escaping_a_receiver_thread_restarts_it_with_backoff(
    sink: CollectingSink,
) -> None:
    def script(receiver: Scripted, start: int) -> None:
        if start <= 3:
            raise ConnectionRefusedError(f"source down (start {start})")
        receiver.store(f"hello from start {start}")

    receiver = Scripted(script)
    supervisor = supervise(receiver, sink, restart_delay_s=0.02, max_restart_delay_s=1.0)
    assert sink.wait_for_records(1, timeout=10) == ["hello from start 4"]
    errors = sink.events_of("error")
    assert [e.info["restart_in_s"] for e in errors] == [0.02, 0.04, 0.08]  # doubling
    assert [e.info["attempt"] for e in errors] == [1, 2, 3]
    assert errors[0].info["error"] == "ConnectionRefusedError('source down (start 1)')"
    assert "uncaught exception in thread Scripted-1-1" in errors[0].info["message"]
    # A thread may fail before onStart returned: then that start has no "started" event.
    sink.wait_until(lambda: sink.event_kinds()[-1:] == ["started"], 10, "the last start")
    assert sink.event_kinds().count("error") == 3
    assert supervisor.counters()["restarts"] == 3
    assert receiver.stops == 3  # onStop ran before every restart
    assert supervisor.stop(graceful=True)


def test_backoff_starts_over_once_a_restarted_receiver_stored_records(sink: CollectingSink) -> None:
    def script(receiver: Scripted, start: int) -> None:
        if start in (2, 4):
            receiver.store(f"start {start}")
            sink.wait_for_records(
                1 if start == 2 else 2, timeout=10
            )  # wait until the block was stored
        if start < 5:
            receiver.restart(f"restart after start {start}")

    receiver = Scripted(script)
    supervisor = supervise(receiver, sink, restart_delay_s=0.02)
    sink.wait_until(lambda: receiver.starts == 5 and supervisor.state == "started", 10, "5 starts")
    assert [e.info["restart_in_s"] for e in sink.events_of("error")] == [0.02, 0.02, 0.04, 0.02]
    assert supervisor.stop()


def test_restart_with_an_explicit_delay_and_message(sink: CollectingSink) -> None:
    def script(receiver: Scripted, start: int) -> None:
        if start == 1:
            receiver.restart("config changed", delay=0.05)

    receiver = Scripted(script)
    supervisor = supervise(receiver, sink)
    sink.wait_until(
        lambda: receiver.starts == 2 and sink.event_kinds()[-1:] == ["started"], 10, "the restart"
    )
    (error,) = sink.events_of("error")
    assert (error.info["message"], error.info["error"], error.info["restart_in_s"]) == (
        "config changed",
        None,
        0.05,
    )
    assert supervisor.stop()


def test_on_start_failing_is_retried_and_stop_ends_the_backoff_at_once(
    sink: CollectingSink,
) -> None:
    class Broken(Receiver):
        def onStart(self) -> None:
            raise OSError("no such device")

        def onStop(self) -> None:
            pass

    supervisor = supervise(Broken(), sink, restart_delay_s=0.02, max_restart_delay_s=30.0)
    sink.wait_until(lambda: len(sink.events_of("error")) >= 4, 10, "4 failed starts")
    assert supervisor.state == "restarting" and supervisor.is_alive()
    assert all(e.info["message"] == "Broken-1: onStart failed" for e in sink.events_of("error"))
    assert supervisor.stop(graceful=True, timeout=5)  # does not wait out the backoff
    assert supervisor.state == "stopped"
    assert "started" not in sink.event_kinds()


def test_reliable_store_is_its_own_block_and_returns_once_stored(sink: CollectingSink) -> None:
    def script(receiver: Scripted, start: int) -> None:
        receiver.store("buffered")
        receiver.store(["a", "b"], metadata={"offsets": {"p0": 2}})
        receiver.outcomes.append(
            [b.records for b in sink.blocks if b.metadata]
        )  # what the sink had then
        receiver.store(iter(["c"]))
        receiver.outcomes.append(len(sink.blocks))
        receiver.store_record(["one", "record"])  # a list as a single buffered record

    receiver = Scripted(script)
    supervisor = supervise(receiver, sink, block_interval_ms=60_000)
    sink.wait_until(lambda: len(receiver.outcomes) == 2, 10, "the script")
    assert receiver.outcomes[0] == [["a", "b"]]
    assert supervisor.stop(graceful=True)
    blocks = [(b.records, b.metadata) for b in sink.blocks]
    assert blocks == [
        (["a", "b"], {"offsets": {"p0": 2}}),
        (["c"], {}),
        (["buffered", ["one", "record"]], {}),
    ]
    assert [parse_block_id(b.block_id) for b in sink.blocks] == [(1, 0), (1, 1), (1, 2)]
    with pytest.raises(TypeError, match="metadata goes with a block"):
        receiver.store("one", metadata={"x": 1})


def test_a_failing_sink_makes_the_reliable_store_raise(sink: CollectingSink) -> None:
    def script(receiver: Scripted, start: int) -> None:
        try:
            receiver.store(["x", "y"])
        except ConnectionError as exc:
            receiver.outcomes.append(exc)
        receiver.store(["z"])
        receiver.outcomes.append("stored")

    sink.fail_next(1, ConnectionError("all replicas down"))
    receiver = Scripted(script)
    supervisor = supervise(receiver, sink)
    sink.wait_until(lambda: len(receiver.outcomes) == 2, 10, "the script")
    assert [str(o) for o in receiver.outcomes] == ["all replicas down", "stored"]
    assert sink.records() == ["z"]
    assert supervisor.stop()


def test_report_error_and_bad_records_are_events_without_a_restart(sink: CollectingSink) -> None:
    def script(receiver: Scripted, start: int) -> None:
        receiver.reportError("slow source", TimeoutError("read took 5 s"))
        for offset in range(25):
            receiver.report_bad_record("malformed", f"bad record at {offset}", offset=offset)
        receiver.report_bad_record("too_long", "long record", offset=99)
        receiver.outcomes.append("done")

    receiver = Scripted(script)
    supervisor = supervise(receiver, sink, bad_record_events_per_s=10)
    sink.wait_until(lambda: receiver.outcomes == ["done"], 10, "the script")
    (error,) = sink.events_of("error")
    assert (
        error.info["message"] == "slow source"
        and error.info["error"] == "TimeoutError('read took 5 s')"
    )
    bad = sink.events_of("bad_record")
    # At most 10 events per reason and second; the others are counted, never lost.
    assert [e.info["offset"] for e in bad if e.info["reason"] == "malformed"] == list(range(10))
    assert [e.info["offset"] for e in bad if e.info["reason"] == "too_long"] == [99]
    assert supervisor.bad_records == {"malformed": 25, "too_long": 1}
    assert bad[-1].info["bad_records"] == {"malformed": 25, "too_long": 1}
    assert supervisor.counters()["restarts"] == 0
    assert supervisor.stop()


def test_a_receiver_can_stop_itself(sink: CollectingSink) -> None:
    def script(receiver: Scripted, start: int) -> None:
        receiver.store_all(range(100))
        receiver.stop("source exhausted")

    supervisor = supervise(Scripted(script), sink, block_interval_ms=60_000)
    stopped = sink.wait_for_event("stopped", timeout=10)
    assert stopped.info["message"] == "Scripted-1 source exhausted"
    assert sink.records() == list(range(100))  # the graceful stop flushed the buffer
    sink.wait_until(lambda: not supervisor.is_alive(), 10, "the supervisor to stop")
    assert supervisor.stop()  # already stopped: returns the result


def test_a_stop_without_flush_drops_the_buffer_and_counts_it(sink: CollectingSink) -> None:
    def script(receiver: Scripted, start: int) -> None:
        receiver.store_all(range(42))
        receiver.outcomes.append("stored")

    receiver = Scripted(script)
    supervisor = supervise(receiver, sink, block_interval_ms=60_000)
    sink.wait_until(lambda: receiver.outcomes == ["stored"], 10, "the script")
    assert supervisor.stop(graceful=False)
    assert sink.record_count == 0
    assert supervisor.counters()["records_dropped"] == 42
    assert sink.events_of("stopped")[0].info["records_dropped"] == 42


def test_a_thread_that_ignores_stop_is_reported_and_left_behind(sink: CollectingSink) -> None:
    release = threading.Event()

    def script(receiver: Scripted, start: int) -> None:
        release.wait(30)  # ignores isStopped()

    supervisor = supervise(Scripted(script), sink, thread_join_timeout_s=0.1)
    sink.wait_for_event("started", timeout=10)
    try:
        assert supervisor.stop(graceful=True)
        messages = [e.info["message"] for e in sink.events_of("error")]
        assert messages == [
            "Scripted-1: thread(s) Scripted-1-1 did not stop within 0.1 s after onStop; left running"
        ]
    finally:
        release.set()


def test_set_rate_limit_reaches_the_block_generator(sink: CollectingSink) -> None:
    def script(receiver: Scripted, start: int) -> None:
        pass

    supervisor = supervise(Scripted(script), sink, max_rate=1000)
    assert supervisor.rate_limit == 1000
    supervisor.set_rate_limit(250)
    assert supervisor.rate_limit == 250
    supervisor.set_rate_limit(None)
    assert supervisor.rate_limit == 1000
    with pytest.raises(ValueError, match="records_per_s must be None"):
        supervisor.set_rate_limit(-1)
    assert supervisor.stop()


def test_a_receiver_belongs_to_one_running_supervisor(sink: CollectingSink) -> None:
    receiver = Scripted(lambda r, s: None)
    supervisor = supervise(receiver, sink)
    with pytest.raises(RuntimeError, match="already belongs to a ReceiverSupervisor"):
        ReceiverSupervisor(receiver, 2, sink)
    assert supervisor.stop()
    again = supervise(receiver, sink, stream_id=2)  # once stopped, it can run again
    assert receiver.streamId == 2
    assert again.stop()
    with pytest.raises(RuntimeError, match="already started"):
        again.start()


class Misconfigured(Receiver):
    """Stores one record, then finds its configuration can never work."""

    def onStart(self) -> None:
        self.start_thread(self.run)

    def onStop(self) -> None:
        pass

    def run(self) -> None:
        self.store(["before"])
        self.reportError("the source hiccuped")                  # transient: goes on
        self.fail("password refused", PermissionError("bad password"))


def test_fail_stops_the_receiver_for_good_with_a_fatal_error_and_no_restart(sink: CollectingSink) -> None:
    supervisor = supervise(Misconfigured(), sink, restart_delay_s=0.01)
    stopped = sink.wait_for_event("stopped", 10)
    assert supervisor.stop(graceful=True, timeout=10)
    transient, fatal = sink.events_of("error")
    assert (transient.info["kind"], transient.info["fatal"]) == ("transient", False)
    assert (fatal.info["kind"], fatal.info["fatal"], fatal.info["message"]) == ("fatal", True, "password refused")
    assert "restart_in_s" not in fatal.info
    assert stopped.info["fatal"] is True
    kinds = sink.event_kinds()     # "started" too, unless fail() came before onStart returned
    assert kinds.count("error") == 2 and kinds[-1] == "stopped" and kinds.count("stopped") == 1
    assert supervisor.state == "stopped" and sink.records() == ["before"]
    counters = supervisor.counters()
    assert counters["restarts"] == 0 and counters["errors"] == {"transient": 1, "fatal": 1}
    message, error = supervisor.fatal_error
    assert message == "password refused" and isinstance(error, PermissionError)
