"""BlockGenerator: cutting by interval and size, ids, bounded buffer, rate limits, stop, sink failures."""

from __future__ import annotations

import statistics
import threading
import time

import pytest

from dstream.receivers import BlockGenerator, BlockIds, GeneratorStoppedError, parse_block_id
from dstream.receivers.ratelimit import RateLimiter
from tests.receivers.conftest import CollectingSink


def started(sink: CollectingSink, **kwargs) -> BlockGenerator:
    kwargs.setdefault("block_ids", BlockIds())
    generator = BlockGenerator(kwargs.pop("stream_id", 0), sink, **kwargs)
    generator.start()
    return generator


def seqs(sink: CollectingSink) -> list[int]:
    return [parse_block_id(block.block_id)[1] for block in sink.blocks]


def test_blocks_are_cut_every_interval(sink: CollectingSink) -> None:
    generator = started(sink, block_interval_ms=50)
    stop = threading.Event()

    def produce() -> None:
        i = 0
        while not stop.is_set():
            generator.store(i)
            i += 1
            if i % 100 == 0:
                stop.wait(0.001)  # a steady trickle, not a flood

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        sink.wait_until(lambda: len(sink.blocks) >= 12, timeout=10, what="12 blocks")
    finally:
        stop.set()
        producer.join()
    assert generator.stop(graceful=True)
    gaps = [b - a for a, b in zip(sink.arrivals[1:11], sink.arrivals[2:12], strict=True)]
    assert 0.03 <= statistics.median(gaps) <= 0.09, gaps
    assert sink.records() == list(range(sink.record_count))


@pytest.mark.parametrize(
    ("now", "wall", "previous", "expected"),
    [
        (7.0, 1000.07, None, 7.08),     # next grid point minus the lead: 1000.15 on the wall
        (7.08, 1000.15, 7.08, 7.28),    # right at a cut: the next one, a whole interval on
        (7.0799999, 1000.1499999, 7.08, 7.28),  # a hair before the cut just made: not again
        (7.0, 1000.20, None, 7.15),     # the system clock moved ahead: the cuts follow it
    ],
)
def test_cuts_fall_the_lead_before_the_system_clocks_grid(
    sink: CollectingSink, now: float, wall: float, previous: float | None, expected: float
) -> None:
    generator = BlockGenerator(0, sink, block_interval_ms=200, cut_lead_ms=50,
                               clock=lambda: now, wall_clock=lambda: wall)
    assert generator.next_cut(now, previous) == pytest.approx(expected)


def test_without_a_lead_cuts_keep_the_phase_of_the_start(sink: CollectingSink) -> None:
    generator = BlockGenerator(0, sink, block_interval_ms=200)
    assert generator.next_cut(3.01) == pytest.approx(3.21)
    assert generator.next_cut(3.655, previous=3.21) == pytest.approx(3.81)


@pytest.mark.parametrize("lead_ms", [5, 30])
def test_blocks_are_cut_the_lead_before_each_interval_of_the_system_clock(
    sink: CollectingSink, lead_ms: int
) -> None:
    interval_ms = 50
    stored_at: list[float] = []
    store_block = sink.store_block

    def timed(*args: object, **kwargs: object) -> None:
        stored_at.append(time.time())
        store_block(*args, **kwargs)

    sink.store_block = timed  # type: ignore[method-assign]
    generator = started(sink, block_interval_ms=interval_ms, cut_lead_ms=lead_ms)
    try:
        for i in range(12):
            generator.store(i)
            sink.wait_until(lambda: len(sink.blocks) > i, timeout=10, what=f"block {i}")
    finally:
        generator.stop(graceful=True)
    # how long after its grid point (the multiple of the interval, less the lead) each block
    # was handed over: a few ms of thread wake-up, where an unaligned phase is anywhere in 50
    late_ms = [((t * 1000 + lead_ms) % interval_ms) for t in stored_at[1:]]
    assert statistics.median(late_ms) < 12, late_ms


def test_ids_increase_per_stream_across_generators_and_paths(sink: CollectingSink) -> None:
    ids = BlockIds()
    first = started(sink, stream_id=5, block_ids=ids, block_interval_ms=10)
    first.store("a")
    sink.wait_for_records(1, timeout=5)
    first.store_block(["b"])
    first.store("c")
    assert first.stop(graceful=True)
    second = started(sink, stream_id=5, block_ids=ids, block_interval_ms=10)  # a restarted receiver
    second.store_block(["d"])
    second.store("e")
    assert second.stop(graceful=True)
    assert [parse_block_id(b.block_id)[0] for b in sink.blocks] == [5] * 5
    assert seqs(sink) == [0, 1, 2, 3, 4]
    assert sink.records() == ["a", "b", "c", "d", "e"]


