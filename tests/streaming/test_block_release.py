"""Received blocks leave memory as soon as their batch is done and nothing can read them again,
and a block released early is never read again (``BlockManager.reads_after_release`` counts
every read of one): windows with and without an inverse, a window sliding over several
batches, a second output over the raw stream, ``ssc.remember``; with the write-ahead log a
released block's bytes come back from the log."""

from __future__ import annotations

import operator
import os
from collections import Counter as Tally
from typing import Any

import pytest

from dstream import Context, StreamingContext
from dstream.conf import Conf
from dstream.receivers import Receiver
from dstream.streaming.testing import advance_batch, collect_batches

BATCHES = 30


class Words(Receiver):
    """Stores the words the test hands it, as one block per call."""

    def onStart(self) -> None:
        pass

    def onStop(self) -> None:
        pass

    def emit(self, records: list[str]) -> None:
        self.store(records)          # a reliable bulk store: its own block, returns once stored


def words_of(batch: int) -> list[str]:
    """Batch ``batch``'s words: a key that is always there, one that comes and goes."""
    return ["w%d" % (i % 7) for i in range(batch, batch + 20)] + ["odd"] * (batch % 2)


def step(ssc: StreamingContext, receiver: Words, batch: int, emitted: int) -> int:
    records = words_of(batch)
    receiver.emit(records)
    emitted += len(records)
    assert ssc._receiver_tracker.tracker.wait_for_records(emitted, 30)
    advance_batch(ssc)
    return emitted


def window_counts(last: int, length: int) -> list[tuple[str, int]]:
    tally = Tally(w for b in range(max(1, last - length + 1), last + 1) for w in words_of(b))
    return sorted(tally.items())


def input_blocks_in_memory(ctx: Context) -> int:
    """Received blocks whose bytes the driver holds (on Dask: its own replica)."""
    bm = ctx._block_manager
    return sum(1 for b in bm.block_ids() if b.startswith("input-") and bm._blocks[b].size > 0)


@pytest.mark.parametrize("master", ["local", "local[2]", "dask-local[2]"])
def test_a_window_with_an_inverse_releases_each_batch_and_never_reads_a_released_block(
        tmp_path: Any, master: str) -> None:
    with Context(master, "release") as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.checkpoint(os.fspath(tmp_path / "ckpt"))
        receiver = Words()
        pairs = ssc.receiverStream(receiver).map(lambda w: (w, 1))
        counts = collect_batches(pairs.reduceByKeyAndWindow(operator.add, operator.sub, 10, 1,
                                                            filterFunc=lambda kv: kv[1] > 0))
        ssc.start()
        emitted = 0
        in_memory = []
        try:
            for batch in range(1, BATCHES + 1):
                emitted = step(ssc, receiver, batch, emitted)
                in_memory.append(input_blocks_in_memory(ctx))
        finally:
            ssc.stop(stopSparkContext=False)
        bm = ctx._block_manager
        assert [sorted(c) for c in counts] == [window_counts(b, 10) for b in range(1, BATCHES + 1)]
        assert bm.reads_after_release == 0
        # one block a batch; each released when its batch is done (remembered 30 s before)
        assert bm.released_blocks == BATCHES
        assert max(in_memory) == 0, in_memory


@pytest.mark.parametrize("over", ["raw", "mapped"])
def test_a_window_sliding_over_two_batches_keeps_the_blocks_it_has_not_read(over: str) -> None:
    # the window (4 s, sliding 2 s) makes its parent's RDD of an odd batch only at the next even
    # batch: releasing the odd batch's blocks when it is done would be too early. Over the raw
    # stream the window reads the blocks themselves (a cached BlockRDD is its blocks): none
    # goes early; over a mapped stream it reads that stream's cached partitions
    with Context("local[2]", "release") as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        receiver = Words()
        stream = ssc.receiverStream(receiver)
        parent = stream if over == "raw" else stream.map(lambda w: w)
        windows = collect_batches(parent.window(4, 2).map(lambda w: (w, 1)).reduceByKey(operator.add))
        ssc.start()
        emitted = 0
        try:
            for batch in range(1, 13):
                emitted = step(ssc, receiver, batch, emitted)
        finally:
            ssc.stop(stopSparkContext=False)
        bm = ctx._block_manager
        assert [sorted(w) for w in windows] == [window_counts(b, 4) for b in range(2, 13, 2)]
        assert bm.reads_after_release == 0
        if over == "raw":
            assert bm.released_blocks == 0
        else:
            assert bm.released_blocks >= 10     # all but the last batches' blocks went early


