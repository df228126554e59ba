"""Recovery with getOrCreate: state and windows come back from the checkpoint, a corrupted
newest checkpoint falls back to the previous one, an upgraded job keeps its state, a changed
stateful operator is refused clearly, and a Redis store that goes away is caught up with.

The source is a directory of files (durable, like a log); the manual clock steps batches.
"""

from __future__ import annotations

import io
import logging
import operator
import os
import pickle
from collections.abc import Callable
from typing import Any

import pytest

from dstream.checkpoint import generation_name, list_generations
from dstream import Conf, Context, StreamingContext, StreamingListener
from dstream.streaming.log_records import decode_block
from dstream.streaming.recovery import IncompatibleCheckpointError
from dstream.streaming.testing import advance_batch


class Files:
    """Files moved into a directory, each stamped so that it belongs to one batch."""

    def __init__(self, root: Any) -> None:
        self.directory = os.fspath(root / "in")
        self._staging = root / "staging"
        os.makedirs(self.directory)
        self._staging.mkdir()
        self._n = 0

    def add(self, text: str, batch_ms: int) -> None:
        self._n += 1
        staged = self._staging / f"f{self._n}.txt"
        staged.write_text(text)
        os.utime(staged, ns=((batch_ms - 500) * 1_000_000,) * 2)
        os.replace(staged, os.path.join(self.directory, staged.name))


def word_job(files: Files, checkpoint: str, outputs: dict[str, Any], *, extra_map: bool = False,
             state_name: str | None = None, conf: Conf | None = None,
             top: int | None = None) -> Callable[[], StreamingContext]:
    def setup() -> StreamingContext:
        ctx = Context.getOrCreate(conf)
        ssc = StreamingContext(ctx, 1, clock="manual")
        ssc.checkpoint(checkpoint)
        words = ssc.textFileStream(files.directory).flatMap(str.split)
        if extra_map:
            words = words.map(str.strip)           # an upgrade: a new stateless step
        pairs = words.map(lambda w: (w, 1))
        totals = pairs.updateStateByKey(lambda new, old: sum(new) + (old or 0))
        if state_name:
            totals = totals.setName(state_name)
        window = pairs.reduceByKeyAndWindow(operator.add, operator.sub, 6, 1)
        totals.foreachRDD(lambda rdd: outputs.__setitem__("totals", dict(rdd.collect())))
        window.foreachRDD(lambda rdd: outputs.__setitem__("window", dict(rdd.collect())))
        if top is not None:                        # an upgrade: one more output
            totals.foreachRDD(lambda rdd: outputs.__setitem__(
                "top", rdd.takeOrdered(top, key=lambda kv: (-kv[1], kv[0]))))
        return ssc
    return setup


def run(setup: Callable[[], StreamingContext], checkpoint: str, files: Files, start_ms: int,
        batches: list[str], *, every_checkpoint: bool = False) -> StreamingContext:
    """Start (or recover) at ``start_ms`` and run one batch per text (a file each). With
    ``every_checkpoint``, wait for each batch's checkpoint (the writer may otherwise skip
    ahead to a newer one)."""
    ssc = StreamingContext.getOrCreate(checkpoint, setup)
    ssc._clock.set_time(start_ms)
    ssc.start()
    for i, text in enumerate(batches, 1):
        if text:
            files.add(text, start_ms + i * 1000)
        advance_batch(ssc)
        if every_checkpoint:
            assert ssc._checkpoints is not None and ssc._checkpoints.manager.flush(30)
    return ssc


def crash(ssc: StreamingContext) -> None:
    """Stop without draining anything, once the checkpoints written so far are on disk."""
    assert ssc._checkpoints is not None and ssc._checkpoints.manager.flush(30)
    ssc.stop(stopSparkContext=False)


@pytest.fixture
def ctx() -> Any:
    context = Context("local", "recovery")
    try:
        yield context
    finally:
        context.stop()


def test_state_and_window_resume_after_a_crash(ctx: Context, tmp_path: Any) -> None:
    files, checkpoint, out = Files(tmp_path), os.fspath(tmp_path / "ckpt"), {}
    setup = word_job(files, checkpoint, out)
    first = run(setup, checkpoint, files, 0, ["a b"] * 12 + ["a"])   # a data checkpoint at 10 s
    crash(first)
    assert out["totals"] == {"a": 13, "b": 12}
    second = run(setup, checkpoint, files, 13_000, ["a c", "", "c"])
    second.stop(stopSparkContext=False)
    assert out["totals"] == {"a": 14, "b": 12, "c": 2}
    # the window of 6 s at 16 s holds batches 11..16: "a b", "a b", "a" (before the crash),
    # "a c", "", "c" (after it)
    assert out["window"] == {"a": 4, "b": 2, "c": 2}


