"""File streams: which files of a directory belong to a batch, and fixed-length records.

A file stream has no receiver: as in Spark, the driver lists the directory
at every batch time and :class:`FileScanner` applies Spark's rules
(``FileInputDStream``):

- a file belongs to the first batch whose time is at or after its
  modification time; a file with a modification time in the future waits;
- names starting with ``.`` or ``_`` are ignored (temporary and marker files),
  and so is anything ``filter(path)`` rejects and anything not a regular file;
- each file is selected once: the scanner remembers what it selected;
- a file older than the *remember window* is ignored: older than the batch
  time minus ``min_remember_ms`` (rounded up to whole batch intervals), and,
  with ``new_files_only``, older than the stream's start. As in Spark, this
  holds even with ``new_files_only=False``: existing files count only if
  they are younger than the window.

Only whole files count: a file must appear complete. Write it elsewhere (on
the same file system) and move it into the directory with a rename; a file
written in place can be selected half-written, and later writes to it are not
seen. A rename keeps the modification time, so a file moved in long after it
was written is older than the remember window and ignored: touch it first.

``state()`` is plain JSON-able data, and ``restore(state)`` brings back the
files already selected and the stream's start, so a restarted driver neither
reads a file twice nor skips one that arrived while it was down (within the
window).

>>> import os, tempfile
>>> directory = tempfile.mkdtemp()
>>> scanner = FileScanner(directory, start_time_ms=1_000_000)
>>> def put(name, mtime_ms):
...     path = os.path.join(directory, name)
...     with open(path, "w") as f:
...         _ = f.write(name)
...     os.utime(path, ns=(mtime_ms * 1_000_000, mtime_ms * 1_000_000))
>>> put("a.txt", 1_000_500); put(".hidden", 1_000_500); put("later.txt", 1_002_500)
>>> [os.path.basename(p) for p in scanner.select(1_001_000, 1_000_000)]
['a.txt']
>>> [os.path.basename(p) for p in scanner.select(1_002_000, 1_001_000)]
[]
>>> [os.path.basename(p) for p in scanner.select(1_003_000, 1_002_000)]
['later.txt']
>>> again = FileScanner(directory, start_time_ms=0)
>>> again.restore(scanner.state())
>>> again.select(1_004_000, 1_003_000)
[]
>>> import shutil; shutil.rmtree(directory)
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from typing import Any

__all__ = ["FileScanner", "read_binary_records"]

log = logging.getLogger(__name__)

STATE_VERSION = 1


class FileScanner:
    """Select the new files of ``directory`` for each batch, by Spark's rules (see the module).

    - ``filter(path) -> bool``: keep only files it accepts (after the name rules).
    - ``new_files_only``: ignore files older than the stream's start
      (``start_time_ms``, default: now, wall clock in ms).
    - ``min_remember_ms``: the shortest remember window.

    >>> FileScanner("/tmp", min_remember_ms=-1)
    Traceback (most recent call last):
    ...
    ValueError: min_remember_ms must be an int >= 0, got -1
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        filter: Callable[[str], bool] | None = None,  # noqa: A002 - PySpark's name
        new_files_only: bool = True,
        min_remember_ms: int = 60_000,
        *,
        start_time_ms: int | None = None,
    ) -> None:
        if filter is not None and not callable(filter):
            raise TypeError(f"filter must be a function from a path to bool, got {filter!r}")
        if (
            isinstance(min_remember_ms, bool)
            or not isinstance(min_remember_ms, int)
            or min_remember_ms < 0
        ):
            raise ValueError(f"min_remember_ms must be an int >= 0, got {min_remember_ms!r}")
        self.directory = os.fspath(directory)
        self.filter = filter
        self.new_files_only = bool(new_files_only)
        self.min_remember_ms = min_remember_ms
        self.start_time_ms = (
            int(time.time() * 1000) if start_time_ms is None else int(start_time_ms)
        )
        self._selected: dict[str, int] = {}  # path -> modification time (ms) when selected
        self._last_batch_time_ms: int | None = None

    def remember_ms(self, batch_time_ms: int, previous_batch_time_ms: int | None) -> int:
        """The remember window: ``min_remember_ms`` rounded up to whole batch intervals.

        >>> FileScanner("/tmp", min_remember_ms=60_000).remember_ms(7_000, 0)
        63000
        """
        if previous_batch_time_ms is None or batch_time_ms <= previous_batch_time_ms:
            return self.min_remember_ms
        slide = batch_time_ms - previous_batch_time_ms
        return slide * math.ceil(self.min_remember_ms / slide)

    def ignore_threshold_ms(
        self, batch_time_ms: int, previous_batch_time_ms: int | None = None
    ) -> int:
        """Files modified before this time (ms) are ignored in the batch of ``batch_time_ms``."""
        initial = self.start_time_ms if self.new_files_only else 0
        return max(initial, batch_time_ms - self.remember_ms(batch_time_ms, previous_batch_time_ms))

    def select(self, batch_time_ms: int, previous_batch_time_ms: int | None = None) -> list[str]:
        """The paths of the files that belong to the batch of ``batch_time_ms``, oldest first.

        ``previous_batch_time_ms`` (None for the first batch) gives the batch
        interval, which rounds the remember window. A directory that cannot be
        listed gives no files and a logged warning (as in Spark).
        """
        threshold = self.ignore_threshold_ms(batch_time_ms, previous_batch_time_ms)
        found: list[tuple[int, str]] = []
        try:
            entries = list(os.scandir(self.directory))
        except OSError as exc:
            log.warning("file stream on %s: cannot list the directory: %s", self.directory, exc)
            return []
        for entry in entries:
            if entry.name.startswith((".", "_")):
                continue
            path = entry.path
            if path in self._selected:
                continue
            try:
                if not entry.is_file():
                    continue
                mtime_ms = entry.stat().st_mtime_ns // 1_000_000
            except OSError:
                continue  # removed or renamed since the listing
            if mtime_ms < threshold or mtime_ms > batch_time_ms:
                continue
            if self.filter is not None and not self.filter(path):
                continue
            found.append((mtime_ms, path))
        found.sort()
        for mtime_ms, path in found:
            self._selected[path] = mtime_ms
        # Files modified before the threshold are ignored anyway: no need to remember them.
        self._selected = {p: m for p, m in self._selected.items() if m >= threshold}
        self._last_batch_time_ms = batch_time_ms
        return [path for _, path in found]

    def state(self) -> dict[str, Any]:
        """What a restarted driver needs (plain JSON-able data).

        >>> FileScanner("/data/in", start_time_ms=5).state()
        {'version': 1, 'directory': '/data/in', 'start_time_ms': 5, 'last_batch_time_ms': None, 'selected': {}}
        """
        return {
            "version": STATE_VERSION,
            "directory": self.directory,
            "start_time_ms": self.start_time_ms,
            "last_batch_time_ms": self._last_batch_time_ms,
            "selected": dict(self._selected),
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Take back ``state()`` of an earlier scanner: its start time and the files it selected.

        >>> FileScanner("/tmp").restore({"version": 9})
        Traceback (most recent call last):
        ...
        ValueError: file stream state for /tmp has version 9; this version of dstream reads version 1
        """
        version = state.get("version") if isinstance(state, dict) else None
        if version != STATE_VERSION:
            raise ValueError(
                f"file stream state for {self.directory} has version {version!r}; "
                f"this version of dstream reads version {STATE_VERSION}"
            )
        selected = state.get("selected")
        if not isinstance(selected, dict) or not all(
            isinstance(p, str) and isinstance(m, int) for p, m in selected.items()
        ):
            raise ValueError(
                f"file stream state for {self.directory}: 'selected' must map paths to ms"
            )
        if state.get("directory") != self.directory:
            log.warning(
                "file stream state was saved for %s, now reading %s: "
                "files selected there are kept as selected",
                state.get("directory"),
                self.directory,
            )
        self.start_time_ms = int(state["start_time_ms"])
        self._last_batch_time_ms = state.get("last_batch_time_ms")
        self._selected = dict(selected)


def read_binary_records(path: str | os.PathLike[str], record_length: int) -> list[bytes]:
    """The fixed-length records of a file (``binaryRecordsStream``).

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile(suffix=".bin", delete=False) as f:
    ...     _ = f.write(b"aaabbbccc")
    >>> read_binary_records(f.name, 3)
    [b'aaa', b'bbb', b'ccc']
    >>> read_binary_records(f.name, 4)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ....bin: size 9 bytes is not a multiple of the record length 4
    >>> os.remove(f.name)
    """
    if isinstance(record_length, bool) or not isinstance(record_length, int) or record_length < 1:
        raise ValueError(f"record_length must be an int >= 1, got {record_length!r}")
    with open(path, "rb") as f:
        data = f.read()
    if len(data) % record_length:
        raise ValueError(
            f"{os.fspath(path)}: size {len(data)} bytes is not a multiple of "
            f"the record length {record_length}"
        )
    return [data[i : i + record_length] for i in range(0, len(data), record_length)]
