"""Map tasks run ahead (``dstream.scheduler.ahead``): each received block's map side runs when
the block is stored, and the batch takes those tasks. What must not change: every batch's
results, accumulators counted once, a failing task retried as the batch's own, a block that
lands in another batch than predicted computed by that batch; and what must not run ahead:
functions that change from batch to batch, the ``local`` backend, the setting off."""

from __future__ import annotations

import hashlib
import logging
import operator
import os
from collections import Counter as Tally
from typing import Any, Callable

import pytest

from dstream import Context, StreamingContext
from dstream.conf import Conf
from dstream.streaming.dstream import DStream
from dstream.streaming.testing import advance_batch, collect_batches

from .test_block_release import Words

BATCHES = 12
BLOCKS = 3          # blocks a batch


def block_words(batch: int, block: int) -> list[str]:
    return ["w%d" % ((batch * 7 + block * 3 + i) % 11) for i in range(15 + block)]


def batch_words(batch: int) -> list[str]:
    return [w for block in range(BLOCKS) for w in block_words(batch, block)]


def run(master: str, build: Callable[[DStream[str]], list[Any]], batches: int = BATCHES,
        conf: Conf | None = None, on_stored: Callable[[Any], Any] | None = None,
        checkpoint: str | None = None) -> tuple[list[Any], dict[str, int], Context]:
    """``build`` the outputs over a receiver's stream, feed BLOCKS blocks a batch; the outputs'
    batches, the scheduler's counts of tasks run ahead, and the (stopped) context."""
    with Context(master, "ahead", conf=conf) as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        if checkpoint is not None:
            ssc.checkpoint(checkpoint)
        receiver = Words()
        outputs = build(ssc.receiverStream(receiver))
        if on_stored is not None:
            sink = ssc._receiver_tracker.sink
            sink.on_stored = on_stored(sink.on_stored)
        ssc.start()
        emitted = 0
        try:
            for batch in range(1, batches + 1):
                for block in range(BLOCKS):
                    records = block_words(batch, block)
                    receiver.emit(records)
                    emitted += len(records)
                assert ssc._receiver_tracker.tracker.wait_for_records(emitted, 30)
                advance_batch(ssc)
        finally:
            ssc.stop(stopSparkContext=False)
        ssc.awaitTerminationOrTimeout(0)         # raises a batch's error
        ahead = ctx._scheduler._ahead
        counts = dict(ahead.counts) if ahead is not None else {"run": 0, "taken": 0, "untaken": 0}
        return outputs, counts, ctx


def word_counts(words: list[str]) -> list[tuple[str, int]]:
    return sorted(Tally(words).items())


def counts_per_batch(stream: DStream[str]) -> list[Any]:
    return [collect_batches(stream.map(lambda w: (w, 1)).reduceByKey(operator.add))]


def test_every_block_of_every_batch_after_the_first_is_taken() -> None:
    (counts,), ahead, ctx = run("local[2]", counts_per_batch)
    assert [sorted(c) for c in counts] == [word_counts(batch_words(b)) for b in range(1, BATCHES + 1)]
    # the first batch's map stage is the template; each later block runs ahead, once
    assert ahead == {"run": (BATCHES - 1) * BLOCKS, "taken": (BATCHES - 1) * BLOCKS, "untaken": 0}
    assert ctx._scheduler._ahead._templates == {}      # stopping the streams forgot them


def test_a_window_with_an_inverse_and_a_second_shuffle_over_the_same_blocks(tmp_path: Any) -> None:
    def build(stream: DStream[str]) -> list[Any]:
        pairs = stream.map(lambda w: (w, 1))
        window = collect_batches(pairs.reduceByKeyAndWindow(
            operator.add, operator.sub, 4, 1, filterFunc=lambda kv: kv[1] > 0))
        groups = collect_batches(pairs.groupByKey().mapValues(len))
        return [window, groups]

    (window, groups), ahead, _ = run("local[2]", build, checkpoint=os.fspath(tmp_path))
    expected = [word_counts([w for b in range(max(1, last - 3), last + 1) for w in batch_words(b)])
                for last in range(1, BATCHES + 1)]
    assert [sorted(w) for w in window] == expected
    assert [sorted(g) for g in groups] == [word_counts(batch_words(b)) for b in range(1, BATCHES + 1)]
    # two map stages over the stream's blocks: two templates, each block runs ahead twice
    assert ahead == {"run": 2 * (BATCHES - 1) * BLOCKS, "taken": 2 * (BATCHES - 1) * BLOCKS,
                     "untaken": 0}


