"""A checkpoint store in a directory on the local disk.

Objects are files: ``save`` writes a hidden temporary file in the target's
directory, flushes and fsyncs it, renames it over the target with
``os.replace`` (atomic on POSIX) and fsyncs the directory, so after a crash
the name holds the old or the new bytes, never a mix. Logs are files of
framed records appended with ``O_APPEND`` and fsynced before ``append``
returns. Names may contain ``/``: subdirectories are created as needed.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import tempfile
import threading

from dstream.checkpoint import framing
from dstream.checkpoint.errors import CheckpointNotFoundError
from dstream.checkpoint.store import CheckpointStore, OnCorrupt, log_corrupt_tail, validate_name


class DiskStore(CheckpointStore):
    """Checkpoint store rooted at ``directory`` (created if missing).

    ``on_corrupt(name, error)`` is told about torn log tails: those dropped by
    ``read_log`` and those cut off before the next ``append`` to the log (a
    crash in the middle of an append leaves one; appending after it would
    hide every later record).

    >>> import tempfile
    >>> store = DiskStore(tempfile.mkdtemp())
    >>> store.save("state/reduce-1/00000000000000000001", b"counts")
    >>> store.load("state/reduce-1/00000000000000000001")
    b'counts'
    >>> store.exists("state/reduce-1/00000000000000000001"), store.exists("nope")
    (True, False)
    >>> store.save("../outside", b"x")
    Traceback (most recent call last):
    ...
    ValueError: invalid checkpoint name '../outside': component '..' starts with '.'
    >>> store.close()
    """

    def __init__(
        self, directory: str | os.PathLike[str], *, on_corrupt: OnCorrupt | None = None
    ) -> None:
        root = os.path.realpath(os.fspath(directory))
        os.makedirs(root, exist_ok=True)
        if not os.path.isdir(root):
            raise NotADirectoryError(f"checkpoint directory {root} is not a directory")
        self.directory = root
        self._on_corrupt = on_corrupt or log_corrupt_tail
        self._lock = threading.Lock()
        self._ready_logs: set[str] = set()
        self._closed = False

    def __repr__(self) -> str:
        return f"DiskStore({self.directory!r})"

    # -- objects ---------------------------------------------------------

    def save(self, name: str, data: bytes) -> None:
        """Atomically replace ``name`` with ``data`` (temp file, fsync, rename, fsync dir).

        >>> store = DiskStore(tempfile.mkdtemp())
        >>> store.save("meta/1", b"old"); store.save("meta/1", b"new")
        >>> store.load("meta/1"), os.listdir(os.path.join(store.directory, "meta"))
        (b'new', ['1'])
        """
        path = self._path(name)
        framed = framing.frame(data)
        parent = os.path.dirname(path)
        self._makedirs(parent)
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(framed)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(parent)

    def load(self, name: str) -> bytes:
        """Return the payload saved under ``name``, verified against its frame.

        >>> store = DiskStore(tempfile.mkdtemp())
        >>> store.save("meta/1", b"v")
        >>> store.load("meta/1")
        b'v'
        >>> store.load("meta/2")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        dstream.checkpoint.errors.CheckpointNotFoundError: no checkpoint file .../meta/2
        """
        path = self._path(name)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise CheckpointNotFoundError(name, f"no checkpoint file {path}") from None
        return framing.unframe(data, source=path)

    def list(self, prefix: str = "") -> list[str]:
        """Sorted names under the root that start with ``prefix`` (temp files excluded).

        >>> store = DiskStore(tempfile.mkdtemp())
        >>> for name in ("state/b", "state/a", "meta/1"):
        ...     store.save(name, b"")
        >>> store.list(), store.list("state/")
        (['meta/1', 'state/a', 'state/b'], ['state/a', 'state/b'])
        """
        self._check_open()
        base = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        if base:
            try:
                validate_name(base)
            except ValueError:
                return []
        start = os.path.join(self.directory, *base.split("/")) if base else self.directory
        names = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = os.path.relpath(dirpath, self.directory)
            rel_parts = [] if rel == "." else rel.split(os.sep)
            for filename in filenames:
                if filename.startswith("."):
                    continue
                name = "/".join([*rel_parts, filename])
                if name.startswith(prefix):
                    names.append(name)
        return sorted(names)

    def delete(self, name: str) -> None:
        """Remove the file for ``name``; nothing happens when it is missing.

        >>> store = DiskStore(tempfile.mkdtemp())
        >>> store.save("meta/1", b""); store.delete("meta/1"); store.delete("meta/1")
        >>> store.exists("meta/1")
        False
        """
        path = self._path(name)
        with self._lock:
            self._ready_logs.discard(name)
            with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
                os.unlink(path)
                self._remove_empty_parents(os.path.dirname(path))

    def _remove_empty_parents(self, directory: str) -> None:
        """Folders left empty by a delete go too (a months-long run must not pile them up)."""
        while directory != self.directory and os.path.commonpath([self.directory, directory]) == self.directory:
            try:
                os.rmdir(directory)
            except OSError:      # not empty (or already gone): stop here
                return
            directory = os.path.dirname(directory)

    def exists(self, name: str) -> bool:
        """Tell whether a file (object or log) is stored under ``name``.

        >>> store = DiskStore(tempfile.mkdtemp())
        >>> store.append("wal/0", b"r")
        >>> store.exists("wal/0"), store.exists("wal")
        (True, False)
        """
        return os.path.isfile(self._path(name))

    # -- logs ------------------------------------------------------------

    def append(self, name: str, data: bytes) -> None:
        """Append one framed record to the log file ``name`` and fsync it.

        >>> import tempfile
        >>> store = DiskStore(tempfile.mkdtemp())
        >>> for record in (b"a", b"b"):
        ...     store.append("wal/segment", record)
        >>> store.read_log("wal/segment")
        [b'a', b'b']
        """
        path = self._path(name)
        record = framing.frame_record(data)
        with self._lock:
            if name not in self._ready_logs:
                self._prepare_log(name, path)
            with open(path, "ab") as f:
                f.write(record)
                f.flush()
                os.fsync(f.fileno())

    def read_log(
        self, name: str, on_corrupt: OnCorrupt | None = None
    ) -> builtins.list[bytes]:
        """Records of the log ``name`` in order; a torn tail is reported and dropped.

        >>> import os, tempfile
        >>> store = DiskStore(tempfile.mkdtemp())
        >>> store.append("log", b"kept"); store.append("log", b"torn")
        >>> with open(os.path.join(store.directory, "log"), "r+b") as f:
        ...     _ = f.truncate(os.path.getsize(f.name) - 1)
        >>> store.read_log("log", on_corrupt=lambda name, err: print(err.reason))
        record 1 at byte 22: truncated: expected 4 payload bytes, got 3
        [b'kept']
        """
        path = self._path(name)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return []
        records, error = framing.split_records(data, source=path)
        if error is not None:
            (on_corrupt or self._on_corrupt)(name, error)
        return records

    def close(self) -> None:
        """Mark the store closed (it holds no open files between calls).

        >>> store = DiskStore(tempfile.mkdtemp())
        >>> store.close()
        >>> store.list()  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: DiskStore('...') is closed
        """
        self._closed = True

    # -- helpers ---------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"{self!r} is closed")

    def _path(self, name: str) -> str:
        self._check_open()
        validate_name(name)
        path = os.path.join(self.directory, *name.split("/"))
        if os.path.commonpath([self.directory, path]) != self.directory:
            raise ValueError(f"checkpoint name {name!r} escapes {self.directory}")
        return path

    def _makedirs(self, directory: str) -> None:
        missing = []
        current = directory
        while not os.path.isdir(current):
            if os.path.lexists(current):
                rel = os.path.relpath(current, self.directory).replace(os.sep, "/")
                raise NotADirectoryError(
                    f"checkpoint name {rel!r} is an object, so it cannot also hold other names"
                )
            missing.append(current)
            current = os.path.dirname(current)
        for path in reversed(missing):
            with contextlib.suppress(FileExistsError):
                os.mkdir(path)
            _fsync_dir(os.path.dirname(path))

    def _prepare_log(self, name: str, path: str) -> None:
        """Create the log file, or cut a torn tail off an existing one."""
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            parent = os.path.dirname(path)
            self._makedirs(parent)
            with open(path, "ab"):
                pass
            _fsync_dir(parent)
        else:
            good = framing.valid_prefix_length(data)
            if good < len(data):
                _, error = framing.split_records(data, source=path)
                if error is not None:
                    self._on_corrupt(name, error)
                with open(path, "r+b") as f:
                    f.truncate(good)
                    f.flush()
                    os.fsync(f.fileno())
        self._ready_logs.add(name)


def _fsync_dir(path: str) -> None:
    """Make a directory's entries (a rename, a new file) durable."""
    if os.name == "nt":  # pragma: no cover - Windows cannot open directories
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
