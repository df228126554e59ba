"""File streams: at every batch the driver lists the directory and reads the new files.

>>> import os, tempfile
>>> from dstream import Context, StreamingContext
>>> from dstream.streaming.testing import advance_batch, collect_batches
>>> directory = tempfile.mkdtemp()
>>> with Context("local") as ctx:
...     ssc = StreamingContext(ctx, 1, clock="manual")
...     batches = collect_batches(ssc.textFileStream(directory))
...     ssc.start()
...     path = os.path.join(directory, "a.txt")
...     with open(path, "w") as f:
...         _ = f.write("x\\ny\\n")
...     os.utime(path, ns=(500_000_000, 500_000_000))   # modified at 0.5 s: batch 1 s
...     _ = advance_batch(ssc); ssc.stop(False)
>>> batches
[['x', 'y']]
"""

from __future__ import annotations

import os
from typing import Any, Callable, TypeVar

from dstream.receivers import FileScanner, read_binary_records

from ...rdd import RDD
from ...rdd_kinds import ParallelCollectionRDD
from ...textfiles import TextFileRDD
from ..dstream import StreamingContextLike
from ..listener import ReceiverInfo
from .base import InputDStream

__all__ = ["FileInputDStream"]

T = TypeVar("T")
#: how a file stream reads one file: ``read(context, path, count_bad_line)``
FileReader = Callable[[Any, str, Callable[[], None]], RDD[T]]


class FileInputDStream(InputDStream[T]):
    """New files of ``directory`` per batch; each file read by ``read_file(ctx, path)``."""

    def __init__(self, ssc: StreamingContextLike, directory: str, op: str,
                 read_file: FileReader[T],
                 file_filter: Callable[[str], bool] | None = None,
                 new_files_only: bool = True) -> None:
        if not isinstance(directory, str) or not directory:
            raise ValueError(f"{op} needs a directory, got {directory!r}")
        super().__init__(ssc, op)
        self.directory = directory
        self.read_file = read_file
        min_remember_s = ssc.sparkContext._conf.getSeconds("dstream.streaming.fileStream.minRememberDuration", 60.0)
        remember = max(round(min_remember_s * 1000), ssc.batch_duration_ms)
        self.scanner = FileScanner(directory, file_filter, new_files_only, remember, start_time_ms=0)
        self.remember_ms = remember
        #: the files of each remembered batch (a recovered batch reads the same files again)
        self.batch_files: dict[int, list[str]] = {}
        self._restored = False
        #: undecodable lines met by tasks (counted, reported after each batch)
        self.bad_lines = ssc.sparkContext.accumulator(0)
        self._bad_lines_reported = 0

    def _count_bad_line(self) -> Callable[[], None]:
        accumulator = self.bad_lines
        return lambda: accumulator.add(1)

    def start(self) -> None:
        if not self._restored:
            self.scanner.start_time_ms = self._ssc._clock.now_ms()
        self._ssc._scheduler.after_batch.append(lambda _jobset: self._report_bad_lines())

    def _report_bad_lines(self) -> None:
        total = self.bad_lines.value
        new, self._bad_lines_reported = total - self._bad_lines_reported, total
        if new:
            info = ReceiverInfo(self.stream_id, f"{self.op}({self.directory})")
            self._ssc._bus.post("onReceiverBadRecord", receiver_info=info,
                                details={"reason": "undecodable", "count": new,
                                         "message": f"{new} line(s) of files in {self.directory} "
                                                    "were not valid UTF-8"})

    def source_state(self) -> dict[str, Any]:
        """Plain data for the metadata checkpoint: the files read, per remembered batch."""
        return {"scanner": self.scanner.state(),
                "batches": {str(t): list(files) for t, files in self.batch_files.items()}}

    def restore_source_state(self, saved: dict[str, Any]) -> None:
        self.scanner.restore(saved["scanner"])
        zero = self.zero_time_ms or 0
        self.batch_files = {int(t): list(files) for t, files in saved["batches"].items() if int(t) > zero}
        self._restored = True

    def _compute(self, time_ms: int) -> RDD[T] | None:
        files = self.batch_files.get(time_ms)
        if files is None:
            selected = self.scanner.select(time_ms, time_ms - self.slide_ms)
            files = self.batch_files[time_ms] = [p for p in selected if os.path.getsize(p) > 0]
        files = [p for p in files if os.path.exists(p)]
        rdds = [self.read_file(self._sc, path, self._count_bad_line()) for path in files]
        if not rdds:
            return self._sc.emptyRDD()
        return rdds[0] if len(rdds) == 1 else self._sc.union(rdds)

    def _on_forget(self, time_ms: int, rdd: RDD[T]) -> None:
        super()._on_forget(time_ms, rdd)
        self.batch_files.pop(time_ms, None)


def read_text(ctx: Any, path: str, on_bad_line: Callable[[], None]) -> RDD[str]:
    """A file's lines; undecodable ones are replaced (``replace``, the default) or dropped
    (``strict``) per ``dstream.streaming.receiver.decodeErrors``, and counted either way."""
    policy = ctx._conf.get("dstream.streaming.receiver.decodeErrors", "replace")
    errors = {"replace": "replace", "strict": "drop"}.get(policy)
    if errors is None:
        raise ValueError(f"dstream.streaming.receiver.decodeErrors must be replace or strict, got {policy!r}")
    return TextFileRDD(ctx, path, 1, errors, on_bad_line)


def binary_reader(record_length: int) -> FileReader[bytes]:
    """Each file as one partition of fixed-length records (the file is read by the driver)."""
    def read(ctx: Any, path: str, _on_bad_line: Callable[[], None]) -> RDD[bytes]:
        return ParallelCollectionRDD(ctx, [read_binary_records(path, record_length)])
    return read
