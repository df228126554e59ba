"""The checkpoint store interface and its name rules (stores open by location: ``locations.py``).

A store keeps two kinds of things under portable names:

* **objects**, written whole by :meth:`CheckpointStore.save` (atomically: a
  reader sees the old or the new bytes, never a mix) and read by ``load``;
* **logs**, append-only sequences of records written by ``append`` (durable
  when it returns) and read back in order by ``read_log``.

A name is either an object or a log. Both are listed by ``list``, tested by
``exists`` and removed by ``delete``. Every byte stored is framed
(:mod:`checkpoint.framing`), so damage is detected and reported precisely.

>>> import tempfile
>>> from dstream.checkpoint import open_store
>>> store = open_store(tempfile.mkdtemp())
>>> store.save("meta/00000001", b"v1")
>>> store.load("meta/00000001"), store.list("meta/")
(b'v1', ['meta/00000001'])
>>> store.close()
"""

from __future__ import annotations

import builtins
import abc
import logging
import re
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

from dstream.checkpoint.errors import CorruptCheckpointError

log = logging.getLogger("checkpoint")
_S = TypeVar("_S", bound="CheckpointStore")

OnCorrupt = Callable[[str, CorruptCheckpointError], None]
"""Called as ``on_corrupt(name, error)`` when a torn or corrupt log tail is dropped."""

_BAD_CHARS = re.compile(r'[\x00-\x1f\x7f\\:]')


def validate_name(name: str) -> str:
    """Check that ``name`` is a portable store name and return it.

    A name is one or more ``/``-separated components. Components must be
    non-empty and must not start with ``.`` (so ``.`` and ``..`` are refused,
    and hidden temporary files never collide with names). Backslashes, colons
    and control characters are refused so that a name means the same thing
    on disk and in Redis.

    >>> validate_name("state/op-3/00000000000000000042")
    'state/op-3/00000000000000000042'
    >>> validate_name("../etc/passwd")
    Traceback (most recent call last):
    ...
    ValueError: invalid checkpoint name '../etc/passwd': component '..' starts with '.'
    """
    if not isinstance(name, str):
        raise TypeError(f"checkpoint name must be str, got {type(name).__name__}")
    if not name:
        raise ValueError("invalid checkpoint name '': it is empty")
    bad = _BAD_CHARS.search(name)
    if bad:
        raise ValueError(
            f"invalid checkpoint name {name!r}: character {bad.group()!r} is not allowed"
        )
    for component in name.split("/"):
        if not component:
            raise ValueError(
                f"invalid checkpoint name {name!r}: empty component "
                "(leading, trailing or doubled '/')"
            )
        if component.startswith("."):
            raise ValueError(
                f"invalid checkpoint name {name!r}: component {component!r} starts with '.'"
            )
    return name


def log_corrupt_tail(name: str, error: CorruptCheckpointError) -> None:
    """Default ``on_corrupt`` for logs: a warning on the ``checkpoint`` logger.

    >>> log_corrupt_tail("wal/0", CorruptCheckpointError("wal/0", "truncated"))
    """
    log.warning("dropping torn or corrupt tail of checkpoint log %r: %s", name, error)


