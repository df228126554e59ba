"""The recovery format: plain, versioned data; no code, no pickled graph.

A metadata checkpoint is JSON. State is saved per operator under its *state key*, a stable
id made of the input stream and the chain of stateful operators only (a stateless step
added or removed upstream keeps the key), or the name given with ``DStream.setName()``.

>>> decode_metadata(encode_metadata({"time_ms": 5, "offsets": {("t", 0): 7}}))["offsets"]
{('t', 0): 7}
>>> storage_name("socketTextStream-0/updateStateByKey")[:31]
'socketTextStream-0_updateStateB'
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any, TypeVar

from .stream_node import StreamNode

__all__ = ["IncompatibleCheckpointError", "FORMAT", "VERSION", "encode_metadata", "decode_metadata",
           "storage_name", "state_keys", "data_partition_name"]

#: a stream type, kept from the argument to the result
S = TypeVar("S", bound=StreamNode)

FORMAT = "dstream-checkpoint"
VERSION = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class IncompatibleCheckpointError(ValueError):
    """The saved state does not fit the job's current definition."""


def _to_json(value: Any) -> Any:
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _to_json(v) for k, v in value.items()}
        return {"__pairs__": [[_to_json(k), _to_json(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"__tuple__": [_to_json(v) for v in value]}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"checkpoint metadata holds a {type(value).__name__} ({value!r:.80}); "
                    "only plain data (str, numbers, lists, dicts, tuples) can be saved")


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if "__pairs__" in value:
            return {_from_json(k): _from_json(v) for k, v in value["__pairs__"]}
        if "__tuple__" in value:
            return tuple(_from_json(v) for v in value["__tuple__"])
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def encode_metadata(meta: dict[str, Any]) -> bytes:
    return json.dumps({"format": FORMAT, "version": VERSION, **_to_json(meta)},
                      separators=(",", ":")).encode()


def decode_metadata(data: bytes) -> dict[str, Any]:
    """The metadata dict; ValueError naming what is wrong for anything else."""
    try:
        raw = json.loads(data.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"not a metadata checkpoint (invalid JSON: {e})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ValueError(f"not a metadata checkpoint (format is {raw.get('format') if isinstance(raw, dict) else raw!r:.40})")
    if raw.get("version") != VERSION:
        raise ValueError(f"metadata checkpoint version {raw.get('version')!r}; this build reads version {VERSION}")
    metadata: dict[str, Any] = _from_json(raw)
    return metadata


def storage_name(key: str) -> str:
    """A store-safe, unique name part for a state key."""
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return f"{_UNSAFE.sub('_', key)[:80]}-{digest}"


def data_partition_name(key: str, time_ms: int, split: int) -> str:
    return f"data/{storage_name(key)}/{time_ms:020d}/part-{split:05d}"


def state_keys(streams: Iterable[S]) -> dict[str, S]:
    """State key -> stream, for every stream whose RDDs are checkpointed."""
    keys: dict[str, S] = {}
    paths: dict[int, str] = {}

    def path_of(stream: StreamNode) -> str:
        if id(stream) in paths:
            return paths[id(stream)]
        if stream._user_named or not stream.parents:
            path = stream.id
        else:
            parents = ",".join(path_of(p) for p in stream.parents)
            path = f"{parents}/{stream.op}" if _keeps_state(stream) else parents
        paths[id(stream)] = path
        return path

    for stream in streams:
        if not _keeps_state(stream):
            continue
        key, n = path_of(stream), 1
        while key in keys:
            n += 1
            key = f"{path_of(stream)}#{n}"
        keys[key] = stream
    return keys


def _keeps_state(stream: StreamNode) -> bool:
    return stream.must_checkpoint or stream.checkpoint_ms is not None
