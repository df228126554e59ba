"""Numbered generations of a checkpoint: keep the last few, read the newest good one.

A generation of ``kind`` with sequence number ``seq`` is stored as
``f"{kind}/{seq:020d}"`` (zero-padded, so names sort like numbers).

>>> import tempfile
>>> from dstream.checkpoint.disk import DiskStore
>>> store = DiskStore(tempfile.mkdtemp())
>>> for seq in range(1, 6):
...     _ = save_generation(store, "meta", seq, b"batch %d" % seq)
>>> list_generations(store, "meta")
[3, 4, 5]
>>> load_newest(store, "meta")
(5, b'batch 5')
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, TypeVar, overload

from dstream.checkpoint.errors import CheckpointNotFoundError, CorruptCheckpointError
from dstream.checkpoint.store import CheckpointStore, validate_name

log = logging.getLogger("checkpoint")

T = TypeVar("T")
DEFAULT_RETAINED = 3
_SEQ = re.compile(r"\d{20}")

OnCorruptGeneration = Callable[[str, Exception], None]
"""Called as ``on_corrupt(name, error)`` for a generation that cannot be used."""


def generation_name(kind: str, seq: int) -> str:
    """The store name of generation ``seq`` of ``kind``.

    >>> generation_name("state/reduce-1", 42)
    'state/reduce-1/00000000000000000042'
    """
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 10**20:
        raise ValueError(f"generation seq must be an int in [0, 10**20), got {seq!r}")
    return validate_name(f"{validate_name(kind)}/{seq:020d}")


def list_generations(store: CheckpointStore, kind: str) -> list[int]:
    """Sequence numbers of the stored generations of ``kind``, oldest first.

    >>> import tempfile
    >>> from dstream.checkpoint.disk import DiskStore
    >>> store = DiskStore(tempfile.mkdtemp())
    >>> store.save("meta/00000000000000000007", b""); store.save("meta/notes", b"")
    >>> list_generations(store, "meta")
    [7]
    """
    head = validate_name(kind) + "/"
    seqs = []
    for name in store.list(head):
        rest = name[len(head) :]
        if _SEQ.fullmatch(rest):
            seqs.append(int(rest))
    return sorted(seqs)


def save_generation(
    store: CheckpointStore, kind: str, seq: int, data: bytes, *, retained: int = DEFAULT_RETAINED
) -> str:
    """Save generation ``seq`` of ``kind``, then delete all but the newest ``retained``.

    The new generation is written before anything is deleted, so a crash in
    between leaves one generation too many, never too few. The generation
    just saved is always among those kept, even when older-numbered than the
    rest (then it and the newest ``retained - 1`` others remain). Returns its
    name.

    >>> import tempfile
    >>> from dstream.checkpoint.disk import DiskStore
    >>> store = DiskStore(tempfile.mkdtemp())
    >>> save_generation(store, "meta", 1, b"first", retained=1)
    'meta/00000000000000000001'
    >>> _ = save_generation(store, "meta", 2, b"second", retained=1)
    >>> store.list()
    ['meta/00000000000000000002']
    """
    if not isinstance(retained, int) or retained < 1:
        raise ValueError(f"retained must be an int >= 1, got {retained!r}")
    name = generation_name(kind, seq)
    store.save(name, data)
    others = [s for s in list_generations(store, kind) if s != seq]
    for old in others[: max(0, len(others) - (retained - 1))]:
        store.delete(generation_name(kind, old))
    return name


def _report(name: str, error: Exception) -> None:
    log.warning("checkpoint %r cannot be used, trying an older one: %s", name, error)


@overload
def load_newest(
    store: CheckpointStore,
    kind: str,
    on_corrupt: OnCorruptGeneration | None = None,
    *,
    decode: None = None,
) -> tuple[int, bytes] | None: ...


@overload
def load_newest(
    store: CheckpointStore,
    kind: str,
    on_corrupt: OnCorruptGeneration | None = None,
    *,
    decode: Callable[[bytes], T],
) -> tuple[int, T] | None: ...


def load_newest(
    store: CheckpointStore,
    kind: str,
    on_corrupt: OnCorruptGeneration | None = None,
    *,
    decode: Callable[[bytes], Any] | None = None,
) -> tuple[int, Any] | None:
    """Return ``(seq, payload)`` of the newest readable generation of ``kind``, or ``None``.

    Generations are tried newest first. One that is corrupt, vanished since
    it was listed, or whose payload ``decode`` rejects (any ``Exception``) is
    passed to ``on_corrupt(name, error)`` (default: a warning on the
    ``checkpoint`` logger) and the next older one is tried. With ``decode``
    the decoded value is returned instead of the bytes. A store that cannot
    be reached is *not* a reason to fall back: its error propagates, so a
    caller never mistakes an outage for "no checkpoint".

    >>> import json, tempfile
    >>> from dstream.checkpoint.disk import DiskStore
    >>> store = DiskStore(tempfile.mkdtemp())
    >>> _ = save_generation(store, "meta", 1, b'{"batch": 1}')
    >>> _ = save_generation(store, "meta", 2, b'{"batch": 2')  # written by a buggy encoder
    >>> load_newest(store, "meta", lambda name, err: print("skipped", name), decode=json.loads)
    skipped meta/00000000000000000002
    (1, {'batch': 1})
    >>> print(load_newest(store, "nothing-here"))
    None
    """
    report = on_corrupt or _report
    for seq in reversed(list_generations(store, kind)):
        name = generation_name(kind, seq)
        try:
            payload = store.load(name)
        except (CorruptCheckpointError, CheckpointNotFoundError) as exc:
            report(name, exc)
            continue
        if decode is None:
            return seq, payload
        try:
            return seq, decode(payload)
        except Exception as exc:  # noqa: BLE001 - any decoder failure means "undecodable"
            report(name, exc)
    return None
