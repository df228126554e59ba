"""Reading text files: ``textFile`` and ``wholeTextFiles`` (writing them: ``file_outputs.py``).

Files are cut into byte ranges like Hadoop's ``TextInputFormat`` (a line belongs to the
range it starts in), and each task reads its own range, so the driver never reads the data.

>>> import os, tempfile
>>> d = tempfile.mkdtemp()
>>> with open(os.path.join(d, "a.txt"), "w") as f:
...     _ = f.write("one\\ntwo\\r\\nthree")
>>> splits = plan_splits([os.path.join(d, "a.txt")], 2)
>>> [line for s in splits for line in read_split(*s)]
['one', 'two', 'three']
"""

from __future__ import annotations

import glob as globmod
import os
import re
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterable, Iterator

from .errors import InputDecodeError
from .rdd import RDD, RDDContext

if TYPE_CHECKING:
    from .taskcontext import TaskContext

__all__ = ["TextFileRDD", "WholeTextFilesRDD", "expand_paths", "plan_splits", "read_split"]

_LOCAL_BLOCK_SIZE = 32 << 20      # Hadoop's fs.local.block.size
_SPLIT_SLOP = 1.1
_READ_CHUNK = 4 << 20
_LINE_BREAK = re.compile("\r\n|\r|\n")


def expand_paths(path: str) -> list[str]:
    """Files named by ``path``: a file, a directory (its visible files), a glob, or a
    comma-separated list of those. Raises FileNotFoundError naming what matched nothing."""
    files: list[str] = []
    for part in path.split(","):
        part = part.strip()
        if part.startswith("file://"):
            part = part[len("file://"):]
        elif part.startswith("file:"):
            part = part[len("file:"):]
        matches = sorted(globmod.glob(part)) if globmod.has_magic(part) else [part]
        if not matches or not all(os.path.exists(m) for m in matches):
            raise FileNotFoundError(f"Input path does not exist: {part}")
        for m in matches:
            if os.path.isdir(m):
                files.extend(os.path.join(m, n) for n in sorted(os.listdir(m))
                             if not n.startswith((".", "_")) and os.path.isfile(os.path.join(m, n)))
            else:
                files.append(m)
    return files


def plan_splits(files: list[str], min_partitions: int) -> list[tuple[str, int, int]]:
    """``(file, start, end)`` byte ranges, sized as Hadoop's FileInputFormat sizes them."""
    sizes = [os.path.getsize(f) for f in files]
    goal = sum(sizes) // max(min_partitions, 1)
    split_size = max(1, min(goal, _LOCAL_BLOCK_SIZE))
    splits: list[tuple[str, int, int]] = []
    for path, size in zip(files, sizes):
        if size == 0:
            splits.append((path, 0, 0))
            continue
        start = 0
        while (size - start) / split_size > _SPLIT_SLOP:
            splits.append((path, start, start + split_size))
            start += split_size
        splits.append((path, start, size))
    return splits


def read_split(path: str, start: int, end: int, errors: str = "strict",
               on_bad_line: Callable[[], None] | None = None) -> Iterator[str]:
    """The lines of ``path`` that start in ``(start, end]`` (or ``[0, end]`` for the first split).

    A line ends at ``\\n``, ``\\r`` or ``\\r\\n``, as in Hadoop's LineReader. A line that starts
    exactly at ``end`` belongs to this split, and the next split skips up to its first line end,
    as in Hadoop's LineRecordReader.

    ``errors`` is what to do with a line that is not valid UTF-8: ``strict`` raises
    InputDecodeError naming the file and offset; ``replace`` keeps the line with U+FFFD and
    ``drop`` leaves it out, both calling ``on_bad_line()`` (file streams count them).

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "crlf.txt")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(b"a\\r\\nb\\rc\\n\\nd")
    >>> list(read_split(path, 0, os.path.getsize(path)))
    ['a', 'b', 'c', '', 'd']
    """
    with open(path, "rb") as f:
        first = 0 if start == 0 else _line_end(f, start)
        stop = _line_end(f, end)
        f.seek(first)
        for offset, block in _blocks_of_lines(f, first, stop):
            if errors == "strict":
                yield from _split_lines(_decode(block, path, offset))
            else:
                yield from _lenient_lines(block, errors, on_bad_line)


