"""Event-time windows and sessions against a brute-force reference, on random input.

Random timestamps (out of order, duplicated, some far behind the watermark), empty batches
(idle gaps), random batch splits and partition counts: the emitted windows and sessions equal
the reference computed from the whole input, each in the batch whose watermark closes it,
none twice, and every late record is counted as late and appears in ``lateRecords()``.
"""

from __future__ import annotations

import operator
import tempfile
from collections import Counter, defaultdict
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dstream import Context, StreamingContext
from dstream.streaming.testing import advance_batch

KEYS = ["a", "b", "c"]

record = st.tuples(st.sampled_from(KEYS), st.integers(0, 80).map(lambda t: t / 2))
batches_strategy = st.lists(st.lists(record, max_size=8), min_size=1, max_size=9)


def _ms(t: float) -> int:
    return round(t * 1000)


class Reference:
    """The semantics written out plainly: the watermark per batch, lateness per record."""

    def __init__(self, delay: int, idle: int | None) -> None:
        self.delay, self.idle = delay, idle
        self.wm: int | None = None
        self.max_event: int | None = None
        self.last_data: int | None = None

    def advance(self, batch: list[tuple[str, float]], batch_ms: int) -> None:
        times = [_ms(t) for _, t in batch]
        if times:
            self.last_data = batch_ms
            self.max_event = max(times + ([self.max_event] if self.max_event is not None else []))
        if self.max_event is None:
            return
        candidate = self.max_event - self.delay
        if self.idle is not None and batch_ms - self.last_data >= self.idle:
            candidate += batch_ms - self.last_data
        self.wm = candidate if self.wm is None else max(self.wm, candidate)


def _run(batches: list[list[tuple[str, float]]], build: Any, parts: int, extra: int,
         delay: float, idle: float | None
         ) -> tuple[list[int], list[list[Any]], list[list[Any]], list[Any]]:
    with Context("local") as ctx:
        return run_event_job(ctx, batches, build, parts, extra, delay, idle)


def run_event_job(ctx: Context, batches: list[list[tuple[str, float]]], build: Any, parts: int,
                  extra: int, delay: float, idle: float | None
                  ) -> tuple[list[int], list[list[Any]], list[list[Any]], list[Any]]:
    """Run ``build(events)`` over the batches (plus ``extra`` empty ones); the batch times,
    the emitted results and late records of each batch, and the BatchInfos."""
    with tempfile.TemporaryDirectory() as tmp:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.checkpoint(tmp)
        rdds = [ctx.parallelize(b, parts) for b in batches]
        events = ssc.queueStream(rdds).withEventTime(lambda kv: kv[1], delay, idleTimeout=idle)
        out = build(events)
        times: list[int] = []
        emitted: list[list[Any]] = []
        late: list[list[Any]] = []
        infos: list[Any] = []
        out.foreachRDD(lambda t, rdd: (times.append(round(t.timestamp() * 1000)),
                                       emitted.append(rdd.collect())))
        out.lateRecords().foreachRDD(lambda rdd: late.append(rdd.collect()))
        from dstream.streaming import StreamingListener

        class Infos(StreamingListener):
            def onBatchCompleted(self, event: Any) -> None:
                infos.append(event.batchInfo())

        ssc.addStreamingListener(Infos())
        ssc.start()
        try:
            for _ in range(len(batches) + extra):
                advance_batch(ssc)
            ssc.awaitTerminationOrTimeout(0)
        finally:
            ssc.stop(stopSparkContext=False)
        return times, emitted, late, infos


def _window_key(r: Any) -> tuple:
    (k, s, e), v = r
    return (k, _ms(s.timestamp()), _ms(e.timestamp()), v)


params = st.fixed_dictionaries({
    "size": st.integers(1, 6), "slide_div": st.sampled_from([1, 2, 3]),
    "lateness": st.integers(0, 3), "delay": st.integers(0, 4),
    "idle": st.sampled_from([None, 2, 3]), "parts": st.integers(1, 3),
    "key_parts": st.integers(1, 3)})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=batches_strategy, p=params)
