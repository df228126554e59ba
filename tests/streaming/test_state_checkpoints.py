"""Incremental checkpoints of mapWithState: a snapshot, then deltas of the keys changed.

The property: whatever the updates and wherever the job crashes (after any batch, or before
the newest metadata reached the store), the saved snapshot plus its deltas equal the state
of the batch they were written at, and the recovered job goes on exactly as one that never
crashed. The source is a directory of files (durable), the clock manual.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dstream import Conf, Context, StreamingContext
from dstream.checkpoint import generation_name, list_generations, load_newest, open_store
from dstream.streaming import State, StateSpec
from dstream.streaming.checkpointing import open_checkpoint_store
from dstream.streaming.recovery import IncompatibleCheckpointError, Recovery
from dstream.streaming.recovery_format import data_partition_name, decode_metadata
from dstream.streaming.state_checkpoints import SNAPSHOT_EVERY_CONF, decode_payload, load_chain
from tests.streaming.test_recovery import Files, crash, run

#: one record of a batch: (key, amount); a negative amount removes the key (often enough
#: that keys saved in a snapshot are removed in a delta)
RECORDS = st.lists(st.tuples(st.sampled_from("abcdef"), st.one_of(st.just(-1), st.integers(0, 9))),
                   max_size=6)


def add_or_remove(key: str, amount: int, state: State) -> Any:
    if amount < 0:
        if state.exists():
            state.remove()
        return (key, None)
    state.update((state.getOption() or 0) + amount)
    return (key, state.get())


def model(batches: list[list[tuple[str, int]]]) -> list[dict[str, int]]:
    """The state after each batch."""
    state: dict[str, int] = {}
    after = []
    for records in batches:
        for k, amount in records:
            if amount < 0:
                state.pop(k, None)
            else:
                state[k] = state.get(k, 0) + amount
        after.append(dict(state))
    return after


def text(records: list[tuple[str, int]]) -> str:
    return "\n".join(f"{k} {v}" for k, v in records)


def job(files: Files, checkpoint: str, seen: dict[int, dict]) -> Any:
    def setup() -> StreamingContext:
        ssc = StreamingContext(Context.getOrCreate(), 1, clock="manual")
        ssc.checkpoint(checkpoint)
        pairs = ssc.textFileStream(files.directory).map(str.split).map(lambda kv: (kv[0], int(kv[1])))
        mapped = pairs.mapWithState(StateSpec.function(add_or_remove).numPartitions(2))
        mapped.internal.checkpoint(1)                   # a data checkpoint every batch
        mapped.stateSnapshots().foreachRDD(
            lambda t, rdd: seen.__setitem__(round(t.timestamp() * 1000), dict(rdd.collect())))
        return ssc
    return setup


def saved_state(checkpoint: str) -> tuple[int, list[int], dict[str, int]]:
    """(batch time, chain, state) as the newest metadata's snapshot plus deltas give it."""
    store, signer = open_checkpoint_store(checkpoint, Conf())
    try:
        _, meta = load_newest(store, "metadata", decode=decode_metadata)
        (key, info), = meta["state"].items()
        manager = SimpleNamespace(store=store, signer=signer)
        state: dict[str, int] = {}
        for split in range(info["partitions"]):
            [record] = load_chain(manager, key, info, split, Recovery._load_verified)
            state.update((k, entry[0]) for k, entry in record.states.items())
        return info["time_ms"], info["chain"], state
    finally:
        store.close()


def drop_newest_metadata(checkpoint: str) -> None:
    with open_store(checkpoint) as store:
        store.delete(generation_name("metadata", list_generations(store, "metadata")[-1]))


@pytest.fixture
def every_ctx(request: pytest.FixtureRequest) -> Any:
    contexts: list[Context] = []

    def make(every: int, master: str = "local") -> Context:
        contexts.append(Context(master, "state-checkpoints",
                                conf=Conf().set(SNAPSHOT_EVERY_CONF, str(every))))
        return contexts[-1]
    yield make
    for c in contexts:
        c.stop()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(RECORDS, min_size=1, max_size=9), every=st.integers(1, 4), data=st.data())
