"""Event-time windows and sessions on the manual clock: input batches -> operator -> the
results of each batch, with window bounds in epoch seconds."""

from __future__ import annotations

import operator
from typing import Any

import pytest

from dstream.streaming import StreamingContext, StreamingListener
from dstream.streaming.testing import advance_batch, collect_batches

from .conftest import Runner


def secs(batches: list[list[Any]]) -> list[list[tuple]]:
    """``((k, start, end), v)`` results as ``(k, start s, end s, v)``, sorted per batch."""
    return [sorted((k, s.timestamp(), e.timestamp(), v) for (k, s, e), v in b) for b in batches]


def ts(kv: tuple) -> float:
    return kv[1]


def test_a_window_is_emitted_in_the_batch_its_watermark_passes_not_later(
        run: Runner, checkpoint_dir: str) -> None:
    inputs = [[("a", 1.0), ("a", 4.0)], [("a", 9.5), ("b", 3.0)], [("a", 12.0)], [("b", 30.0)]]
    out = run(inputs, lambda s: s.withEventTime(ts, 2).countByKeyAndEventWindow(10),
              checkpoint=checkpoint_dir, sort=False)
    # watermarks after each batch: -1, 7.5, 10, 28
    assert secs(out) == [[], [], [("a", 0.0, 10.0, 3), ("b", 0.0, 10.0, 1)], [("a", 10.0, 20.0, 1)]]


def test_sliding_windows_count_a_record_in_every_window_that_holds_it(
        run: Runner, checkpoint_dir: str) -> None:
    inputs = [[("a", 7.0)], [("a", 20.0)]]
    out = run(inputs, lambda s: s.withEventTime(ts, 0).countByKeyAndEventWindow(10, 5),
              checkpoint=checkpoint_dir)
    assert secs(out) == [[], [("a", 0.0, 10.0, 1), ("a", 5.0, 15.0, 1)]]


def test_update_mode_emits_a_window_each_batch_it_changes_until_it_closes(
        run: Runner, checkpoint_dir: str) -> None:
    inputs = [[("a", 1.0)], [], [("a", 2.0), ("a", 3.0)], [("a", 11.0)], [("a", 4.0)]]
    out = run(inputs, lambda s: s.withEventTime(ts, 0).countByKeyAndEventWindow(10, mode="update"),
              checkpoint=checkpoint_dir)
    assert secs(out) == [[("a", 0.0, 10.0, 1)], [], [("a", 0.0, 10.0, 3)],
                         [("a", 10.0, 20.0, 1)], []]


def test_allowed_lateness_keeps_a_window_open_for_late_records(
        run: Runner, checkpoint_dir: str) -> None:
    inputs = [[("a", 1.0)], [("a", 12.0)], [("a", 2.0)], [("a", 15.0)], [("a", 3.0)]]
    out = run(inputs, lambda s: s.withEventTime(ts, 0).reduceByKeyAndEventWindow(
        lambda x, y: x + y, 10, allowedLateness=5).lateRecords(), checkpoint=checkpoint_dir)
    assert out == [[], [], [], [], [("a", 3.0)]]


def test_allowed_lateness_results(run: Runner, checkpoint_dir: str) -> None:
    inputs = [[("a", 1.0)], [("a", 12.0)], [("a", 2.0)], [("a", 15.0)], [("a", 3.0)]]
    out = run(inputs, lambda s: s.withEventTime(ts, 0).mapValues(lambda t: 1)
              .reduceByKeyAndEventWindow(operator.add, 10, allowedLateness=5),
              checkpoint=checkpoint_dir)
    assert secs(out) == [[], [], [], [("a", 0.0, 10.0, 2)], []]


def test_aggregate_may_change_its_accumulators_in_place(run: Runner, checkpoint_dir: str) -> None:
    def seq(acc: list, v: float) -> list:
        acc.append(v)
        return acc

    def comb(a: list, b: list) -> list:
        a.extend(b)
        return a

    inputs = [[("a", 1.0), ("a", 2.0)], [("a", 3.0)], [("a", 10.0)]]
    out = run(inputs, lambda s: s.withEventTime(ts, 0).aggregateByKeyAndEventWindow(
        [], seq, comb, 10, mode="update"), checkpoint=checkpoint_dir)
    assert [[(k, s, e, sorted(v)) for k, s, e, v in b] for b in secs(out)] == [
        [("a", 0.0, 10.0, [1.0, 2.0])], [("a", 0.0, 10.0, [1.0, 2.0, 3.0])],
        [("a", 10.0, 20.0, [10.0])]]