def test_a_full_buffer_is_cut_at_once_and_then_blocks_the_producer(sink: CollectingSink) -> None:
    generator = started(sink, capacity=100, block_interval_ms=60_000)  # only size cuts
    sink.hold()
    producer = threading.Thread(target=lambda: [generator.store(i) for i in range(350)])
    producer.start()
    try:
        sink.wait_until(
            lambda: (
                sink.calls == 1 and generator.blocked_producers == 1 and generator.buffered == 100
            ),
            10,
            "the first block to be held and the producer to block on a full buffer",
        )
        # Memory is bounded: the held block (100) plus a full buffer (100); nothing more was taken.
        assert generator.buffered == 100
        assert generator.records_received == 200
        assert producer.is_alive()
    finally:
        sink.release()
    producer.join(10)
    assert not producer.is_alive()
    assert generator.stop(graceful=True)
    assert sink.records() == list(range(350))
    assert max(len(b.records) for b in sink.blocks) == 100


def test_max_rate_throttles_store(sink: CollectingSink) -> None:
    generator = started(sink, max_rate=2000)
    began = time.monotonic()
    for i in range(1500):
        generator.store(i)
    elapsed = time.monotonic() - began
    assert generator.stop(graceful=True)
    # 1500 records at 2000/s after a burst of 100: about 0.7 s.
    assert 0.5 <= elapsed <= 1.5, elapsed
    assert sink.record_count == 1500