def _lenient_lines(block: bytes, errors: str, on_bad_line: Callable[[], None] | None) -> list[str]:
    """Lines of a block; the undecodable ones replaced or dropped, and counted."""
    try:
        return _split_lines(block.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    lines = []
    for raw in _split_lines(block.decode("latin-1")):
        data = raw.encode("latin-1")
        try:
            lines.append(data.decode("utf-8"))
        except UnicodeDecodeError:
            if on_bad_line is not None:
                on_bad_line()
            if errors == "replace":
                lines.append(data.decode("utf-8", "replace"))
    return lines


def _blocks_of_lines(f: Any, pos: int, stop: int) -> Iterator[tuple[int, bytes]]:
    """``(offset, bytes)`` blocks of whole lines between ``pos`` and ``stop``, each cut after a
    ``\\n`` (so never inside a ``\\r\\n`` nor a UTF-8 character), read a chunk at a time."""
    carry = b""
    while pos < stop:
        chunk = f.read(min(_READ_CHUNK, stop - pos))
        if not chunk:
            break
        data = carry + chunk
        data_start = pos - len(carry)
        pos += len(chunk)
        cut = len(data) if pos >= stop else data.rfind(b"\n") + 1
        carry = data[cut:]
        if cut:
            yield data_start, data[:cut]
    if carry:  # the file shrank while it was read
        yield pos - len(carry), carry


def _split_lines(text: str) -> list[str]:
    """The lines of a block of whole lines (its last line end dropped, not the empty line)."""
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith(("\n", "\r")):
        text = text[:-1]
    return _LINE_BREAK.split(text) if "\r" in text else text.split("\n")


def _line_end(f: BinaryIO, pos: int) -> int:
    """Offset just past the first line end (``\\n``, ``\\r`` or ``\\r\\n``) at or after ``pos``
    (or the end of the file)."""
    f.seek(pos)
    while True:
        buf = f.read(1 << 16)
        if not buf:
            return f.tell()
        found = [i for i in (buf.find(b"\n"), buf.find(b"\r")) if i >= 0]
        if found:
            i = min(found)
            if buf[i:i + 1] == b"\r":
                f.seek(pos + i + 1)
                if f.read(1) == b"\n":
                    return pos + i + 2
            return pos + i + 1
        pos += len(buf)


def _decode(data: bytes, path: str, offset: int) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputDecodeError(
            f"{path}: bytes at offset {offset + e.start} are not valid UTF-8 ({e.reason}); "
            "textFile reads UTF-8 text: convert the file, or read it with binaryFiles") from None


class TextFileRDD(RDD[str]):
    """Lines of text files; each partition is one byte range of one file."""

    def __init__(self, ctx: RDDContext, path: str, min_partitions: int, errors: str = "strict",
                 on_bad_line: Callable[[], None] | None = None) -> None:
        if errors not in ("strict", "replace", "drop"):
            raise ValueError(f"errors must be 'strict', 'replace' or 'drop', got {errors!r}")
        self.splits = plan_splits(expand_paths(path), min_partitions)
        super().__init__(ctx, [], len(self.splits))
        self.path = path
        self.errors = errors
        self.on_bad_line = on_bad_line

    def compute(self, split: int, task: TaskContext) -> Iterable[str]:
        return read_split(*self.splits[split], self.errors, self.on_bad_line)


class WholeTextFilesRDD(RDD[tuple[str, str]]):
    """``(file URI, whole content)`` pairs, files spread over at most ``min_partitions`` partitions."""

    def __init__(self, ctx: RDDContext, path: str, min_partitions: int) -> None:
        files = expand_paths(path)
        n = max(1, min(min_partitions, len(files))) if files else 0
        self.groups = [files[i * len(files) // n:(i + 1) * len(files) // n] for i in range(n)]
        super().__init__(ctx, [], n)

    def compute(self, split: int, task: TaskContext) -> Iterator[tuple[str, str]]:
        for path in self.groups[split]:
            with open(path, "rb") as f:
                data = f.read()
            yield "file:" + os.path.abspath(path), _decode(data, path, 0)
