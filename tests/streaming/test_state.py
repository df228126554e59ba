"""Stateful operators: updateStateByKey (PySpark) and mapWithState (Spark's StateSpec API)."""

from __future__ import annotations

import datetime as dt
import operator
from typing import Any

import pytest

from dstream import StreamingContext
from dstream.streaming import State, StateSpec
from dstream.streaming.testing import advance_batch, collect_batches


def running_sum(new: list[int], state: int | None) -> int:
    return sum(new) + (state or 0)


# ---------------------------------------------------------------------- updateStateByKey
def test_update_state_by_key_running_sum(run: Any, checkpoint_dir: str) -> None:
    result = run([[("a", 1)], [("a", 2), ("b", 5)], [], [("b", 1)]],
                 lambda s: s.updateStateByKey(running_sum), n=5, checkpoint=checkpoint_dir)
    assert result == [[("a", 1)], [("a", 3), ("b", 5)], [("a", 3), ("b", 5)], [("a", 3), ("b", 6)],
                      [("a", 3), ("b", 6)]]


def test_update_function_runs_for_every_key_every_batch(run: Any, checkpoint_dir: str) -> None:
    calls: list[tuple[Any, Any]] = []

    def update(new: list[int], state: Any) -> Any:
        calls.append((type(new).__name__, list(new), state))
        return sum(new) + (state or 0)

    run([[("a", 1), ("a", 2)], [], [("b", 3)]], lambda s: s.updateStateByKey(update),
        checkpoint=checkpoint_dir)
    assert sorted(calls, key=repr) == sorted([
        ("list", [1, 2], None),            # t=1: a is new
        ("list", [], 3),                   # t=2: a without values: [] (a list)
        ("list", [], 3), ("list", [3], None),   # t=3: a again, b new
    ], key=repr)


def test_returning_none_drops_the_key(run: Any, checkpoint_dir: str) -> None:
    def keep_while_fed(new: list[int], state: Any) -> Any:
        return sum(new) + (state or 0) if new else None

    result = run([[("a", 1)], [("b", 1)], [], [("a", 5)]],
                 lambda s: s.updateStateByKey(keep_while_fed), checkpoint=checkpoint_dir)
    assert result == [[("a", 1)], [("b", 1)], [], [("a", 5)]]   # a came back as a new key


def test_key_dropped_then_seen_again_starts_from_none(run: Any, checkpoint_dir: str) -> None:
    states: list[Any] = []

    def update(new: list[int], state: Any) -> Any:
        states.append(state)
        return None if sum(new) < 0 else sum(new) + (state or 0)

    result = run([[("a", 2)], [("a", -1)], [("a", 3)]], lambda s: s.updateStateByKey(update),
                 checkpoint=checkpoint_dir)
    assert result == [[("a", 2)], [], [("a", 3)]]
    assert states == [None, 2, None]


@pytest.mark.parametrize("as_rdd", [True, False], ids=["rdd", "list"])
def test_initial_rdd_keys_persist(ctx: Any, run: Any, checkpoint_dir: str, as_rdd: bool) -> None:
    initial = [("z", 10), ("a", 100)]
    initial_arg = ctx.parallelize(initial) if as_rdd else initial
    result = run([[("a", 1)], [], [("z", 1)]],
                 lambda s: s.updateStateByKey(running_sum, initialRDD=initial_arg), checkpoint=checkpoint_dir)
    assert result == [[("a", 101), ("z", 10)], [("a", 101), ("z", 10)], [("a", 101), ("z", 11)]]


def test_initial_rdd_with_empty_first_batch(run: Any, checkpoint_dir: str) -> None:
    result = run([[], [("k", 1)]], lambda s: s.updateStateByKey(running_sum, initialRDD=[("k", 5)]),
                 checkpoint=checkpoint_dir)
    assert result == [[("k", 5)], [("k", 6)]]


@pytest.mark.parametrize("ctx", ["local", "local[2]", "dask-local[2]"], indirect=True)
@pytest.mark.parametrize("num", [None, 3])
def test_state_partition_count(ctx: Any, run: Any, checkpoint_dir: str, num: Any) -> None:
    result = run([[("a", 1)], []], lambda s: s.updateStateByKey(running_sum, num).transform(
        lambda rdd: rdd.ctx.parallelize([rdd.getNumPartitions()], 1)), checkpoint=checkpoint_dir)
    want = num or ctx.defaultParallelism
    assert result == [[want], [want]]


