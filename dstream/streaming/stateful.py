"""State across batches, one batch at a time: the RDDs of ``updateStateByKey`` and
``mapWithState``, ``StateSpec`` and ``State`` (the streams are in ``dstream.py``).

Both keep their state hash-partitioned, so each batch is one narrow pass per partition over
the previous state and the batch's (shuffled) records.

>>> spec = StateSpec.function(lambda key, value, state: (key, value)).timeout(30).numPartitions(2)
>>> spec._timeout_ms, spec._num_partitions
(30000, 2)
"""

from __future__ import annotations

import inspect
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Generic, Hashable, Iterable, Iterator, TypeVar, overload

from ..aggregation import group_values
from ..dependency import Dependency, OneToOneDependency
from ..partitioner import Partitioner
from ..rdd import RDD
from .arguments import check_duration, check_function
from .durations import batch_datetime
from .state_map import StateMap, StateVersion

if TYPE_CHECKING:
    from ..taskcontext import TaskContext

__all__ = ["StateSpec", "State", "StateUpdateRDD", "MapWithStateRDD"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
#: a key's state
S = TypeVar("S")
#: what a ``mapWithState`` function returns
U = TypeVar("U")
#: a ``StateSpec`` whose function takes any key (value) also takes the stream's
K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)
V_contra = TypeVar("V_contra", contravariant=True)
U_co = TypeVar("U_co", covariant=True)


class StateUpdateRDD(RDD[tuple[K, S]], Generic[K, V, S]):
    """Next state per partition: every previous key, then every new key, in that order."""

    def __init__(self, previous: RDD[tuple[K, S]] | None, batch: RDD[tuple[K, V]],
                 update_func: Callable[[list[V], S | None], S | None],
                 partitioner: Partitioner, dedupe_previous: bool) -> None:
        self.previous, self.batch = previous, batch
        self.update_func = update_func
        self.dedupe_previous = dedupe_previous
        parents: list[RDD[Any]] = [batch] if previous is None else [previous, batch]
        deps: list[Dependency[RDD[Any]]] = [OneToOneDependency(r) for r in parents]
        super().__init__(batch.ctx, deps, partitioner.numPartitions, partitioner)

    def compute(self, split: int, task: TaskContext) -> Iterator[tuple[K, S]]:
        update = self.update_func
        arrived = group_values(self.batch.iterator(split, task))
        out: list[tuple[K, S]] = []
        if self.previous is not None:
            seen: set[K] = set()
            for k, state in self.previous.iterator(split, task):
                if self.dedupe_previous:
                    if k in seen:
                        continue
                    seen.add(k)
                new_state = update(arrived.pop(k, []), state)
                if new_state is not None:
                    out.append((k, new_state))
        for k, values in arrived.items():
            new_state = update(values, None)
            if new_state is not None:
                out.append((k, new_state))
        return iter(out)


# ---------------------------------------------------------------------- mapWithState
class StateSpec(Generic[K_contra, V_contra, S, U_co]):
    """What ``mapWithState`` does: ``StateSpec.function(f).timeout(s).initialState(rdd)``.

    ``f(key, value, state)`` (or ``f(time, key, value, state)``) returns the record to emit;
    ``value`` is None when the key is timing out. Typed as ``StateSpec[key, value, state,
    record]``.
    """

    def __init__(self, func: Callable[..., U_co]) -> None:
        check_function("StateSpec.function", "func", func)
        self._func = _with_time(func)
        self._user_func = func
        self._timeout_ms: int | None = None
        #: an RDD or list of ``(key, state)`` pairs
        self._initial: RDD[tuple[Any, S]] | Iterable[tuple[Any, S]] | None = None
        self._num_partitions: int | None = None

    @overload
    @staticmethod
    def function(func: Callable[[K, V | None, State[S]], U]) -> StateSpec[K, V, S, U]: ...
    @overload
    @staticmethod
    def function(func: Callable[[datetime, K, V | None, State[S]], U]) -> StateSpec[K, V, S, U]: ...

    @staticmethod
    def function(func: Callable[..., U]) -> StateSpec[Any, Any, Any, U]:
        return StateSpec(func)

    def timeout(self, seconds: float) -> StateSpec[K_contra, V_contra, S, U_co]:
        self._timeout_ms = check_duration("StateSpec.timeout", "seconds", seconds)
        return self

    def initialState(self, rdd: RDD[tuple[Any, S]] | Iterable[tuple[Any, S]]
                     ) -> StateSpec[K_contra, V_contra, S, U_co]:
        self._initial = rdd
        return self

    def numPartitions(self, n: int) -> StateSpec[K_contra, V_contra, S, U_co]:
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"StateSpec.numPartitions must be an int >= 1, got {n!r}")
        self._num_partitions = n
        return self