def test_an_out_of_order_record_merges_two_sessions(run: Runner, checkpoint_dir: str) -> None:
    inputs = [[("u", 1.0), ("u", 9.0)], [("u", 5.0)], [("u", 30.0)]]
    out = run(inputs, lambda s: s.withEventTime(ts, 10).mapValues(lambda t: [t])
              .reduceByKeyAndSessionWindow(operator.add, 5), checkpoint=checkpoint_dir)
    assert [[(k, s, e, sorted(v)) for k, s, e, v in b] for b in secs(out)] == [
        [], [], [("u", 1.0, 14.0, [1.0, 5.0, 9.0])]]


def test_a_session_record_below_the_watermark_is_late(run: Runner, checkpoint_dir: str) -> None:
    inputs = [[("u", 20.0)], [("u", 14.0), ("u", 16.0)]]
    sessions = run(inputs, lambda s: s.withEventTime(ts, 5).reduceByKeyAndSessionWindow(
        lambda a, b: a, 3).lateRecords().map(lambda kv: kv[1]), checkpoint=checkpoint_dir)
    assert sessions == [[], [14.0]]


def _idle_run(ssc: StreamingContext, checkpoint_dir: str, idle: float | None, n: int) -> list:
    ssc.checkpoint(checkpoint_dir)
    events = ssc.queueStream([[("a", 1.5)]]).withEventTime(ts, 1, idleTimeout=idle)
    batches = collect_batches(events.countByKeyAndEventWindow(2))
    ssc.start()
    for _ in range(n):
        advance_batch(ssc)
    ssc.awaitTerminationOrTimeout(0)
    return secs(batches)


def test_the_last_window_closes_without_new_input_after_idle_timeout(
        ssc: StreamingContext, checkpoint_dir: str) -> None:
    # batch 1 s (at 1 s: the record; watermark 0.5 s); idle from 4 s: 0.5 + 3 = 3.5 >= 2
    assert _idle_run(ssc, checkpoint_dir, 3, 6) == [[], [], [], [("a", 0.0, 2.0, 1)], [], []]


def test_without_idle_timeout_the_last_window_stays_open(
        ssc: StreamingContext, checkpoint_dir: str) -> None:
    assert _idle_run(ssc, checkpoint_dir, None, 8) == [[]] * 8


def test_batch_info_reports_watermark_late_records_and_open_windows(
        ssc: StreamingContext, checkpoint_dir: str) -> None:
    infos: list[Any] = []

    class Listener(StreamingListener):
        def onBatchCompleted(self, event: Any) -> None:
            infos.append(event.batchInfo())

    ssc.addStreamingListener(Listener())
    ssc.checkpoint(checkpoint_dir)
    inputs = [[("a", 5.0), ("b", 25.0)], [("a", 1.0), ("c", 3.0), ("a", 24.0)], [("a", 21.0)]]
    counts = ssc.queueStream(inputs).withEventTime(ts, 2).countByKeyAndEventWindow(10).setName("counts")
    collect_batches(counts)
    ssc.start()
    for _ in range(3):
        advance_batch(ssc)
    ssc.stop(stopSparkContext=False)
    ssc._bus.wait_until_empty(10)
    reports = [i.event_time["counts.state"] for i in infos]
    # watermark 23 s after the first batch (never back to 22 s); two late records in the second
    assert [r.watermark_ms % 100_000 for r in reports] == [23_000, 23_000, 23_000]
    assert [r.late_records for r in reports] == [0, 2, 0]
    assert [r.open_windows for r in reports] == [1, 2, 2]


def test_records_keep_their_event_time_through_map_filter_and_flat_map(
        run: Runner, checkpoint_dir: str) -> None:
    inputs = [[("x y", 1.0), ("z", 11.0)], [("w", 30.0)]]
    out = run(inputs, lambda s: s.withEventTime(ts, 0).map(lambda kv: kv[0])
              .flatMap(str.split).filter(lambda w: w != "z").map(lambda w: (w, 1))
              .countByKeyAndEventWindow(10), checkpoint=checkpoint_dir)
    # "z" (at 11 s) is filtered out before the operator, so it does not move the watermark
    assert secs(out) == [[], [("x", 0.0, 10.0, 1), ("y", 0.0, 10.0, 1)]]


@pytest.mark.parametrize("call, error", [
    (lambda e: e.countByKeyAndEventWindow(5, 10), "slideDuration"),
    (lambda e: e.countByKeyAndEventWindow(5, mode="append"), "mode"),
    (lambda e: e.countByKeyAndEventWindow(5, allowedLateness=-1), "allowedLateness"),
    (lambda e: e.reduceByKeyAndSessionWindow(operator.add, 0), "gap"),
])
def test_bad_arguments_are_refused_when_the_stream_is_defined(
        ssc: StreamingContext, call: Any, error: str) -> None:
    events = ssc.queueStream([]).withEventTime(ts, 1)
    with pytest.raises(ValueError, match=error):
        call(events)