def test_update_state_by_key_needs_a_checkpoint_directory(ssc: StreamingContext) -> None:
    ssc.queueStream([[("a", 1)]]).updateStateByKey(running_sum).foreachRDD(lambda rdd: None)
    with pytest.raises(ValueError, match=r"queueStream-0.updateStateByKey \(updateStateByKey at "
                                         r"test_state.py:\d+\) keeps state across batches"):
        ssc.start()


def test_update_state_by_key_needs_a_function(ssc: StreamingContext) -> None:
    with pytest.raises(TypeError, match="DStream.updateStateByKey on queueStream-0: "
                                        "updateFunc must be callable, got int 42"):
        ssc.queueStream([]).updateStateByKey(42)


def test_state_survives_checkpoints_and_lineage_is_cut(ssc: StreamingContext, checkpoint_dir: str) -> None:
    ssc.checkpoint(checkpoint_dir)
    state = ssc.queueStream([[("a", 1)]] * 25).updateStateByKey(running_sum)
    rdds: list[Any] = []
    state.foreachRDD(lambda rdd: rdds.append(rdd) or rdd.collect())
    out = collect_batches(state)
    ssc.start()
    for _ in range(25):
        advance_batch(ssc)
    assert out[-1] == [("a", 25)]
    assert [i + 1 for i, r in enumerate(rdds) if r.isCheckpointed()] == [10, 20]
    assert rdds[19].deps == []


def test_state_of_several_streams_with_window(run: Any, checkpoint_dir: str) -> None:
    result = run([[("a", 1)], [("a", 1)], [("a", 1)], []],
                 lambda s: s.reduceByKeyAndWindow(operator.add, None, 2, 1).updateStateByKey(running_sum),
                 checkpoint=checkpoint_dir)
    assert result == [[("a", 1)], [("a", 3)], [("a", 5)], [("a", 6)]]


# ---------------------------------------------------------------------- mapWithState
def counting(key: str, value: int | None, state: State) -> Any:
    if state.isTimingOut():
        return ("timeout", key, state.get())
    total = (state.getOption() or 0) + value
    state.update(total)
    return (key, total)


def run_map_with_state(ssc: StreamingContext, checkpoint_dir: str, inputs: list, spec: StateSpec,
                       n: int | None = None) -> tuple[list, list]:
    ssc.checkpoint(checkpoint_dir)
    mapped = ssc.queueStream(inputs).mapWithState(spec)
    out, snapshots = collect_batches(mapped), collect_batches(mapped.stateSnapshots())
    ssc.start()
    for _ in range(len(inputs) if n is None else n):
        advance_batch(ssc)
    ssc.awaitTerminationOrTimeout(0)
    return [sorted(b, key=repr) for b in out], [sorted(b, key=repr) for b in snapshots]


def test_map_with_state_emits_for_touched_keys_only(ssc: StreamingContext, checkpoint_dir: str) -> None:
    out, snapshots = run_map_with_state(ssc, checkpoint_dir, [[("a", 1), ("a", 2)], [("b", 5)], [], [("a", 1)]],
                                        StateSpec.function(counting))
    assert out == [[("a", 1), ("a", 3)], [("b", 5)], [], [("a", 4)]]
    assert snapshots == [[("a", 3)], [("a", 3), ("b", 5)], [("a", 3), ("b", 5)], [("a", 4), ("b", 5)]]


def test_map_with_state_calls_the_function_once_per_record(ssc: StreamingContext, checkpoint_dir: str) -> None:
    calls: list[str] = []

    def spy(key: str, value: int, state: State) -> None:
        calls.append(key)
        state.update(value)

    run_map_with_state(ssc, checkpoint_dir, [[("a", 1), ("b", 1), ("c", 1)], [("b", 2)], []],
                       StateSpec.function(spy))
    assert sorted(calls) == ["a", "b", "b", "c"]


def test_map_with_state_timeout(ssc: StreamingContext, checkpoint_dir: str) -> None:
    """A key times out once it has had no data for more than the timeout (2 s): updated at
    t=1, timed out at t=4; touched again at t=5 it lives until t=8."""
    inputs = [[("a", 1)], [("b", 1)], [], [], [("b", 1)], [], [], []]
    out, snapshots = run_map_with_state(ssc, checkpoint_dir, inputs, StateSpec.function(counting).timeout(2))
    assert out == [[("a", 1)], [("b", 1)], [], [("timeout", "a", 1)], [("b", 2)], [], [], [("timeout", "b", 2)]]
    assert snapshots == [[("a", 1)], [("a", 1), ("b", 1)], [("a", 1), ("b", 1)], [("b", 1)], [("b", 2)],
                         [("b", 2)], [("b", 2)], []]


