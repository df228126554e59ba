"""The input-stream constructors of ``StreamingContext`` that need receivers or files.

>>> from dstream import Context, StreamingContext
>>> with Context("local") as ctx:
...     ssc = StreamingContext(ctx, 1)
...     ssc.socketTextStream("127.0.0.1", 9999).id
'socketTextStream-0'
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterable

from dstream.receivers import Receiver, SocketReceiver, SocketTextReceiver

from ..storagelevel import StorageLevel
from .arguments import check_function
from .file_input import FileInputDStream, binary_reader, read_text
from .receiver_input import DEFAULT_RECEIVER_LEVEL, ReceiverInputDStream

if TYPE_CHECKING:
    from .context import StreamingContext
    from .dstream import DStream

__all__ = ["InputStreams"]


class InputStreams:
    """Mixed into ``StreamingContext``."""

    def receiverStream(self: StreamingContext, receiver: Receiver) -> DStream:
        """A stream of what a custom ``Receiver`` stores."""
        return ReceiverInputDStream(self, receiver, f"receiverStream[{type(receiver).__name__}]")

    def socketTextStream(self: StreamingContext, hostname: str, port: int,
                         storageLevel: StorageLevel = DEFAULT_RECEIVER_LEVEL) -> DStream:
        """UTF-8 lines from a TCP server (reconnecting when it goes away).

        Undecodable bytes are replaced and counted (``dstream.streaming.receiver.decodeErrors``:
        ``replace`` or ``strict``, which drops the line); a line longer than
        ``dstream.streaming.receiver.maxRecordBytes`` is dropped and counted.
        """
        conf = self._sc._conf
        receiver = SocketTextReceiver(
            hostname, port, storageLevel,
            decode_errors=conf.get("dstream.streaming.receiver.decodeErrors", "replace"),
            max_record_bytes=conf.getInt("dstream.streaming.receiver.maxRecordBytes", 1 << 20))
        return ReceiverInputDStream(self, receiver, "socketTextStream")

    def socketStream(self: StreamingContext, hostname: str, port: int,
                     converter: Callable[[BinaryIO], Iterable[Any]],
                     storageLevel: StorageLevel = DEFAULT_RECEIVER_LEVEL) -> DStream:
        """Records that ``converter`` reads from the connection's binary stream."""
        check_function("StreamingContext.socketStream", "converter", converter, 1)
        return ReceiverInputDStream(self, SocketReceiver(hostname, port, converter, storageLevel),
                                    "socketStream")

    def textFileStream(self: StreamingContext, directory: str) -> DStream:
        """Lines of the files that appear in ``directory`` (moved in whole), each read once."""
        return FileInputDStream(self, directory, "textFileStream", read_text)

    def fileStream(self: StreamingContext, directory: str,
                   filter: Callable[[str], bool] | None = None,  # noqa: A002 - Spark's name
                   newFilesOnly: bool = True) -> DStream:
        """Like ``textFileStream``, choosing files with ``filter(path)``."""
        check_function("StreamingContext.fileStream", "filter", filter, 1, optional=True)
        return FileInputDStream(self, directory, "fileStream", read_text, filter, newFilesOnly)

    def binaryRecordsStream(self: StreamingContext, directory: str, recordLength: int) -> DStream:
        """Fixed-length binary records of the new files in ``directory``."""
        if not isinstance(recordLength, int) or recordLength < 1:
            raise ValueError(f"recordLength must be an int >= 1, got {recordLength!r}")
        return FileInputDStream(self, directory, "binaryRecordsStream", binary_reader(recordLength))
