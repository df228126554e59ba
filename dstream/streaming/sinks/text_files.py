"""``saveAsTextFiles`` made idempotent: a batch's directory appears whole, or not at all.

PySpark's layout is kept: one directory per batch, ``prefix-<batch time in ms>[.suffix]``,
holding a ``part-NNNNN`` file per partition and ``_SUCCESS``. The tasks write the part files
(fsynced) into a hidden sibling directory, ``.<name>.tmp-<random>``; the driver adds
``_SUCCESS`` and renames the directory into place. A reader (``textFile``,
``textFileStream``, both of which skip names starting with ``.``) never sees a partial batch.

A batch re-run after a crash writes its directory again and replaces the old one: the old
directory is renamed aside (``.<name>.old-<random>``), the new one renamed into place, the old
one removed. A recomputed batch holds the same records, so the result is identical content.
A crash between those two renames leaves no directory for the batch; the batch was not
checkpointed yet, so recovery runs it again and writes it. Leftover hidden directories of a
crashed write are removed the next time that batch is written.

>>> import os, tempfile
>>> from dstream import Context
>>> out = tempfile.mkdtemp()
>>> with Context("local") as ctx:
...     rdd = ctx.parallelize(["a", "b"], 2)
...     save_batch_as_text_files(rdd, os.path.join(out, "words-1000.txt"))
...     save_batch_as_text_files(rdd, os.path.join(out, "words-1000.txt"))   # a re-run
...     save_batch_as_text_files(ctx.parallelize([], 2), os.path.join(out, "words-2000.txt"),
...                              skip_empty=True)
2
2
0
>>> sorted(os.listdir(out)), sorted(os.listdir(os.path.join(out, "words-1000.txt")))
(['words-1000.txt'], ['_SUCCESS', 'part-00000', 'part-00001'])
"""

from __future__ import annotations

import os
import shutil
import uuid
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from ...rdd import RDD

__all__ = ["save_batch_as_text_files"]


def save_batch_as_text_files(rdd: RDD[Any], path: str, skip_empty: bool = False) -> int:
    """Write ``rdd`` as text into the directory ``path`` (renamed into place whole, replacing
    an earlier copy); return the number of records written. With ``skip_empty``, a batch
    without records leaves no directory (and removes one an earlier run left)."""
    if path.startswith("file:"):
        path = "/" + path[len("file:"):].lstrip("/")
    path = os.path.abspath(path)
    parent, name = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    _remove_leftovers(parent, name)
    tmp = os.path.join(parent, f".{name}.tmp-{uuid.uuid4().hex}")
    os.makedirs(tmp)
    try:
        counts = rdd.ctx._run_job(rdd, lambda split, it: _write_part(tmp, split, it))
        written: int = sum(counts)
        if skip_empty and written == 0:
            shutil.rmtree(tmp)
            if os.path.isdir(path):
                _replace(parent, name, None)
            return 0
        with open(os.path.join(tmp, "_SUCCESS"), "wb") as f:
            os.fsync(f.fileno())
        _fsync_dir(tmp)
        _replace(parent, name, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written


def _write_part(directory: str, split: int, records: Iterator[Any]) -> int:
    """Task side: one part file, fsynced; returns how many records it holds."""
    count = 0
    with open(os.path.join(directory, f"part-{split:05d}"), "wb") as f:
        chunk: list[str] = []
        for x in records:
            chunk.append(f"{x.decode('utf-8') if isinstance(x, bytes) else x}\n")
            count += 1
            if len(chunk) >= 4096:
                f.write("".join(chunk).encode("utf-8"))
                chunk = []
        f.write("".join(chunk).encode("utf-8"))
        f.flush()
        os.fsync(f.fileno())
    return count


def _replace(parent: str, name: str, new: str | None) -> None:
    """Put ``new`` at ``parent/name`` (None: remove what is there), the old one renamed aside
    first and removed after."""
    target = os.path.join(parent, name)
    old = None
    if os.path.lexists(target):
        old = os.path.join(parent, f".{name}.old-{uuid.uuid4().hex}")
        os.rename(target, old)
    if new is not None:
        os.rename(new, target)
    _fsync_dir(parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _remove_leftovers(parent: str, name: str) -> None:
    """Hidden directories a crashed write of this batch left behind."""
    for entry in os.listdir(parent):
        if entry.startswith((f".{name}.tmp-", f".{name}.old-")):
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
