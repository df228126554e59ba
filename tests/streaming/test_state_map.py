"""The in-place state of mapWithState (``StateMap``) against a model that copies every version:
batches applied in place, batches that fail half-way and are retried, batches run twice,
older versions read back, checkpoint deltas that add up to the state."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dstream.streaming.state_map import StateMap, StateVersion, StateVersionGone
from dstream.streaming.state_checkpoints import (apply_payload, decode_payload, delta_payload,
                                                 snapshot_payload)

KEYS = st.sampled_from("abcdefgh")
#: one record of a batch: (key, value); value None removes the key
RECORDS = st.lists(st.tuples(KEYS, st.one_of(st.none(), st.integers(0, 9))), max_size=8)


class Boom(Exception):
    pass


def apply(m: StateMap, previous: int | None, version: int, records: list, fail_after: int | None = None) -> None:
    with m.advance(previous, version) as batch:
        for i, (k, v) in enumerate(records):
            if fail_after is not None and i == fail_after:
                raise Boom()
            if v is None:
                batch.remove(k)
            else:
                old = batch.get(k)
                batch.put(k, ((old[0] if old else 0) + v, version), move_to_end=True)


def model_step(state: dict, records: list, version: int) -> dict:
    new = dict(state)
    for k, v in records:
        if v is None:
            new.pop(k, None)
        else:
            new[k] = (new.get(k, (0, 0))[0] + v, version)
    return new


@settings(max_examples=200, deadline=None)
@given(batches=st.lists(st.tuples(RECORDS, st.sampled_from(["ok", "fail", "twice"]),
                                  st.booleans()), min_size=1, max_size=12),
       data=st.data())
def test_state_map_matches_a_copying_model(batches: list, data: Any) -> None:
    m = StateMap(version=0)
    versions: dict[int, dict] = {0: {}}
    saved: dict | None = None            # what snapshot + deltas add up to
    for t, (records, fate, checkpoint) in enumerate(batches, 1):
        if fate == "fail" and records:
            with pytest.raises(Boom):
                apply(m, t - 1, t, records, fail_after=data.draw(st.integers(0, len(records) - 1)))
            assert dict(StateVersion(m, t - 1).items()) == versions[t - 1]     # rolled back
        apply(m, t - 1, t, records)
        if fate == "twice":              # the task ran again (a retry after it succeeded)
            apply(m, t - 1, t, records)
        versions[t] = model_step(versions[t - 1], records, t)
        assert dict(StateVersion(m, t).items()) == versions[t]
        # every remembered version reads back as it was
        old = data.draw(st.integers(0, t))
        assert dict(StateVersion(m, old).items()) == versions[old]
        # a version pickled to another process is that version's entries, in update order
        copy = pickle.loads(pickle.dumps(StateVersion(m, old)))
        assert dict(copy.items()) == versions[old]
        if checkpoint:
            if saved is None:
                payload = m.dump_at(t, snapshot_payload)
            else:
                payload = delta_payload(*m.changes())
            saved = apply_payload(saved, decode_payload(payload, "test"), "test")
            m.mark_checkpointed(t)
            assert saved == versions[t]
    # expiry reads entries in last-update order even after rollbacks
    threshold = len(batches) // 2 + 1
    expected = {k: e for k, e in versions[len(batches)].items() if e[1] < threshold}
    assert dict(m.expired(threshold)) == expected


def test_forgotten_versions_are_refused_clearly() -> None:
    m = StateMap(version=0)
    for t in (1, 2, 3):
        apply(m, t - 1, t, [("a", t)])
    m.forget_through(1)
    assert dict(StateVersion(m, 1).items()) == {"a": (1, 1)}   # it needs the undo of 2 and 3
    m.forget_through(2)
    with pytest.raises(StateVersionGone, match="no longer held"):
        StateVersion(m, 1).items()
    assert dict(StateVersion(m, 2).items()) == {"a": (3, 2)}
    assert dict(StateVersion(m, 3).items()) == {"a": (6, 3)}


def test_a_batch_on_a_version_the_map_does_not_hold_is_refused() -> None:
    m = StateMap(version=0)
    apply(m, 0, 1, [("a", 1)])
    apply(m, 1, 2, [("a", 1)])
    assert not m.can_advance(0, 1)          # batch 1 again, after batch 2: the caller copies
    with pytest.raises(StateVersionGone):
        apply(m, 0, 1, [("a", 1)])
    assert dict(StateVersion(m, 2).items()) == {"a": (2, 2)}


def test_a_task_that_fails_half_way_is_retried_without_applying_twice(
        ssc: Any, checkpoint_dir: str) -> None:
    """The function raises on its third call (after two updates of the same partition): the
    retried task starts from the previous batch's state, not from the half-applied one."""
    from dstream.streaming import StateSpec
    from dstream.streaming.testing import advance_batch, collect_batches

    calls = {"n": 0}

    def flaky(key: str, value: int, state: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("executor hiccup")
        state.update((state.getOption() or 0) + value)
        return key, state.get()

    ssc.checkpoint(checkpoint_dir)
    mapped = ssc.queueStream([[("a", 1)], [("a", 1), ("a", 1), ("a", 1)], [("a", 1)]]).mapWithState(
        StateSpec.function(flaky).numPartitions(1))
    out, snapshots = collect_batches(mapped), collect_batches(mapped.stateSnapshots())
    ssc.start()
    for _ in range(3):
        advance_batch(ssc)
    assert out == [[("a", 1)], [("a", 2), ("a", 3), ("a", 4)], [("a", 5)]]
    assert snapshots == [[("a", 1)], [("a", 4)], [("a", 5)]]
    assert calls["n"] == 1 + (2 + 3) + 1   # batch 2: the failed attempt's 2 calls, then 3


def test_versions_are_kept_only_while_the_stream_remembers_them(ssc: Any, checkpoint_dir: str) -> None:
    """A long run does not pile up undo records: those of forgotten batches are dropped."""
    from dstream.streaming import StateSpec
    from dstream.streaming.testing import advance_batch

    def count(key: str, value: int, state: Any) -> None:
        state.update((state.getOption() or 0) + value)

    ssc.checkpoint(checkpoint_dir)
    mapped = ssc.queueStream([[(f"k{i % 7}", 1)] for i in range(40)]).mapWithState(
        StateSpec.function(count).numPartitions(1))
    mapped.foreachRDD(lambda rdd: rdd.count())
    ssc.start()
    for _ in range(40):
        advance_batch(ssc)
    internal = mapped.internal
    newest = internal.generated[max(internal.generated)]
    [state_map] = newest.state_maps.values()
    remembered = internal.remember_ms // internal.slide_ms
    assert len(state_map._undo) <= remembered + 1 < 40
    assert dict(state_map.items_at(newest.time_ms)) == {f"k{i}": (v, t) for i, (v, t) in enumerate(
        [(6, 36_000), (6, 37_000), (6, 38_000), (6, 39_000), (6, 40_000), (5, 34_000), (5, 35_000)])}