class CheckpointStore(abc.ABC):
    """Saves and loads bytes under names; see the module docstring.

    Implementations: :class:`checkpoint.disk.DiskStore` and
    :class:`checkpoint.redis_store.RedisStore`. A store is a context manager
    that closes itself.

    >>> import tempfile
    >>> from dstream.checkpoint.disk import DiskStore
    >>> with DiskStore(tempfile.mkdtemp()) as store:
    ...     store.append("wal/a", b"r1"); store.append("wal/a", b"r2")
    ...     store.read_log("wal/a")
    [b'r1', b'r2']
    """

    @abc.abstractmethod
    def save(self, name: str, data: bytes) -> None:
        """Store ``data`` under ``name`` atomically, replacing any previous object.

        >>> import tempfile
        >>> from dstream.checkpoint import open_store
        >>> store = open_store(tempfile.mkdtemp())   # a DiskStore; RedisStore behaves the same
        >>> store.save("meta/1", b"v1"); store.save("meta/1", b"v2")
        >>> store.load("meta/1")
        b'v2'
        >>> store.close()
        """

    @abc.abstractmethod
    def load(self, name: str) -> bytes:
        """Return the bytes saved under ``name``.

        Raises :class:`~checkpoint.errors.CheckpointNotFoundError` when nothing
        is saved there and :class:`~checkpoint.errors.CorruptCheckpointError`
        when the stored frame is damaged.

        >>> import tempfile
        >>> from dstream.checkpoint import open_store
        >>> store = open_store(tempfile.mkdtemp())   # a DiskStore; RedisStore behaves the same
        >>> store.save("meta/1", b"v1")
        >>> store.load("meta/1")
        b'v1'
        >>> store.load("meta/2")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        dstream.checkpoint.errors.CheckpointNotFoundError: no checkpoint file .../meta/2
        >>> store.close()
        """

    @abc.abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Return the sorted names (objects and logs) that start with ``prefix``.

        >>> import tempfile
        >>> from dstream.checkpoint import open_store
        >>> store = open_store(tempfile.mkdtemp())   # a DiskStore; RedisStore behaves the same
        >>> store.save("meta/2", b"b"); store.save("meta/1", b"a"); store.append("wal/0", b"r")
        >>> store.list("meta/"), store.list()
        (['meta/1', 'meta/2'], ['meta/1', 'meta/2', 'wal/0'])
        >>> store.close()
        """

    @abc.abstractmethod
    def delete(self, name: str) -> None:
        """Remove the object or log ``name``; a missing name is not an error.

        >>> import tempfile
        >>> from dstream.checkpoint import open_store
        >>> store = open_store(tempfile.mkdtemp())   # a DiskStore; RedisStore behaves the same
        >>> store.save("meta/1", b"a")
        >>> store.delete("meta/1"); store.delete("never/saved")
        >>> store.exists("meta/1")
        False
        >>> store.close()
        """

    @abc.abstractmethod
    def exists(self, name: str) -> bool:
        """Tell whether an object or a log is stored under ``name``.

        >>> import tempfile
        >>> from dstream.checkpoint import open_store
        >>> store = open_store(tempfile.mkdtemp())   # a DiskStore; RedisStore behaves the same
        >>> store.append("wal/0", b"r")
        >>> store.exists("wal/0"), store.exists("meta/1")
        (True, False)
        >>> store.close()
        """

    @abc.abstractmethod
    def append(self, name: str, data: bytes) -> None:
        """Append one record to the log ``name`` (created if missing); durable on return.

        >>> import tempfile
        >>> from dstream.checkpoint import open_store
        >>> store = open_store(tempfile.mkdtemp())   # a DiskStore; RedisStore behaves the same
        >>> store.append("wal/0", b"r1"); store.append("wal/0", b"r2")
        >>> store.read_log("wal/0")
        [b'r1', b'r2']
        >>> store.close()
        """

    @abc.abstractmethod
    def read_log(
        self, name: str, on_corrupt: OnCorrupt | None = None
    ) -> builtins.list[bytes]:
        """Return every record appended to ``name``, in order (``[]`` if missing).

        Reading stops at the first torn or corrupt record: the records before
        it are returned, and ``on_corrupt(name, error)`` is called (default:
        :func:`log_corrupt_tail`, a warning on the ``checkpoint`` logger).

        >>> import tempfile
        >>> from dstream.checkpoint import open_store
        >>> store = open_store(tempfile.mkdtemp())   # a DiskStore; RedisStore behaves the same
        >>> store.append("wal/0", b"r1")
        >>> store.read_log("wal/0"), store.read_log("never/written")
        ([b'r1'], [])
        >>> store.close()
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections and files; the store is unusable afterwards.

        >>> import tempfile
        >>> from dstream.checkpoint import open_store
        >>> with open_store(tempfile.mkdtemp()) as store:    # a store closes itself
        ...     store.save("meta/1", b"v1")
        >>> store = open_store(tempfile.mkdtemp())
        >>> store.close()
        """

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
