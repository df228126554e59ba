"""Incremental checkpoints of ``mapWithState``'s state: a snapshot, then deltas.

A data checkpoint of a ``mapWithState`` operator writes, per partition, either the whole state
(a *snapshot*) or only what changed since the operator's previous checkpoint (a *delta*: the
entries of the keys changed, and the keys removed). A snapshot is written every
``dstream.streaming.state.snapshotEvery`` checkpoints, and whenever a delta cannot be made
(the first checkpoint; a partition computed again from an older batch). The metadata keeps
the *chain* of batch times (the snapshot's, then each delta's); recovery reads the snapshot
and applies the deltas in order. Payloads are pickled, then signed and verified like every
other saved state partition.

>>> entries = {"a": (1, 1000), "b": (2, 1000)}
>>> applied = apply_payload(None, decode_payload(snapshot_payload(entries), "s"), "s")
>>> applied = apply_payload(applied, decode_payload(delta_payload({"a": (3, 2000)}, ["b"]), "d"), "d")
>>> applied
{'a': (3, 2000)}
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Any, Callable, Hashable

from ..block_manager import rdd_block_id
from ..rdd_checkpoint import truncate_to
from ..taskcontext import Serialized
from .checkpointing import DataSnapshot
from .recovery_format import IncompatibleCheckpointError
from .state_map import StateMap, StateVersion
from .stateful import _StateRecord

if TYPE_CHECKING:
    from ..conf import Conf
    from ..rdd import RDD
    from .checkpointing import CheckpointManager

__all__ = ["SNAPSHOT_EVERY_CONF", "snapshot_every", "capture_incremental", "load_chain",
           "snapshot_payload", "delta_payload", "decode_payload", "apply_payload"]

SNAPSHOT_EVERY_CONF = "dstream.streaming.state.snapshotEvery"
_SNAPSHOT = "dstream-state-snapshot"
_DELTA = "dstream-state-delta"
_VERSION = 1


def snapshot_every(conf: Conf) -> int:
    """How many checkpoints a chain holds (its snapshot and the deltas after it).

    >>> from dstream import Conf
    >>> snapshot_every(Conf()), snapshot_every(Conf().set(SNAPSHOT_EVERY_CONF, "1"))
    (10, 1)
    """
    n = conf.getInt(SNAPSHOT_EVERY_CONF, 10)
    if n < 1:
        raise ValueError(f"{SNAPSHOT_EVERY_CONF} must be at least 1 (1: a snapshot every "
                         f"checkpoint, no deltas), got {conf.get(SNAPSHOT_EVERY_CONF)!r}")
    return n


# ---------------------------------------------------------------------- payloads
def snapshot_payload(entries: dict[Hashable, Any]) -> bytes:
    """A partition's whole state, pickled."""
    return pickle.dumps((_SNAPSHOT, _VERSION, entries), protocol=5)


def delta_payload(changed: dict[Hashable, Any], removed: list[Hashable]) -> bytes:
    """The entries changed and the keys removed since the previous checkpoint, pickled."""
    return pickle.dumps((_DELTA, _VERSION, changed, removed), protocol=5)


def decode_payload(data: bytes, source: str) -> tuple[Any, ...]:
    """The payload's ``(kind, ...)``; ValueError naming ``source`` for anything else. Only
    verified (signed) bytes may be given here."""
    try:
        payload = pickle.loads(data)
    except Exception as e:  # noqa: BLE001 - any unpickling failure is a damaged payload
        raise ValueError(f"{source}: not a state checkpoint ({type(e).__name__}: {e})") from None
    if not (isinstance(payload, tuple) and len(payload) >= 3 and payload[0] in (_SNAPSHOT, _DELTA)):
        raise ValueError(f"{source}: not an incremental state checkpoint "
                         f"(holds a {type(payload).__name__})")
    if payload[1] != _VERSION:
        raise ValueError(f"{source}: state checkpoint version {payload[1]!r}; this build reads "
                         f"version {_VERSION}")
    shape = (dict,) if payload[0] == _SNAPSHOT else (dict, list)
    if len(payload) != 2 + len(shape) or not all(isinstance(p, t) for p, t in zip(payload[2:], shape)):
        raise ValueError(f"{source}: a damaged {payload[0]} (its parts are not {shape})")
    return payload