def test_event_windows_equal_the_brute_force_reference(batches: list, p: dict) -> None:
    size = p["size"] * 1000
    slide = size // p["slide_div"] if size % p["slide_div"] == 0 else size
    lateness = p["lateness"] * 1000
    extra = 12 if p["idle"] else 0
    times, emitted, late, infos = _run(
        batches, lambda ev: ev.countByKeyAndEventWindow(size / 1000, slide / 1000, lateness / 1000,
                                                        numPartitions=p["key_parts"]),
        p["parts"], extra, p["delay"], p["idle"])
    inputs = batches + [[]] * extra
    expected_open: list[int] = []
    expected, expected_late = reference_windows(inputs, times, size, slide, lateness,
                                                p["delay"] * 1000, p["idle"],
                                                open_counts=expected_open)
    seen: set = set()
    for i in range(len(inputs)):
        got = [_window_key(r) for r in emitted[i]]
        assert sorted(got) == sorted(expected[i]), f"batch {i} at {times[i]} ms"
        assert not seen & set(got), "a window was emitted twice"
        seen |= set(got)
        assert Counter(late[i]) == Counter(expected_late[i]), f"late records of batch {i}"
        reported = sum(e.late_records for e in infos[i].event_time.values())
        assert reported == len(expected_late[i])
        assert sum(e.open_windows for e in infos[i].event_time.values()) == expected_open[i]


