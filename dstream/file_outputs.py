"""RDD outputs to files: ``saveAsTextFile`` and ``saveAsPickleFile`` write one part file per
partition and a ``_SUCCESS`` marker once every part is written, as Hadoop's output committer does.

>>> import os, tempfile
>>> from dstream import Context
>>> out = os.path.join(tempfile.mkdtemp(), "out")
>>> with Context("local") as ctx:
...     ctx.parallelize(["a", "b"], 2).saveAsTextFile(out)
>>> sorted(os.listdir(out))
['_SUCCESS', 'part-00000', 'part-00001']
"""

from __future__ import annotations

import os
import pickle
from typing import Any, Callable, Iterator

__all__ = ["RunOnPartitions", "save_as_text_file", "save_as_pickle_file"]

#: runs ``write(split, records)`` on each partition of the RDD being saved (a job)
RunOnPartitions = Callable[[Callable[[int, Iterator[Any]], None]], object]


def _prepare_output_dir(path: str) -> str:
    if path.startswith("file:"):
        path = path[len("file:"):].lstrip("/") and "/" + path[len("file:"):].lstrip("/")
    if os.path.exists(path):
        raise FileExistsError(f"Output directory {path} already exists: remove it or choose another")
    os.makedirs(path)
    return path


def _write_part(directory: str, split: int, data: bytes) -> None:
    final = os.path.join(directory, f"part-{split:05d}")
    tmp = os.path.join(directory, f".part-{split:05d}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, final)


def save_as_text_file(run: RunOnPartitions, path: str, compression: str | None = None) -> None:
    """Each element as ``str()`` (bytes as UTF-8 text) on its own line, a part file per partition."""
    if compression is not None:
        raise ValueError(f"compressionCodecClass {compression!r} is not supported; omit it")
    directory = _prepare_output_dir(path)

    def write(split: int, it: Iterator[Any]) -> None:
        text = "".join(f"{x.decode('utf-8') if isinstance(x, bytes) else x}\n" for x in it)
        _write_part(directory, split, text.encode("utf-8"))

    run(write)
    open(os.path.join(directory, "_SUCCESS"), "wb").close()


def save_as_pickle_file(run: RunOnPartitions, path: str) -> None:
    directory = _prepare_output_dir(path)
    run(lambda split, it: _write_part(directory, split, pickle.dumps(list(it), protocol=5)))
    open(os.path.join(directory, "_SUCCESS"), "wb").close()
