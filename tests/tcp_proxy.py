"""A loopback TCP proxy for fault tests: forward, cut (close every connection and refuse new
ones) or stall (keep connections open, forward nothing), and restore.

Threads only: one accepting, two pumping per connection. ``close()`` ends them all.

>>> import socket, threading
>>> with socket.create_server(("127.0.0.1", 0)) as server:
...     def echo():
...         conn, _ = server.accept()
...         with conn:
...             conn.sendall(conn.recv(100).upper())
...     echoing = threading.Thread(target=echo); echoing.start()
...     with TcpProxy(server.getsockname()[1]) as proxy:
...         with socket.create_connection(("127.0.0.1", proxy.port)) as client:
...             client.sendall(b"hello")
...             reply = client.recv(100)
...     echoing.join()
>>> reply
b'HELLO'
"""

from __future__ import annotations

import select
import socket
import threading
from types import TracebackType

__all__ = ["TcpProxy"]


class TcpProxy:
    """Forward connections made to ``127.0.0.1:port`` (a free port, or ``listen_port``) to
    ``127.0.0.1:target_port``."""

    def __init__(self, target_port: int, listen_port: int = 0) -> None:
        self.target_port = target_port
        self._server = socket.create_server(("127.0.0.1", listen_port))
        self._server.settimeout(0.1)
        self.port: int = self._server.getsockname()[1]
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._closed = threading.Event()
        self._open = threading.Event()      # set: forwarding; clear: cut or stalled
        self._open.set()
        self._cut = False
        #: connections accepted, and refused while cut
        self.accepted = 0
        self.refused = 0
        self._start(self._accept_loop, "tcp-proxy-accept")

    # -- control ---------------------------------------------------------------------------

    def cut(self) -> None:
        """Close every open connection and refuse (accept and close at once) new ones."""
        with self._lock:
            self._cut = True
            self._open.clear()
            connections, self._connections = self._connections, set()
        for sock in connections:
            _close(sock)

    def stall(self) -> None:
        """Keep connections open but forward nothing (bytes wait) until ``restore``."""
        with self._lock:
            self._open.clear()

    def restore(self) -> None:
        """Forward again."""
        with self._lock:
            self._cut = False
            self._open.set()

    def close(self) -> None:
        self._closed.set()
        self._open.set()
        with self._lock:
            connections, self._connections = self._connections, set()
        for sock in connections:
            _close(sock)
        for thread in self._threads:
            thread.join(10)
        _close(self._server)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    # -- inside ----------------------------------------------------------------------------

    def _start(self, target: object, name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)  # type: ignore[arg-type]
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            with self._lock:
                refuse = self._cut or self._closed.is_set()
                if refuse:
                    self.refused += 1
            if refuse:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self.accepted += 1
                self._connections.update((client, upstream))
            self._start(self._pump, "tcp-proxy-pump", client, upstream)
            self._start(self._pump, "tcp-proxy-pump", upstream, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while not self._closed.is_set():
                self._open.wait()
                if self._closed.is_set():
                    return
                ready, _, _ = select.select([source], [], [], 0.1)
                if not ready or not self._open.is_set():
                    continue
                data = source.recv(65536)
                if not data:
                    return
                sink.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                self._connections.discard(source)
                self._connections.discard(sink)
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