def apply_payload(entries: dict[Hashable, Any] | None, payload: tuple[Any, ...],
                  source: str) -> dict[Hashable, Any]:
    """``entries`` with a decoded snapshot (``entries`` is None) or delta applied."""
    if entries is None:
        if payload[0] != _SNAPSHOT:
            raise ValueError(f"{source}: the chain starts with a delta, not a snapshot")
        own: dict[Hashable, Any] = payload[2]     # a dict of its own, just unpickled
        return own
    if payload[0] != _DELTA:
        raise ValueError(f"{source}: a snapshot where the chain has a delta")
    _, _, changed, removed = payload
    entries.update(changed)
    for k in removed:
        entries.pop(k, None)
    return entries


# ---------------------------------------------------------------------- saving
def capture_incremental(manager: CheckpointManager, key: str, kind: str, time_ms: int,
                        rdd: RDD[Any], info: dict[str, Any] | None, every: int) -> DataSnapshot:
    """The checkpoint of a ``mapWithState`` RDD at ``time_ms``: a delta on the chain in
    ``info`` (the operator's last checkpoint) when every partition can make one, else a
    snapshot. Pickled here, on the batch thread, since the state changes in place after;
    the state's dirty keys start afresh, and the RDD's lineage is cut."""
    partitions = [values.load() if isinstance(values, Serialized) else values
                  for values in manager.partitions_of(rdd)]
    versions = [_version_of(records, time_ms) for records in partitions]
    chain = list((info or {}).get("chain") or [])
    delta = (0 < len(chain) < every and chain[-1] < time_ms
             and (info or {}).get("partitions") == len(versions)
             and all(v.version == time_ms and v.state_map.version == time_ms
                     and v.state_map.checkpointed == chain[-1] for v in versions))
    payloads = []
    for v in versions:
        if delta:
            payloads.append(Serialized(delta_payload(*v.state_map.changes())))
        else:
            payloads.append(Serialized(v.state_map.dump_at(v.version, snapshot_payload)))
        if v.state_map.version == v.version:
            v.state_map.mark_checkpointed(time_ms)
    if rdd.is_cached:          # from now on tasks read the marked state (another process too)
        for split, records in enumerate(partitions):
            rdd.ctx._block_manager.put(rdd_block_id(rdd.id, split), records, rdd.storage_level)
    truncate_to(rdd, partitions)
    n = rdd.partitioner.numPartitions if rdd.partitioner is not None else None
    return DataSnapshot(key, kind, time_ms, payloads, n, chain + [time_ms] if delta else [time_ms])


def _version_of(records: list[Any], time_ms: int) -> StateVersion:
    if len(records) != 1 or not isinstance(records[0], _StateRecord):
        raise TypeError(f"a mapWithState partition holds one state record, got {records!r:.100}")
    states = records[0].states
    if isinstance(states, StateVersion):
        return states
    return StateVersion(StateMap(dict(states), time_ms), time_ms)     # recovered, older format


# ---------------------------------------------------------------------- recovery
def load_chain(manager: CheckpointManager, key: str, info: dict[str, Any], split: int,
               load: Callable[[CheckpointManager, str, int, int], Any]) -> list[Any]:
    """Partition ``split`` of the operator's state: the chain's snapshot with its deltas
    applied, as the one state record of a ``mapWithState`` partition. ``load`` reads and
    verifies one saved partition (IncompatibleCheckpointError when it cannot)."""
    entries = None
    for t in info["chain"]:
        source = f"state of {key!r} at batch {t}, partition {split}"
        try:
            entries = apply_payload(entries, decode_payload(load(manager, key, t, split), source), source)
        except ValueError as e:
            if isinstance(e, IncompatibleCheckpointError):
                raise
            raise IncompatibleCheckpointError(
                f"{e}. Restart with dstream.checkpoint.discardState=true to start fresh from "
                "the saved source positions") from e
    time_ms = info["time_ms"]
    state_map = StateMap(entries, time_ms, checkpointed=time_ms, ordered=False)
    return [_StateRecord(StateVersion(state_map, time_ms), [])]