def reference_windows(inputs: list[list[tuple[str, float]]], times: list[int], size: int,
                      slide: int, lateness: int, delay: int, idle: int | None,
                      mode: str = "final", open_counts: list[int] | None = None
                      ) -> tuple[list[list[tuple]], list[list[tuple]]]:
    """Per batch: the windows ``(key, start ms, end ms, count)`` that close (``final``) or
    that changed (``update``), and the late records, by brute force over every window; the
    (key, window) pairs still open after each batch appended to ``open_counts``."""
    ref = Reference(delay, None if idle is None else idle * 1000)
    counts: Counter = Counter()
    done: set = set()
    expected, late = [], []
    for i, batch in enumerate(inputs):
        before = ref.wm
        late.append([])
        touched = set()
        for k, t in batch:
            tm = _ms(t)
            starts = [s for s in range((tm // slide) * slide, tm - size, -slide)]
            if before is not None and min(starts) + size + lateness <= before:
                late[-1].append((k, t))
            for s in starts:
                if before is None or s + size + lateness > before:
                    counts[(k, s)] += 1
                    touched.add((k, s))
        ref.advance(batch, times[i])
        expected.append([])
        if mode == "update":
            expected[-1] = [(k, s, s + size, counts[(k, s)]) for k, s in touched]
        elif ref.wm is not None:
            for (k, s), n in counts.items():
                if (k, s) not in done and s + size + lateness <= ref.wm:
                    done.add((k, s))
                    expected[-1].append((k, s, s + size, n))
        if open_counts is not None:
            open_counts.append(sum(1 for _k, s in counts
                                   if ref.wm is None or s + size + lateness > ref.wm))
    return expected, late


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=batches_strategy, p=params)
def test_update_mode_emits_each_changed_window_with_its_value(batches: list, p: dict) -> None:
    size = p["size"] * 1000
    slide = size // p["slide_div"] if size % p["slide_div"] == 0 else size
    lateness = p["lateness"] * 1000
    times, emitted, late, _infos = _run(
        batches, lambda ev: ev.countByKeyAndEventWindow(size / 1000, slide / 1000, lateness / 1000,
                                                        mode="update", numPartitions=p["key_parts"]),
        p["parts"], 0, p["delay"], p["idle"])
    expected, expected_late = reference_windows(batches, times, size, slide, lateness,
                                                p["delay"] * 1000, p["idle"], mode="update")
    for i in range(len(batches)):
        assert sorted(_window_key(r) for r in emitted[i]) == sorted(expected[i]), f"batch {i}"
        assert Counter(late[i]) == Counter(expected_late[i])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=batches_strategy, p=params)
def test_sessions_equal_the_brute_force_reference(batches: list, p: dict) -> None:
    gap = p["size"] * 1000
    lateness = p["lateness"] * 1000
    extra = 12 if p["idle"] else 0
    times, emitted, late, _infos = _run(
        batches, lambda ev: ev.mapValues(lambda t: [t]).reduceByKeyAndSessionWindow(
            operator.add, gap / 1000, lateness / 1000, numPartitions=p["key_parts"]),
        p["parts"], extra, p["delay"], p["idle"])
    ref = Reference(p["delay"] * 1000, None if p["idle"] is None else p["idle"] * 1000)
    on_time: dict[str, list[int]] = defaultdict(list)
    emitted_all: list[tuple] = []
    done: set = set()
    inputs = batches + [[]] * extra
    for i, batch in enumerate(inputs):
        before = ref.wm
        expected_late = []
        for k, t in batch:
            if before is not None and _ms(t) < before - lateness:
                expected_late.append((k, [t]))
            else:
                on_time[k].append(_ms(t))
        ref.advance(batch, times[i])
        expected = [s for s in _sessions(on_time, gap)
                    if ref.wm is not None and s[2] + lateness <= ref.wm and s[:3] not in done]
        done |= {s[:3] for s in expected}
        got = [(k, _ms(s.timestamp()), _ms(e.timestamp()), sorted(v)) for (k, s, e), v in emitted[i]]
        assert sorted(got) == sorted(expected), f"batch {i} at {times[i]} ms"
        emitted_all.extend(got)
        assert Counter(map(repr, late[i])) == Counter(map(repr, expected_late))
    # every emitted session is a session of the whole on-time input, and none came twice
    whole = {repr(s) for s in _sessions(on_time, gap)}
    assert all(repr(s) in whole for s in emitted_all)
    assert len({s[:3] for s in emitted_all}) == len(emitted_all)


def _sessions(on_time: dict[str, list[int]], gap: int) -> list[tuple]:
    out = []
    for k, times in on_time.items():
        times = sorted(times)
        first = last = times[0]
        members = [times[0]]
        for t in times[1:]:
            if t - last < gap:
                last = t
                members.append(t)
            else:
                out.append((k, first, last + gap, sorted(m / 1000 for m in members)))
                first = last = t
                members = [t]
        out.append((k, first, last + gap, sorted(m / 1000 for m in members)))
    return out


# ---------------------------------------------------------------------- the open-window count
pane_keys = st.lists(st.tuples(st.integers(-6, 12), st.frozensets(st.sampled_from("abcdefg"))),
                     max_size=14)


@settings(max_examples=200, deadline=None)
@given(arrivals=pane_keys, size=st.integers(1, 6), slide=st.integers(1, 6),
       limit=st.one_of(st.none(), st.integers(-6, 18)))
def test_distinct_keys_per_window_kept_up_to_date_equal_a_recount(
        arrivals: list[tuple[int, frozenset[str]]], size: int, slide: int, limit: int | None
) -> None:
    """Keys coming into panes in any order (``count_new_keys``) give every window's distinct
    keys as counted from its panes, also when the slide does not divide the window (panes of
    ``gcd(size, slide)``); ``distinct_keys`` counts a state afresh the same way."""
    import math

    from dstream.streaming.event_open import count_new_keys, distinct_keys, open_windows
    from dstream.streaming.event_time import window_starts
    size, slide = size * 1000, min(slide, size) * 1000
    g = math.gcd(size, slide)
    distinct: dict[int, int] = {}
    panes: dict[int, dict[str, int]] = {}
    for n, keys in arrivals:
        p = n * g
        new = set(keys) - panes.get(p, {}).keys()
        count_new_keys(distinct, panes, p, new, size, slide)
        panes[p] = {**panes.get(p, {}), **dict.fromkeys(keys, 1)}
    starts = {s for p in panes for s in window_starts(p, size, slide)}
    recount = {s: len(set().union(*(panes[p] for p in panes if s <= p < s + size)))
               for s in starts}
    assert {s: n for s, n in distinct.items() if n} == {s: n for s, n in recount.items() if n}
    assert {s: n for s, n in distinct_keys(panes, size, slide).items() if n} == \
        {s: n for s, n in recount.items() if n}
    ms = None if limit is None else limit * 1000
    assert open_windows(distinct, size, ms) == sum(
        n for s, n in recount.items() if ms is None or s + size > ms)


def test_a_pane_state_saved_before_the_distinct_counts_were_kept_counts_them_afresh() -> None:
    """A ``PaneState`` pickled with three fields (before ``distinct``) loads; the next batch
    reports the same open windows as a state that kept them."""
    import pickle

    from dstream.streaming.event_state import Bucket
    from dstream.streaming.event_windows import Aggregation, FinalWindows, PaneState
    w = FinalWindows(4_000, 1_000, 0, "final", Aggregation.counting())
    first = w.merge(None, iter([(Bucket(0), ({0: {"a": 2}, 1_000: {"a": 1, "b": 1},
                                               3_000: {"c": 1}}, []))]), None, 1_000)
    state = first.open
    old = pickle.loads(pickle.dumps(PaneState(state.panes, state.open_windows, state.running)))
    assert old.distinct is None
    batch = [(Bucket(0), ({4_000: {"a": 1, "d": 1}}, []))]
    kept = w.merge(state, iter(batch), 1_000, 2_000)
    recounted = w.merge(old, iter(batch), 1_000, 2_000)
    assert recounted.open.open_windows == kept.open.open_windows
    assert recounted.open.distinct == kept.open.distinct


# ---------------------------------------------------------------------- the map side
line_runs = st.lists(st.tuples(st.integers(-5, 30), st.lists(st.sampled_from(KEYS), min_size=1,
                                                             max_size=12)), min_size=1, max_size=80)


@settings(max_examples=150, deadline=None)
@given(lines=line_runs, size=st.integers(1, 4), slide_div=st.sampled_from([1, 2]),
       wm=st.one_of(st.none(), st.integers(-5, 30)), lateness=st.integers(0, 2),
       key_parts=st.integers(1, 3))
def test_a_counting_map_task_equals_counting_record_by_record(
        lines: list[tuple[int, list[str]]], size: int, slide_div: int, wm: int | None,
        lateness: int, key_parts: int) -> None:
    """Words stamped with their line's time (runs of equal times, read a run at a time) are
    counted per pane and set aside as late exactly as a record-by-record reference does."""
    from dstream.streaming.event_chunks import CHUNK
    from dstream.streaming.event_state import EventRoute
    from dstream.streaming.event_windows import Aggregation, Windows
    size_ms = size * 1000
    w = Windows(size_ms, size_ms // slide_div, lateness * 1000, "final", Aggregation.counting())
    wm_ms = None if wm is None else wm * 1000
    stamped = [(t * 500, (k, 1)) for t, words in lines for k in words]
    chunks = [([t for t, _r in stamped[i:i + CHUNK]], [r for _t, r in stamped[i:i + CHUNK]])
              for i in range(0, len(stamped), CHUNK)]
    entries, top, count = w.pre_aggregate(iter(chunks), wm_ms, EventRoute(key_parts))
    got: dict[int, Counter[str]] = defaultdict(Counter)
    got_late: list[tuple[int, Any]] = []
    for _bucket, (groups, late) in entries:
        for p, part in groups.items():
            got[p].update(part)
        got_late.extend(late)
    closed = None if wm_ms is None else wm_ms - lateness * 1000
    expected: dict[int, Counter[str]] = defaultdict(Counter)
    expected_late = []
    for t, record in stamped:
        pane = t // w.pane * w.pane
        status = w._pane_status(pane, closed)
        if status:
            expected_late.append((t, record))
        if status != 2:
            expected[pane][record[0]] += 1
    assert dict(got) == dict(expected)
    assert sorted(got_late) == sorted(expected_late)
    assert (top, count) == (max(t for t, _r in stamped), len(stamped))