def test_corrupted_newest_metadata_falls_back_to_the_previous_one(ctx: Context, tmp_path: Any,
                                                                 caplog: Any) -> None:
    files, checkpoint, out = Files(tmp_path), os.fspath(tmp_path / "ckpt"), {}
    setup = word_job(files, checkpoint, out)
    crash(run(setup, checkpoint, files, 0, ["a", "a", "a"], every_checkpoint=True))
    newest = max(_generations(checkpoint))
    path = os.path.join(checkpoint, *generation_name("metadata", newest).split("/"))
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[-3] ^= 0xFF
    with open(path, "wb") as f:
        f.write(bytes(data))
    with caplog.at_level(logging.WARNING):
        second = run(setup, checkpoint, files, 3_000, ["a"])
    second.stop(stopSparkContext=False)
    assert any("metadata/" in r.getMessage() and "checksum" in r.getMessage() for r in caplog.records)
    # the batch of 3 s is re-run from its files (the previous checkpoint is of 2 s): nothing lost
    assert out["totals"] == {"a": 4}


def test_truncated_and_deleted_checkpoints_fall_back(ctx: Context, tmp_path: Any, caplog: Any) -> None:
    files, checkpoint, out = Files(tmp_path), os.fspath(tmp_path / "ckpt"), {}
    setup = word_job(files, checkpoint, out)
    crash(run(setup, checkpoint, files, 0, ["a", "a", "a"], every_checkpoint=True))
    generations = _generations(checkpoint)
    assert generations == [1000, 2000, 3000]
    newest = os.path.join(checkpoint, *generation_name("metadata", generations[-1]).split("/"))
    middle = os.path.join(checkpoint, *generation_name("metadata", generations[-2]).split("/"))
    os.truncate(newest, 10)
    os.unlink(middle)
    with caplog.at_level(logging.WARNING):
        second = run(setup, checkpoint, files, 3_000, ["a"])
    second.stop(stopSparkContext=False)
    assert any("truncated" in r.getMessage() for r in caplog.records)
    assert out["totals"] == {"a": 4}


def test_upgraded_job_keeps_its_state(ctx: Context, tmp_path: Any) -> None:
    """A new map step, a new top-N output and a changed batch-independent setting: the
    running totals and the window carry over."""
    files, checkpoint, out = Files(tmp_path), os.fspath(tmp_path / "ckpt"), {}
    crash(run(word_job(files, checkpoint, out), checkpoint, files, 0, ["a b"] * 11))
    ctx._conf.set("dstream.streaming.ui.retainedBatches", 10)
    upgraded = word_job(files, checkpoint, out, extra_map=True, top=1)
    second = run(upgraded, checkpoint, files, 11_000, ["b"])
    second.stop(stopSparkContext=False)
    assert out["totals"] == {"a": 11, "b": 12}
    assert out["window"] == {"a": 5, "b": 6}
    assert out["top"] == [("b", 12)]


def test_changed_stateful_operator_is_refused_and_a_fresh_start_keeps_source_positions(
        tmp_path: Any) -> None:
    files, checkpoint, out = Files(tmp_path), os.fspath(tmp_path / "ckpt"), {}
    with Context("local", "recovery"):
        crash(run(word_job(files, checkpoint, out), checkpoint, files, 0, ["a b"] * 11))
        renamed = word_job(files, checkpoint, out, state_name="running-totals")
        with pytest.raises(IncompatibleCheckpointError, match=r"queueStream|textFileStream-0/updateStateByKey"
                           r".*no longer defines.*dstream.checkpoint.discardState=true"):
            run(renamed, checkpoint, files, 11_000, ["b"])
    fresh = Conf().set("dstream.checkpoint.discardState", "true")
    with Context("local", "recovery", conf=fresh):
        second = run(word_job(files, checkpoint, out, state_name="running-totals", conf=fresh),
                     checkpoint, files, 11_000, ["b"])
        second.stop(stopSparkContext=False)
    assert out["totals"] == {"b": 1}          # fresh state; the 11 files read before are not re-read


