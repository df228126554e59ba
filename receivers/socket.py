"""Receiving from a TCP socket: ``socketStream`` and ``socketTextStream``.

:class:`SocketReceiver` connects to ``host:port`` and turns the byte stream
into records with a converter (a function from a binary file object to an
iterator of records). :class:`SocketTextReceiver` reads UTF-8 lines in large
chunks and splits them in bulk (:class:`~receivers.lines.LineSplitter`);
undecodable and oversized lines are counted and reported as ``bad_record``
events, never fatal.

When the peer is not there yet, goes away or closes the connection, the
receiver restarts (an ``error`` event) and connects again after the
supervisor's backoff, as Spark's socket receiver does. Records sent while no
connection is open are the peer's business: a socket has no replay.

>>> import socket, threading
>>> from dstream.receivers import MemorySink, ReceiverSupervisor
>>> server = socket.create_server(("127.0.0.1", 0))
>>> def serve():
...     connection, _ = server.accept()
...     with connection:
...         connection.sendall(b"to be\\nor not\\nto be\\n")
>>> threading.Thread(target=serve).start()
>>> sink = MemorySink()
>>> receiver = SocketTextReceiver("127.0.0.1", server.getsockname()[1])
>>> supervisor = ReceiverSupervisor(receiver, 0, sink, sink)
>>> supervisor.start()
>>> sink.wait_for_records(3, timeout=10)
['to be', 'or not', 'to be']
>>> supervisor.stop(); server.close()
True
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

from dstream.receivers.lines import DEFAULT_MAX_RECORD_BYTES, BadLine, LineSplitter
from dstream.receivers.receiver import Receiver

__all__ = ["SocketReceiver", "SocketTextReceiver", "read_size"]

#: under a rate limit, one read asks for about this many seconds of the limit
READ_SECONDS = 0.01
MIN_READ_BYTES = 4096
_GUESSED_LINE_BYTES = 80

Converter = Callable[[BinaryIO], Iterable[Any]]


class SocketReceiver(Receiver):
    """Records from ``host:port``, made by ``converter(binary_file)`` (Spark's ``socketStream``).

    >>> receiver = SocketReceiver("127.0.0.1", 9999, lambda f: iter(f.readline, b""))
    >>> receiver.address
    '127.0.0.1:9999'
    >>> SocketReceiver("127.0.0.1", 70000, lambda f: f)
    Traceback (most recent call last):
    ...
    ValueError: port must be an int in 1..65535, got 70000
    """

    def __init__(
        self,
        host: str,
        port: int,
        converter: Converter,
        storageLevel: Any = None,
        *,
        connect_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(storageLevel)
        if not isinstance(host, str) or not host:
            raise ValueError(f"host must be a non-empty str, got {host!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"port must be an int in 1..65535, got {port!r}")
        if not callable(converter):
            raise TypeError(
                f"converter must be a function from a binary file to records, got {converter!r}"
            )
        if not isinstance(connect_timeout_s, (int, float)) or not connect_timeout_s > 0:
            raise ValueError(f"connect_timeout_s must be a number > 0, got {connect_timeout_s!r}")
        self.host = host
        self.port = port
        self.converter = converter
        self.connect_timeout_s = float(connect_timeout_s)
        self.connections = 0  # connections opened so far (over restarts)
        self._socket: socket.socket | None = None
        self._socket_lock = threading.Lock()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def onStart(self) -> None:
        self.start_thread(self._receive, name=f"{self.name}-socket-{self.address}")

    def onStop(self) -> None:
        # Shut the socket down so a blocked read returns; the receiving thread closes it.
        with self._socket_lock:
            sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):  # already disconnected
                sock.shutdown(socket.SHUT_RDWR)

    def _receive(self) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout_s)
        except OSError as exc:
            if not self.isStopped():
                self.restart(f"{self.name}: cannot connect to {self.address}", exc)
            return
        with sock:
            with self._socket_lock:
                if self.isStopped():
                    return
                self._socket = sock
                self.connections += 1
            sock.settimeout(None)  # onStop's shutdown wakes a blocked read
            try:
                self._consume(sock, self.connections)
            except OSError as exc:
                if not self.isStopped():
                    self.restart(f"{self.name}: error receiving from {self.address}", exc)
                return
            finally:
                with self._socket_lock:
                    self._socket = None
        if not self.isStopped():
            self.restart(f"{self.name}: {self.address} closed the connection (no more data)")

    def _consume(self, sock: socket.socket, connection: int) -> None:
        with sock.makefile("rb") as stream:
            for record in self.converter(stream):
                if self.isStopped():
                    return
                self.store_record(record)


class SocketTextReceiver(SocketReceiver):
    """Lines of text from ``host:port`` (Spark's ``socketTextStream``).

    - ``decode_errors``: ``"replace"`` (default, as Spark: keep the line with
      U+FFFD) or ``"strict"`` (drop it); either way the line is counted as a
      bad record (reason ``undecodable``) and reported with its byte offset.
    - ``max_record_bytes``: a longer line is dropped and counted (reason
      ``oversized``) without being buffered whole.
    - ``chunk_bytes``: how much one read asks for at most; under a rate limit
      (``maxRate``, backpressure) a read asks for about 10 ms of the limit.

    Offsets in events count bytes from the start of that connection
    (``connection`` numbers connections from 1 over restarts).

    >>> SocketTextReceiver("localhost", 9999, decode_errors="ignore")
    Traceback (most recent call last):
    ...
    ValueError: errors must be one of ('replace', 'strict'), got 'ignore'
    """

    def __init__(
        self,
        host: str,
        port: int,
        storageLevel: Any = None,
        *,
        encoding: str = "utf-8",
        decode_errors: str = "replace",
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        chunk_bytes: int = 256 * 1024,
        connect_timeout_s: float = 5.0,
    ) -> None:
        super().__init__(
            host, port, _no_converter, storageLevel, connect_timeout_s=connect_timeout_s
        )
        LineSplitter(encoding, decode_errors, max_record_bytes)  # validate now, not in a thread
        if isinstance(chunk_bytes, bool) or not isinstance(chunk_bytes, int) or chunk_bytes < 1:
            raise ValueError(f"chunk_bytes must be an int >= 1, got {chunk_bytes!r}")
        self.encoding = encoding
        self.decode_errors = decode_errors
        self.max_record_bytes = max_record_bytes
        self.chunk_bytes = chunk_bytes

    def _consume(self, sock: socket.socket, connection: int) -> None:
        splitter = LineSplitter(self.encoding, self.decode_errors, self.max_record_bytes)
        lines_read = 0
        while not self.isStopped():
            limit = self.current_rate_limit()
            size = self.chunk_bytes if limit is None else read_size(
                limit, splitter.offset, lines_read, self.chunk_bytes)
            data = sock.recv(size)
            if not data:
                break
            lines, bad = splitter.feed(data)
            if bad:
                self._report_bad(bad, connection)
            if lines:
                lines_read += len(lines)
                self.store_all(lines)
        if self.isStopped():
            return  # a line cut short by the stop is not a line
        lines, bad = splitter.finish()  # the peer closed: its last line needs no newline
        if bad:
            self._report_bad(bad, connection)
        if lines:
            self.store_all(lines)

    def _report_bad(self, bad: list[BadLine], connection: int) -> None:
        for line in bad:
            self.report_bad_record(
                line.reason,
                f"{self.name}: {line.reason} line at byte {line.offset} of connection {connection} "
                f"to {self.address} ({line.action}): {line.message}",
                offset=line.offset,
                length=line.length,
                action=line.action,
                connection=connection,
                address=self.address,
            )


def read_size(rate_limit: float, bytes_read: int, lines_read: int, most: int) -> int:
    """How many bytes one read asks for under a rate limit (lines/s): about
    ``READ_SECONDS`` of the limit at the line length seen so far, so that the limiter
    releases lines smoothly rather than in steps of a large read; at least ``MIN_READ_BYTES``.

    >>> read_size(10_000, bytes_read=1_000_000, lines_read=10_000, most=256 * 1024)
    10000
    >>> read_size(10, bytes_read=0, lines_read=0, most=256 * 1024)   # nothing seen yet
    4096
    """
    line_bytes = bytes_read / lines_read if lines_read else _GUESSED_LINE_BYTES
    wanted = int(rate_limit * READ_SECONDS * line_bytes)
    return max(MIN_READ_BYTES, min(most, wanted))


def _no_converter(stream: BinaryIO) -> Iterable[Any]:
    raise TypeError("SocketTextReceiver splits lines itself; it has no converter")