def test_dynamic_rate_limit_follows_set_rate_limit_and_initial_rate(sink: CollectingSink) -> None:
    generator = started(sink, initial_rate=1000, max_rate=4000)
    assert generator.rate_limit == 1000

    def seconds_for(count: int) -> float:
        began = time.monotonic()
        generator.store_all(range(count // 2))  # bulk and single stores share the bucket
        for i in range(count - count // 2):
            generator.store(i)
        return time.monotonic() - began

    assert 0.3 <= seconds_for(500) <= 1.0  # 1000/s, burst 50
    generator.set_rate_limit(10_000)  # capped by max_rate
    assert generator.rate_limit == 4000
    assert 0.3 <= seconds_for(2000) <= 1.0
    generator.set_rate_limit(None)  # back to max_rate only
    assert generator.rate_limit == 4000
    assert generator.stop(graceful=True)

    unlimited = started(CollectingSink())
    unlimited.set_rate_limit(500)
    unlimited.set_rate_limit(None)
    began = time.monotonic()
    unlimited.store_all(range(50_000))
    assert time.monotonic() - began < 0.5
    assert unlimited.rate_limit is None
    assert unlimited.stop(graceful=True)


def test_reliable_blocks_are_throttled_too(sink: CollectingSink) -> None:
    generator = started(sink, max_rate=1000)
    began = time.monotonic()
    for _ in range(4):
        generator.store_block(list(range(100)))
    assert 0.25 <= time.monotonic() - began <= 1.0  # 400 records at 1000/s, burst 50
    assert generator.stop(graceful=True)


def test_graceful_stop_loses_no_record_while_producers_run(sink: CollectingSink) -> None:
    generator = started(sink, capacity=1000, block_interval_ms=20)
    stored: list[list[tuple[int, int]]] = [[] for _ in range(3)]

    def produce(n: int) -> None:
        i = 0
        while True:
            try:
                generator.store((n, i))
            except GeneratorStoppedError:
                return
            stored[n].append((n, i))
            i += 1

    producers = [threading.Thread(target=produce, args=(n,)) for n in range(3)]
    for producer in producers:
        producer.start()
    sink.wait_for_records(30_000, timeout=20)
    assert generator.stop(graceful=True)
    for producer in producers:
        producer.join(10)
    accepted = sorted(record for records in stored for record in records)
    assert sorted(sink.records()) == accepted  # exactly the accepted records, each once
    assert generator.counters()["records_dropped"] == 0
    assert seqs(sink) == sorted(seqs(sink))


def test_stop_without_flush_drops_and_counts(sink: CollectingSink) -> None:
    errors: list[str] = []
    generator = started(
        sink, block_interval_ms=60_000, on_error=lambda msg, err, info: errors.append(msg)
    )
    generator.store_all(range(10))
    assert generator.stop(graceful=False)
    assert sink.record_count == 0
    assert generator.counters()["records_dropped"] == 10
    assert errors == [
        "stream 0: dropped 10 records: the generator was stopped without a graceful flush"
    ]


def test_a_failing_sink_is_retried_with_the_same_block_id(sink: CollectingSink) -> None:
    errors: list[tuple[str, dict]] = []
    generator = started(
        sink, block_interval_ms=10, on_error=lambda msg, err, info: errors.append((msg, info))
    )
    sink.fail_next(2)
    generator.store_all(["x", "y"])
    sink.wait_for_records(2, timeout=10)
    assert generator.stop(graceful=True)
    assert [b.block_id for b in sink.blocks] == ["input-0-0"]
    assert sink.calls == 3
    assert [info["block_id"] for _, info in errors] == ["input-0-0", "input-0-0"]
    assert "could not store block input-0-0 (2 records)" in errors[0][0]
    assert generator.counters() == {
        "blocks_stored": 1,
        "records_stored": 2,
        "records_dropped": 0,
        "store_failures": 2,
    }


def test_a_stop_timeout_ends_retrying_and_counts_the_loss(sink: CollectingSink) -> None:
    generator = started(sink, block_interval_ms=60_000)
    sink.fail_next(1_000)
    generator.store_all(range(7))
    assert generator.stop(graceful=True, timeout=0.3) is False
    assert generator.counters()["records_dropped"] == 7
    assert sink.record_count == 0


def test_reliable_store_returns_after_the_sink_stored_and_raises_its_failure(
    sink: CollectingSink,
) -> None:
    generator = started(sink)
    block_id = generator.store_block(iter(["a", "b"]), {"offset": 2})
    assert [(b.block_id, b.records, b.metadata) for b in sink.blocks] == [
        (block_id, ["a", "b"], {"offset": 2})
    ]
    sink.fail_next(1, RuntimeError("replica store down"))
    with pytest.raises(RuntimeError, match="replica store down"):
        generator.store_block(["c"])
    assert generator.stop(graceful=True)
    assert sink.records() == ["a", "b"]


def test_store_before_start_and_after_stop_raises(sink: CollectingSink) -> None:
    generator = BlockGenerator(3, sink, block_ids=BlockIds())
    with pytest.raises(GeneratorStoppedError, match="stream 3 is not started"):
        generator.store(1)
    generator.start()
    generator.store(1)
    assert generator.stop()
    for call in (
        lambda: generator.store(2),
        lambda: generator.store_all([2]),
        lambda: generator.store_block([2]),
    ):
        with pytest.raises(GeneratorStoppedError, match="stream 3 is stopped"):
            call()
    assert sink.records() == [1]


def test_a_stop_wakes_a_producer_blocked_on_the_full_buffer(sink: CollectingSink) -> None:
    generator = started(sink, capacity=10, block_interval_ms=60_000)
    sink.hold()
    outcome: list[BaseException] = []

    def produce() -> None:
        try:
            for i in range(100):
                generator.store(i)
        except GeneratorStoppedError as exc:
            outcome.append(exc)

    producer = threading.Thread(target=produce)
    producer.start()
    sink.wait_until(
        lambda: sink.calls == 1 and generator.blocked_producers == 1 and generator.buffered == 10,
        10,
        "the first block to be held and the producer to block on a full buffer",
    )
    stopper = threading.Thread(target=generator.stop, kwargs={"graceful": True})
    stopper.start()
    producer.join(10)
    assert len(outcome) == 1
    sink.release()
    stopper.join(10)
    assert sink.records() == list(range(20))  # the held block and the full buffer: all flushed


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"block_interval_ms": 0}, "block_interval_ms must be a number > 0"),
        ({"capacity": 0}, "capacity must be an int >= 1"),
        ({"max_rate": 0}, "max_rate must be None"),
        ({"initial_rate": -5}, "initial_rate must be None"),
        ({"cut_lead_ms": 200}, r"cut_lead_ms must be a number in \[0, block_interval_ms = 200\)"),
    ],
)
def test_bad_arguments_are_rejected(sink: CollectingSink, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BlockGenerator(0, sink, **kwargs)


def test_rate_limiter_keeps_the_long_run_rate_with_a_fake_clock() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds * 1.3  # every sleep overshoots by 30 %

    limiter = RateLimiter(1000, burst_s=0.01, clock=lambda: now[0], sleep=sleep)
    for _ in range(10_010):
        limiter.acquire()
    # 10 free, then 10 000 at 1000/s: about 10 s despite the overshoots.
    assert 9.9 <= now[0] <= 10.5