def test_a_second_output_and_a_window_without_inverse_over_the_raw_stream(tmp_path: Any) -> None:
    with Context("local[2]", "release") as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.checkpoint(os.fspath(tmp_path / "ckpt"))
        receiver = Words()
        stream = ssc.receiverStream(receiver)
        pairs = stream.map(lambda w: (w, 1))
        inverse = collect_batches(pairs.reduceByKeyAndWindow(operator.add, operator.sub, 5, 1,
                                                             filterFunc=lambda kv: kv[1] > 0))
        recomputed = collect_batches(pairs.reduceByKeyAndWindow(operator.add, None, 5, 1))
        raw = collect_batches(stream)
        ssc.start()
        emitted = 0
        try:
            for batch in range(1, 16):
                emitted = step(ssc, receiver, batch, emitted)
        finally:
            ssc.stop(stopSparkContext=False)
        bm = ctx._block_manager
        expected = [window_counts(b, 5) for b in range(1, 16)]
        assert [sorted(c) for c in inverse] == expected
        assert [sorted(c) for c in recomputed] == expected
        assert [sorted(r) for r in raw] == [sorted(words_of(b)) for b in range(1, 16)]
        assert bm.reads_after_release == 0
        assert bm.released_blocks >= 14     # the window without inverse reads cached pairs


def test_remember_keeps_every_block_for_a_slice(tmp_path: Any) -> None:
    with Context("local", "release") as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.remember(20)
        receiver = Words()
        stream = ssc.receiverStream(receiver)
        stream.count().foreachRDD(lambda rdd: None)
        ssc.start()
        emitted = 0
        try:
            for batch in range(1, 8):
                emitted = step(ssc, receiver, batch, emitted)
            first = stream.slice(1, 1)
            assert [sorted(r.collect()) for r in first] == [sorted(words_of(1))]
        finally:
            ssc.stop(stopSparkContext=False)
        assert ctx._block_manager.released_blocks == 0
        assert input_blocks_in_memory(ctx) == 7


@pytest.mark.parametrize("wal", [False, True])
def test_a_released_block_read_after_all_comes_from_disk_or_the_log(tmp_path: Any, wal: bool) -> None:
    # what a lost cache or lost map outputs would do: compute a done batch's raw RDD again
    conf = Conf().set("dstream.streaming.receiver.writeAheadLog.enable", str(wal).lower())
    with Context("local", "release", conf=conf) as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.checkpoint(os.fspath(tmp_path / "ckpt"))
        receiver = Words()
        stream = ssc.receiverStream(receiver)
        stream.map(lambda w: (w, 1)).reduceByKey(operator.add).foreachRDD(lambda rdd: None)
        raw: list[Any] = []
        stream.foreachRDD(raw.append)             # keeps each batch's raw RDD (not its blocks)
        ssc.start()
        emitted = 0
        try:
            for batch in range(1, 4):
                emitted = step(ssc, receiver, batch, emitted)
            bm = ctx._block_manager
            assert bm.released_blocks == 3 and bm.reads_after_release == 0
            block_id, = raw[-1].block_ids           # released, not yet forgotten
            files = [f for _, _, names in os.walk(bm._dir) for f in names]
            assert (block_id in files) is not wal     # with the log, the disk copy is gone too
            again = raw[-1].collect()
        finally:
            ssc.stop(stopSparkContext=False)
        assert sorted(again) == sorted(words_of(3))
        assert bm.reads_after_release == 1


def test_release_early_off_keeps_blocks_for_the_remember_duration(tmp_path: Any) -> None:
    conf = Conf().set("dstream.streaming.receiver.releaseEarly", "false")
    with Context("local", "release", conf=conf) as ctx:
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.checkpoint(os.fspath(tmp_path / "ckpt"))
        receiver = Words()
        stream = ssc.receiverStream(receiver)
        stream.map(lambda w: (w, 1)).reduceByKeyAndWindow(operator.add, operator.sub, 5, 1) \
            .foreachRDD(lambda rdd: None)
        ssc.start()
        emitted = 0
        try:
            for batch in range(1, 8):
                emitted = step(ssc, receiver, batch, emitted)
        finally:
            ssc.stop(stopSparkContext=False)
        assert ctx._block_manager.released_blocks == 0
        assert input_blocks_in_memory(ctx) == 7