def test_map_with_state_initial_state(ssc: StreamingContext, checkpoint_dir: str) -> None:
    spec = StateSpec.function(counting).initialState([("a", 10), ("z", 5)])
    out, snapshots = run_map_with_state(ssc, checkpoint_dir, [[("a", 1)], []], spec)
    assert out == [[("a", 11)], []]
    assert snapshots == [[("a", 11), ("z", 5)], [("a", 11), ("z", 5)]]


def test_map_with_state_initial_state_rdd_times_out(ctx: Any, ssc: StreamingContext, checkpoint_dir: str) -> None:
    spec = StateSpec.function(counting).initialState(ctx.parallelize([("z", 5)])).timeout(1)
    out, snapshots = run_map_with_state(ssc, checkpoint_dir, [[], [], []], spec)
    assert out == [[], [], [("timeout", "z", 5)]]
    assert snapshots == [[("z", 5)], [("z", 5)], []]


def test_map_with_state_remove(ssc: StreamingContext, checkpoint_dir: str) -> None:
    def remove_on_zero(key: str, value: int, state: State) -> Any:
        if value == 0:
            state.remove()
            return (key, "removed")
        state.update(value)
        return (key, value)

    out, snapshots = run_map_with_state(ssc, checkpoint_dir, [[("a", 1), ("b", 2)], [("a", 0)], []],
                                        StateSpec.function(remove_on_zero))
    assert out == [[("a", 1), ("b", 2)], [("a", "removed")], []]
    assert snapshots == [[("a", 1), ("b", 2)], [("b", 2)], [("b", 2)]]


def test_map_with_state_function_with_time(ssc: StreamingContext, checkpoint_dir: str) -> None:
    def with_time(time: dt.datetime, key: str, value: int, state: State) -> Any:
        return (key, time.second)

    out, _ = run_map_with_state(ssc, checkpoint_dir, [[("a", 1)], [("a", 1)]], StateSpec.function(with_time))
    assert out == [[("a", 1)], [("a", 2)]]


def test_state_rules(ssc: StreamingContext, checkpoint_dir: str) -> None:
    seen: list[str] = []

    def probe(key: str, value: int | None, state: State) -> None:
        if state.isTimingOut():
            for action in (lambda: state.update(1), state.remove):
                try:
                    action()
                except ValueError as e:
                    seen.append(str(e))
            return
        if not state.exists():
            try:
                state.get()
            except KeyError:
                seen.append("no state")
        state.update(value)

    run_map_with_state(ssc, checkpoint_dir, [[("a", 1)], [], [], []], StateSpec.function(probe).timeout(1))
    assert seen == ["no state", "State.update(): cannot update a state that is timing out",
                    "State.remove(): cannot remove a state that is timing out"]


@pytest.mark.parametrize("ctx", ["local[2]", "dask-local[2]"], indirect=True)
def test_map_with_state_local2(ctx: Any, ssc: StreamingContext, checkpoint_dir: str) -> None:
    out, snapshots = run_map_with_state(ssc, checkpoint_dir, [[("a", 1), ("b", 1)], [("a", 2)]],
                                        StateSpec.function(counting).numPartitions(3))
    assert out == [[("a", 1), ("b", 1)], [("a", 3)]]
    assert snapshots == [[("a", 1), ("b", 1)], [("a", 3), ("b", 1)]]


def test_map_with_state_needs_a_state_spec(ssc: StreamingContext) -> None:
    with pytest.raises(TypeError, match="mapWithState takes a StateSpec"):
        ssc.queueStream([]).mapWithState(counting)


def test_map_with_state_needs_a_checkpoint_directory(ssc: StreamingContext) -> None:
    ssc.queueStream([]).mapWithState(StateSpec.function(counting)).foreachRDD(lambda rdd: None)
    with pytest.raises(ValueError, match="mapWithState at test_state.py:\\d+\\) keeps state"):
        ssc.start()


def test_state_spec_arguments() -> None:
    with pytest.raises(TypeError, match="take \\(key, value, state\\)"):
        StateSpec.function(lambda a, b: None)
    with pytest.raises(ValueError, match="numPartitions must be an int >= 1"):
        StateSpec.function(counting).numPartitions(0)
    with pytest.raises(ValueError, match="StateSpec.timeout: seconds must be positive, got 0 s"):
        StateSpec.function(counting).timeout(0)