def test_checkpoint_on_redis_recovers(ctx: Context, tmp_path: Any, redis_url: str) -> None:
    files, out = Files(tmp_path), {}
    location = f"{redis_url}?prefix=recovery-{os.getpid()}-{id(tmp_path)}"
    keyed = Conf().set("dstream.checkpoint.key", "recovery test secret")
    ctx._conf.set("dstream.checkpoint.key", "recovery test secret")
    setup = word_job(files, location, out, conf=keyed)
    crash(run(setup, location, files, 0, ["a b"] * 11))
    second = run(setup, location, files, 11_000, ["a"])
    second.stop(stopSparkContext=False)
    assert out["totals"] == {"a": 12, "b": 11}


def test_redis_store_without_a_key_is_refused(ctx: Context, tmp_path: Any, redis_url: str) -> None:
    files, out = Files(tmp_path), {}
    setup = word_job(files, f"{redis_url}?prefix=nokey", out)
    ssc = StreamingContext.getOrCreate(f"{redis_url}?prefix=nokey", setup)
    with pytest.raises(ValueError, match="dstream.checkpoint.key"):
        ssc.start()


class CheckpointErrors(StreamingListener):
    def __init__(self) -> None:
        self.errors: list[str] = []

    def onCheckpointError(self, event: Any) -> None:
        self.errors.append(event.error)


def test_batches_go_on_while_redis_is_down_and_checkpoints_catch_up(tmp_path: Any) -> None:
    from tests import servers

    redis = servers.start_redis(tmp_path / "redis")
    files, out = Files(tmp_path), {}
    conf = (Conf().set("dstream.checkpoint.key", "secret of this test")
            .set("dstream.streaming.checkpoint.maxRetryDelay", "0.2"))
    location = f"{redis.url}?prefix=down"
    try:
        with Context("local", "redis-down", conf=conf):
            errors = CheckpointErrors()
            ssc = run(word_job(files, location, out, conf=conf), location, files, 0, ["a"] * 2)
            ssc.addStreamingListener(errors)
            manager = ssc._checkpoints.manager
            assert manager.flush(30) and manager.last_written_ms == 2000
            redis.stop()
            for i in range(3, 6):
                files.add("a", i * 1000)
                advance_batch(ssc)                 # batches complete while the store is down
            assert out["totals"] == {"a": 5}
            ssc._bus.wait_until_empty()
            assert manager.failures > 0 and errors.errors and manager.last_written_ms == 2000
            redis.restart()
            assert manager.flush(60)
            assert manager.last_written_ms == 5000 and manager.last_error is None
            ssc.stop(stopSparkContext=False)
    finally:
        redis.close()


def _generations(checkpoint: str) -> list[int]:
    from dstream.checkpoint import open_store
    with open_store(checkpoint) as store:
        return list_generations(store, "metadata")


def test_log_records_of_either_layout_replay_the_same_block() -> None:
    """Blocks are logged pickled once; logs written before that held the records themselves."""
    current = (3, "input-3-7", pickle.dumps(["a", "b"], protocol=5), 2, {"offset": 9})
    earlier = (3, "input-3-7", ["a", "b"], {"offset": 9})
    for record in (current, earlier):
        stream_id, block_id, data, num_records, metadata = decode_block(pickle.dumps(record))
        assert (stream_id, block_id, num_records, metadata) == (3, "input-3-7", 2, {"offset": 9})
        assert data.load() == ["a", "b"]


def test_a_graph_saved_before_the_streams_and_rdd_kinds_moved_finds_them(ctx: Context) -> None:
    """Restore mode: a graph pickled when these lived in ``windowed``, ``stateful``,
    ``window_ops`` and ``rdd_kinds`` loads them from where they are now."""
    from dstream import rdd
    from dstream.streaming import dstream, windowed
    from dstream.streaming.graph_restore import _GraphUnpickler

    ssc = StreamingContext(ctx, 1)
    saved = [("dstream.streaming.windowed", "ReducedWindowedDStream", dstream.ReducedWindowedDStream),
             ("dstream.streaming.stateful", "StateDStream", dstream.StateDStream),
             ("dstream.streaming.stateful", "MapWithStateDStream", dstream.MapWithStateDStream),
             ("dstream.streaming.window_ops", "_concat", windowed.concat),
             ("dstream.rdd_kinds", "PipelinedRDD", rdd.PipelinedRDD),
             ("dstream.rdd_kinds", "ShuffledRDD", rdd.ShuffledRDD)]
    for module, name, now in saved:
        assert _GraphUnpickler(io.BytesIO(f"c{module}\n{name}\n.".encode()), ssc).load() is now