def _with_time(func: Callable[..., U]) -> Callable[..., U]:
    try:
        required = [p for p in inspect.signature(func).parameters.values()
                    if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        required = []
    if len(required) == 4:
        return func
    if len(required) in (3, 0):
        return lambda _time, key, value, state: func(key, value, state)
    raise TypeError(f"StateSpec.function: func must take (key, value, state) or (time, key, value, state) "
                    f"for mapWithState; {func!r} takes {len(required)} arguments")


class State(Generic[S]):
    """One key's state inside a ``mapWithState`` function."""

    __slots__ = ("_value", "_exists", "_updated", "_removed", "_timing_out")
    _MISSING = object()
    _value: S | None

    def _wrap(self, value: S | None, exists: bool, timing_out: bool = False) -> State[S]:
        self._value, self._exists = value, exists
        self._updated = self._removed = False
        self._timing_out = timing_out
        return self

    def exists(self) -> bool:
        return self._exists

    def get(self) -> S:
        if not self._exists:
            raise KeyError("State.get(): this key has no state (check state.exists() first)")
        return self._value  # type: ignore[return-value]  # exists: the value is an S

    def getOption(self) -> S | None:
        return self._value if self._exists else None

    def update(self, newState: S) -> None:
        if self._removed:
            raise ValueError("State.update(): the state was removed in this call")
        if self._timing_out:
            raise ValueError("State.update(): cannot update a state that is timing out")
        self._value, self._exists, self._updated = newState, True, True

    def remove(self) -> None:
        if self._timing_out:
            raise ValueError("State.remove(): cannot remove a state that is timing out")
        if self._removed:
            raise ValueError("State.remove(): the state was already removed")
        self._exists, self._removed, self._value = False, True, None

    def isTimingOut(self) -> bool:
        return self._timing_out


class MapWithStateRDD(RDD["_StateRecord"]):
    """Each partition is one record ``(states, mapped)``: ``states`` is the partition's state at
    this batch (a ``StateVersion``: the previous batch's ``StateMap``, advanced in place by the
    keys this batch touches), ``mapped`` is what the function returned."""

    def __init__(self, previous: RDD[_StateRecord] | RDD[tuple[Any, Any]] | None,
                 batch: RDD[tuple[Any, Any]], spec: StateSpec[Any, Any, Any, Any], time_ms: int,
                 partitioner: Partitioner) -> None:
        self.previous, self.batch, self.spec, self.time_ms = previous, batch, spec, time_ms
        parents: list[RDD[Any]] = [batch] if previous is None else [previous, batch]
        deps: list[Dependency[RDD[Any]]] = [OneToOneDependency(r) for r in parents]
        super().__init__(batch.ctx, deps, partitioner.numPartitions, partitioner)
        #: the maps this RDD's partitions were computed into, in this process (to trim them)
        self.state_maps: dict[int, StateMap] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["state_maps"] = {}
        return state

    def _previous_version(self, split: int, task: TaskContext) -> StateVersion:
        if self.previous is None:
            return StateVersion(StateMap(), None)
        records: list[Any] = list(self.previous.iterator(split, task))
        if records and isinstance(records[0], _StateRecord):
            states = records[0].states
            if isinstance(states, StateVersion):
                return states
            return StateVersion(StateMap(dict(states)), None)    # saved by an older build
        # an initial state RDD of (key, state) pairs: the last pair of a key wins, as in Spark
        return StateVersion(StateMap({k: (v, self.time_ms) for k, v in records}), None)

    def compute(self, split: int, task: TaskContext) -> Iterator[_StateRecord]:
        func, time_ms, timeout = self.spec._func, self.time_ms, self.spec._timeout_ms
        when = batch_datetime(time_ms)
        previous = self._previous_version(split, task)
        state_map = previous.state_map
        if not state_map.can_advance(previous.version, time_ms):
            # an older batch computed again: from a copy of its version, the newer ones stay
            state_map = StateMap(dict(previous.items()), previous.version, ordered=False)
        mapped: list[Any] = []
        state: State[Any] = State()
        with state_map.advance(previous.version, time_ms) as batch:
            for k, v in self.batch.iterator(split, task):
                current = batch.get(k)
                state._wrap(current[0] if current is not None else None, current is not None)
                mapped.append(func(when, k, v, state))
                if state._removed:
                    batch.remove(k)
                elif state._updated or (state._exists and timeout is not None):
                    batch.put(k, (state._value, time_ms), move_to_end=timeout is not None)
            if timeout is not None:
                for k, (value, _) in batch.expired(time_ms - timeout):
                    mapped.append(func(when, k, None, state._wrap(value, True, timing_out=True)))
                    batch.remove(k)
        self.state_maps[split] = state_map
        return iter([_StateRecord(StateVersion(state_map, time_ms), mapped)])


class _StateRecord:
    __slots__ = ("states", "mapped")

    def __init__(self, states: StateVersion | dict[Any, tuple[Any, int]], mapped: list[Any]) -> None:
        self.states, self.mapped = states, mapped

    def __reduce__(self) -> tuple[type[_StateRecord],
                                  tuple[StateVersion | dict[Any, tuple[Any, int]], list[Any]]]:
        return (_StateRecord, (self.states, self.mapped))


def _mapped_of(record: _StateRecord) -> list[Any]:
    return record.mapped


def _states_of(record: _StateRecord) -> Iterator[tuple[Any, Any]]:
    return ((k, v[0]) for k, v in record.states.items())