def test_bad_functions_are_refused_when_the_stream_is_defined(ssc: StreamingContext) -> None:
    with pytest.raises(TypeError, match="withEventTime needs a timestamp function"):
        ssc.queueStream([]).withEventTime("ts", 1)
    with pytest.raises(TypeError, match="reduceByKeyAndEventWindow needs a function"):
        ssc.queueStream([]).withEventTime(ts, 1).reduceByKeyAndEventWindow(None, 5)


def test_a_bad_event_time_names_the_stream_and_the_record(run: Runner, checkpoint_dir: str) -> None:
    with pytest.raises(TypeError, match=r"withEventTime: .*record \('a', 'noon'\).*datetime or epoch"):
        run([[("a", "noon")]], lambda s: s.withEventTime(ts, 0).countByKeyAndEventWindow(10),
            checkpoint=checkpoint_dir)


@pytest.mark.parametrize("ctx", ["local", "local[2]", "dask-local[2]"], indirect=True)
def test_the_same_results_on_every_master(ctx: Any) -> None:
    import random

    from .test_event_time_properties import reference_windows, run_event_job
    rng = random.Random(14)
    batches = [[(rng.choice("abcd"), 2 * b + rng.randrange(-40, 20) / 10) for _ in range(12)]
               for b in range(8)]
    batches[5].append(("a", 0.5))                  # far behind the watermark: late
    times, emitted, late, infos = run_event_job(
        ctx, batches, lambda ev: ev.countByKeyAndEventWindow(4, 2, 1, numPartitions=3), 3, 6, 2, 2)
    expected, expected_late = reference_windows(batches + [[]] * 6, times, 4000, 2000, 1000, 2000, 2)
    assert [sorted((k, round(s.timestamp() * 1000), round(e.timestamp() * 1000), v)
                   for (k, s, e), v in b) for b in emitted] == [sorted(b) for b in expected]
    assert [sorted(b) for b in late] == [sorted(b) for b in expected_late]
    assert sum(len(b) for b in expected_late) >= 1 and sum(len(b) for b in expected) >= 8


def test_an_error_in_the_users_function_names_the_operator(run: Runner, checkpoint_dir: str) -> None:
    def boom(a: Any, b: Any) -> Any:
        raise ZeroDivisionError("boom")

    with pytest.raises(ZeroDivisionError) as info:
        run([[("a", 1.0), ("a", 2.0)]], lambda s: s.withEventTime(ts, 0).reduceByKeyAndEventWindow(
            boom, 10), checkpoint=checkpoint_dir)
    assert any("reduceByKeyAndEventWindow" in note for note in info.value.__notes__)


def test_datetimes_as_event_times(run: Runner, checkpoint_dir: str) -> None:
    import datetime as dt
    utc = dt.timezone.utc
    inputs = [[("a", dt.datetime(2026, 1, 1, 0, 0, 1, tzinfo=utc)),
               ("a", dt.datetime.fromtimestamp(dt.datetime(2026, 1, 1, 0, 0, 9, tzinfo=utc).timestamp()))],
              [("a", dt.datetime(2026, 1, 1, 0, 0, 10, tzinfo=utc))]]
    out = run(inputs, lambda s: s.withEventTime(ts, 0).countByKeyAndEventWindow(10),
              checkpoint=checkpoint_dir)
    start = dt.datetime(2026, 1, 1, tzinfo=utc).timestamp()
    assert secs(out) == [[], [("a", start, start + 10, 2)]]


def test_open_windows_survive_a_restart_with_get_or_create(ctx: Any, checkpoint_dir: str) -> None:
    def setup(inputs: list) -> StreamingContext:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.checkpoint(checkpoint_dir)
        counts = (ssc.queueStream(inputs).withEventTime(ts, 0)
                  .countByKeyAndEventWindow(10).checkpoint(1))
        batches.append(collect_batches(counts))
        return ssc

    batches: list[list] = []
    first = StreamingContext.getOrCreate(checkpoint_dir, lambda: setup([[("a", 1.0)], [("a", 2.0)]]))
    first.start()
    advance_batch(first)
    advance_batch(first)
    first.stop(stopSparkContext=False, stopGraceFully=True)
    second = StreamingContext.getOrCreate(checkpoint_dir, lambda: setup([[("a", 3.0), ("b", 15.0)]]))
    second._clock.set_time(2000)           # the recovered batch grid goes on at 3 s
    second.start()
    try:
        advance_batch(second)
    finally:
        second.stop(stopSparkContext=False)
    assert secs(batches[0]) == [[], []]
    assert secs(batches[1]) == [[("a", 0.0, 10.0, 3)]]
