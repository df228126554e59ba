"""The input-stream constructors of ``StreamingContext`` that need receivers or files.

>>> from dstream import Context, StreamingContext
>>> with Context("local") as ctx:
...     ssc = StreamingContext(ctx, 1)
...     ssc.socketTextStream("127.0.0.1", 9999).id
'socketTextStream-0'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterable, TypeVar, cast

from dstream.receivers import Receiver, SocketReceiver, SocketTextReceiver

from ...storagelevel import StorageLevel
from ..arguments import check_function
from .files import FileInputDStream, binary_reader, read_text
from .receiver_streams import DEFAULT_RECEIVER_LEVEL, ReceiverInputDStream, ReceivingContext

if TYPE_CHECKING:
    from ..dstream import DStream

__all__ = ["InputStreams"]

T = TypeVar("T")


class InputStreams:
    """Mixed into ``StreamingContext``. Its methods annotate ``self`` as what they use of the
    context, the protocol ``ReceivingContext``."""

    def receiverStream(self: ReceivingContext,
                       receiver: Receiver) -> DStream[Any]:
        """A stream of what a custom ``Receiver`` stores.

        >>> from dstream import Context, Receiver, StreamingContext
        >>> from dstream.streaming.testing import advance_batch, collect_batches
        >>> class Pushed(Receiver):          # records come from store() calls
        ...     def onStart(self): pass
        ...     def onStop(self): pass
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     pushed = Pushed(); batches = collect_batches(ssc.receiverStream(pushed))
        ...     ssc.start(); pushed.store([1, 2, 3]); _ = advance_batch(ssc); ssc.stop(False)
        >>> batches
        [[1, 2, 3]]
        """
        return ReceiverInputDStream(self, receiver, f"receiverStream[{type(receiver).__name__}]")

    def socketTextStream(self: ReceivingContext,
                         hostname: str, port: int,
                         storageLevel: StorageLevel = DEFAULT_RECEIVER_LEVEL) -> DStream[str]:
        """UTF-8 lines from a TCP server (reconnecting when it goes away).

        Undecodable bytes are replaced and counted (``dstream.streaming.receiver.decodeErrors``:
        ``replace`` or ``strict``, which drops the line); a line longer than
        ``dstream.streaming.receiver.maxRecordBytes`` is dropped and counted.

        >>> from dstream import Context, StreamingContext
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1)
        ...     words = ssc.socketTextStream("127.0.0.1", 9999).flatMap(str.split)   # connects at start()
        ...     words.id
        'socketTextStream-0.flatMap'
        """
        conf = self.sparkContext._conf
        receiver = SocketTextReceiver(
            hostname, port, storageLevel,
            # with a default, get gives a str
            decode_errors=cast(str, conf.get("dstream.streaming.receiver.decodeErrors", "replace")),
            max_record_bytes=conf.getInt("dstream.streaming.receiver.maxRecordBytes", 1 << 20))
        return ReceiverInputDStream(self, receiver, "socketTextStream")

    def socketStream(self: ReceivingContext,
                     hostname: str, port: int,
                     converter: Callable[[BinaryIO], Iterable[T]],
                     storageLevel: StorageLevel = DEFAULT_RECEIVER_LEVEL) -> DStream[T]:
        """Records that ``converter`` reads from the connection's binary stream.

        >>> from dstream import Context, StreamingContext
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1)
        ...     lines = ssc.socketStream("127.0.0.1", 9999, lambda binary: iter(binary.readline, b""))
        ...     lines.id
        'socketStream-0'
        """
        check_function("StreamingContext.socketStream", "converter", converter, 1)
        return ReceiverInputDStream(self, SocketReceiver(hostname, port, converter, storageLevel),
                                    "socketStream")

    def textFileStream(self: ReceivingContext,
                       directory: str) -> DStream[str]:
        """Lines of the files that appear in ``directory`` (moved in whole), each read once.

        >>> import os, tempfile
        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> folder = tempfile.mkdtemp(); path = os.path.join(folder, "a.txt")
        >>> with open(path, "w") as f: _ = f.write("hello\\nworld\\n")
        >>> os.utime(path, (0.5, 0.5))       # modified at 0.5 s: in the first batch (1 s, manual clock)
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     run_batches(ssc, ssc.textFileStream(folder), 2)
        [['hello', 'world'], []]
        """
        return FileInputDStream(self, directory, "textFileStream", read_text)

    def fileStream(self: ReceivingContext,
                   directory: str,
                   filter: Callable[[str], bool] | None = None,  # noqa: A002 - Spark's name
                   newFilesOnly: bool = True) -> DStream[str]:
        """Like ``textFileStream``, choosing files with ``filter(path)``.

        >>> import os, tempfile
        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> folder = tempfile.mkdtemp()
        >>> for name in ("a.txt", "b.log"):
        ...     with open(os.path.join(folder, name), "w") as f: _ = f.write(name + "\\n")
        ...     os.utime(os.path.join(folder, name), (0.5, 0.5))
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     run_batches(ssc, ssc.fileStream(folder, lambda path: path.endswith(".txt")), 1)
        [['a.txt']]
        """
        check_function("StreamingContext.fileStream", "filter", filter, 1, optional=True)
        return FileInputDStream(self, directory, "fileStream", read_text, filter, newFilesOnly)

    def binaryRecordsStream(self: ReceivingContext,
                            directory: str, recordLength: int) -> DStream[bytes]:
        """Fixed-length binary records of the new files in ``directory``.

        >>> import os, tempfile
        >>> from dstream import Context, StreamingContext
        >>> from dstream.streaming.testing import run_batches
        >>> folder = tempfile.mkdtemp(); path = os.path.join(folder, "records.bin")
        >>> with open(path, "wb") as f: _ = f.write(b"abcdef")
        >>> os.utime(path, (0.5, 0.5))
        >>> with Context("local") as ctx:
        ...     ssc = StreamingContext(ctx, 1, clock="manual")
        ...     run_batches(ssc, ssc.binaryRecordsStream(folder, 2), 1)
        [[b'ab', b'cd', b'ef']]
        """
        if not isinstance(recordLength, int) or recordLength < 1:
            raise ValueError(f"recordLength must be an int >= 1, got {recordLength!r}")
        return FileInputDStream(self, directory, "binaryRecordsStream", binary_reader(recordLength))