def test_accumulators_count_each_record_once_taken_or_not() -> None:
    seen: list[Any] = []

    def build(stream: DStream[str]) -> list[Any]:
        acc = stream.context().sparkContext.accumulator(0)
        seen.append(acc)

        def count(w: str) -> tuple[str, int]:
            acc.add(1)
            return (w, 1)
        return [collect_batches(stream.map(count).reduceByKey(operator.add))]

    # predicted one place off: every task run ahead is left untaken, its updates dropped
    def off_by_one(hook: Callable[[Any, int], None]) -> Callable[[Any, int], None]:
        return lambda block, split: hook(block, split + 1)

    total = sum(len(batch_words(b)) for b in range(1, BATCHES + 1))
    for on_stored, taken in ((None, (BATCHES - 1) * BLOCKS), (off_by_one, 0)):
        (counts,), ahead, _ = run("local[2]", build, on_stored=on_stored)
        assert sum(v for c in counts for _, v in c) == total
        assert seen.pop().value == total
        assert ahead["taken"] == taken
        assert ahead["run"] == (BATCHES - 1) * BLOCKS
        assert ahead["untaken"] == ahead["run"] - taken


def test_a_block_predicted_at_another_place_is_computed_by_its_batch() -> None:
    def swap_first_two(hook: Callable[[Any, int], None]) -> Callable[[Any, int], None]:
        return lambda block, split: hook(block, {0: 1, 1: 0}.get(split, split))

    (counts,), ahead, _ = run("local[2]", counts_per_batch, on_stored=swap_first_two)
    assert [sorted(c) for c in counts] == [word_counts(batch_words(b)) for b in range(1, BATCHES + 1)]
    assert ahead["taken"] == (BATCHES - 1) * (BLOCKS - 2)
    assert ahead["untaken"] == (BATCHES - 1) * 2