def test_snapshot_plus_deltas_recover_exactly(every_ctx: Any, batches: list, every: int, data: Any) -> None:
    crash_at = data.draw(st.integers(1, len(batches)), label="crash after batch")
    lost_metadata = crash_at > 1 and data.draw(st.booleans(), label="newest metadata lost")
    expected = model(batches + [[]])
    ctx = every_ctx(every)
    try:
        with tempfile.TemporaryDirectory() as root:
            files, checkpoint, seen = Files(Path(root)), os.path.join(root, "ckpt"), {}
            setup = job(files, checkpoint, seen)
            crash(run(setup, checkpoint, files, 0, [text(b) for b in batches[:crash_at]],
                      every_checkpoint=True))
            time_ms, chain, state = saved_state(checkpoint)
            assert time_ms == crash_at * 1000 and state == expected[crash_at - 1]
            # one checkpoint a batch: a snapshot, then deltas, a new snapshot every `every`
            assert len(chain) == (crash_at - 1) % every + 1 and chain[-1] == time_ms
            if lost_metadata:       # the crash came between the data and the metadata write
                drop_newest_metadata(checkpoint)
                time_ms, chain, state = saved_state(checkpoint)
                assert time_ms == (crash_at - 1) * 1000 and state == expected[crash_at - 2]
            seen.clear()
            second = run(setup, checkpoint, files, crash_at * 1000,
                         [text(b) for b in batches[crash_at:]] + [""])
            second.stop(stopSparkContext=False)
            for t, state in seen.items():
                assert state == expected[t // 1000 - 1], f"batch {t}"
            assert max(seen) == (len(batches) + 1) * 1000
    finally:
        ctx.stop()


def run_counts(files: Files, checkpoint: str, batches: list[str], start_ms: int = 0) -> StreamingContext:
    return run(job(files, checkpoint, {}), checkpoint, files, start_ms, batches, every_checkpoint=True)


def test_a_delta_holds_only_the_keys_changed_since_the_previous_checkpoint(
        every_ctx: Any, tmp_path: Path) -> None:
    every_ctx(10)
    files, checkpoint = Files(tmp_path), os.fspath(tmp_path / "ckpt")
    many = text([(f"k{i}", 1) for i in range(500)])
    crash(run_counts(files, checkpoint, [many, "k1 5\nk2 -1\nnew 1"]))
    _, chain, state = saved_state(checkpoint)
    assert chain == [1000, 2000] and len(state) == 500
    with open_store(checkpoint) as store:
        _, meta = load_newest(store, "metadata", decode=decode_metadata)
        (key, _), = meta["state"].items()
        signer = open_checkpoint_store(checkpoint, Conf())[1]
        changed, removed = {}, []
        sizes = {}
        for t in chain:
            sizes[t] = 0
            for split in range(2):
                name = data_partition_name(key, t, split)
                raw = store.load(name)
                sizes[t] += len(raw)
                payload = decode_payload(signer.verify(raw, name), name)
                if t == 2000:
                    changed.update(payload[2])
                    removed += payload[3]
    assert set(changed) == {"k1", "new"} and removed == ["k2"]
    assert sizes[2000] * 20 < sizes[1000]


def test_a_tampered_delta_is_refused_clearly(every_ctx: Any, tmp_path: Path) -> None:
    every_ctx(10)
    files, checkpoint = Files(tmp_path), os.fspath(tmp_path / "ckpt")
    crash(run_counts(files, checkpoint, ["a 1", "a 2"]))
    with open_store(checkpoint) as store:
        _, meta = load_newest(store, "metadata", decode=decode_metadata)
        (key, info), = meta["state"].items()
        assert info["chain"] == [1000, 2000]
        name = data_partition_name(key, 2000, 0)
        signed = store.load(name)
        store.save(name, signed[:-1] + bytes([signed[-1] ^ 1]))   # framed anew: only the signature tells
    with pytest.raises(IncompatibleCheckpointError, match="signature mismatch"):
        run_counts(files, checkpoint, [""], start_ms=2000)


def test_retention_keeps_each_retained_chain_whole(every_ctx: Any, tmp_path: Path) -> None:
    every_ctx(3)
    files, checkpoint = Files(tmp_path), os.fspath(tmp_path / "ckpt")
    crash(run_counts(files, checkpoint, [f"a {i}" for i in range(1, 9)]))
    with open_store(checkpoint) as store:
        _, meta = load_newest(store, "metadata", decode=decode_metadata)
        (key, info), = meta["state"].items()
        times = {int(n.split("/")[2]) for n in store.list("data/")}
    assert info["chain"] == [7000, 8000]
    # the 3 retained checkpoints (6, 7 and 8 s) need the chains [4, 5, 6] and [7, 8]
    assert times == {4000, 5000, 6000, 7000, 8000}


@pytest.mark.parametrize("master", ["local[2]", "dask-local[2]"])
def test_deltas_on_executor_processes_recover_exactly(every_ctx: Any, tmp_path: Path, master: str) -> None:
    """State crosses processes there (and stays on Dask workers between batches): the keys
    changed since the last checkpoint travel with it, deltas still work."""
    every_ctx(5, master)
    files, checkpoint = Files(tmp_path), os.fspath(tmp_path / "ckpt")
    batches = [[("a", 1), ("b", 2)], [("a", 1), ("c", 3)], [("b", -1)], [("d", 4)]]
    crash(run_counts(files, checkpoint, [text(b) for b in batches]))
    time_ms, chain, state = saved_state(checkpoint)
    assert chain == [1000, 2000, 3000, 4000] and state == model(batches)[-1]
    seen: dict[int, dict] = {}
    second = run(job(files, checkpoint, seen), checkpoint, files, 4000, ["a 5"])
    second.stop(stopSparkContext=False)
    assert seen[5000] == {"a": 7, "c": 3, "d": 4}