@pytest.mark.parametrize("how", ["raises", "kills its worker"])
def test_a_task_ahead_that_fails_is_retried_as_the_batchs_own(tmp_path: Any, how: str) -> None:
    # each block's first attempt fails (a marker file named for the block's words says it was
    # tried); from the second batch on, that attempt is the task run ahead
    marks = os.fspath(tmp_path)
    exits = how == "kills its worker"

    def fail_once(words: Any) -> Any:
        words = list(words)
        if words:
            name = hashlib.sha256("\n".join(words).encode()).hexdigest()
            try:
                os.close(os.open(os.path.join(marks, name), os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return [(w, 1) for w in words]
            if exits:
                os._exit(3)          # the worker process dies: WorkerLostError, retried
            raise RuntimeError("the first attempt of this block fails")
        return []

    def build(stream: DStream[str]) -> list[Any]:
        return [collect_batches(stream.mapPartitions(fail_once).reduceByKey(operator.add))]

    (counts,), ahead, _ = run("local[2]", build, batches=4)
    assert [sorted(c) for c in counts] == [word_counts(batch_words(b)) for b in range(1, 5)]
    assert ahead["taken"] == 3 * BLOCKS


def test_a_user_error_ahead_fails_the_batch_as_without(tmp_path: Any) -> None:
    # "w3" is in every block: the batch fails, as it would
    # without tasks run ahead (batch 1 has no template yet; batch 2's task ran ahead)
    def build(stream: DStream[str]) -> list[Any]:
        pairs = stream.map(lambda w: (w, 1 // (w != "w3")))
        return [collect_batches(pairs.reduceByKey(operator.add))]

    for batches in (1, 2):
        with pytest.raises(ZeroDivisionError):
            run("local[2]", build, batches=batches)


def test_functions_that_change_every_batch_stop_running_ahead() -> None:
    def build(stream: DStream[str]) -> list[Any]:
        stamped = stream.transform(lambda t, rdd: rdd.map(lambda w: (w, t.second)))
        return [collect_batches(stamped.reduceByKey(max))]

    (stamps,), ahead, _ = run("local[2]", build)
    assert [sorted(s)[0][1] for s in stamps] == list(range(1, BATCHES + 1))
    # a template on trial for batch 1, another for batch 2, then none
    assert ahead == {"run": 2 * BLOCKS, "taken": 0, "untaken": 2 * BLOCKS}


def test_a_changing_stage_gives_up_beside_one_that_runs_ahead() -> None:
    # the plain count's stage matches every batch; the stamped one never does, and stops trying
    def build(stream: DStream[str]) -> list[Any]:
        stamped = stream.transform(lambda t, rdd: rdd.map(lambda w: (w, t.second)))
        return [collect_batches(stream.map(lambda w: (w, 1)).reduceByKey(operator.add)),
                collect_batches(stamped.reduceByKey(max))]

    (counts, stamps), ahead, _ = run("local[2]", build)
    assert [sorted(c) for c in counts] == [word_counts(batch_words(b)) for b in range(1, BATCHES + 1)]
    assert [sorted(s)[0][1] for s in stamps] == list(range(1, BATCHES + 1))
    assert ahead == {"run": (BATCHES - 1) * BLOCKS + 2 * BLOCKS, "taken": (BATCHES - 1) * BLOCKS,
                     "untaken": 2 * BLOCKS}


@pytest.mark.parametrize("master, conf", [
    ("local", Conf()),
    ("local[2]", Conf().set("dstream.streaming.mapAhead.enable", "false")),
], ids=["local", "setting off"])
def test_nothing_runs_ahead_in_the_driver_or_with_the_setting_off(master: str, conf: Conf) -> None:
    (counts,), ahead, _ = run(master, counts_per_batch, batches=3, conf=conf)
    assert [sorted(c) for c in counts] == [word_counts(batch_words(b)) for b in range(1, 4)]
    assert ahead["run"] == 0


def test_a_long_run_keeps_the_template_on_the_workers(caplog: pytest.LogCaptureFixture) -> None:
    # the workers keep the code of the last 64 stages; a template's stage is older than that
    # after some 64 batches, but each block runs it: it stays (no task fails for want of it)
    caplog.set_level(logging.WARNING, logger="dstream.scheduler.dag")
    (counts,), ahead, _ = run("local[2]", counts_per_batch, batches=80)
    assert [sorted(c) for c in counts] == [word_counts(batch_words(b)) for b in range(1, 81)]
    assert ahead == {"run": 79 * BLOCKS, "taken": 79 * BLOCKS, "untaken": 0}
    assert [r.getMessage() for r in caplog.records] == []


@pytest.mark.parametrize(
    ("settings", "lead_ms"),
    [
        ({}, 150.0),                                                  # 3/4 of the 200 ms default
        ({"spark.streaming.blockInterval": "100"}, 75.0),
        ({"dstream.streaming.blockCutLead": "0"}, 0.0),               # Spark's: at the batch times
        ({"dstream.streaming.blockCutLead": "40ms"}, 40.0),
    ],
)
def test_receivers_cut_their_blocks_the_lead_before_the_batch_times(
    settings: dict[str, str], lead_ms: float
) -> None:
    conf = Conf()
    for key, value in settings.items():
        conf.set(key, value)
    with Context("local", "lead", conf=conf) as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.receiverStream(Words()).count().foreachRDD(lambda rdd: None)
        ssc.start()
        try:
            (supervisor,) = ssc._receiver_tracker.supervisors()
            generator = supervisor._generator
            assert generator._cut_lead_s is not None
            assert generator._cut_lead_s * 1000 == pytest.approx(lead_ms)
        finally:
            ssc.stop(stopSparkContext=False)


def test_a_lead_as_long_as_the_block_interval_is_refused_at_start() -> None:
    conf = Conf().set("dstream.streaming.blockCutLead", "200ms")
    with Context("local", "lead", conf=conf) as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.receiverStream(Words()).count().foreachRDD(lambda rdd: None)
        with pytest.raises(ValueError, match="blockCutLead must be at least 0 and less than "
                                             r"dstream.streaming.blockInterval \(200 ms\)"):
            ssc.start()
        ssc.stop(stopSparkContext=False)
