"""Uvicorn in a thread of the daemon, on a socket bound before anything else starts.

Binding first makes a taken port a clear error at once (not a log line from a thread),
and lets port 0 pick a free port that ``HttpServer.port`` then reports.
"""

from __future__ import annotations

import logging
import socket
import threading
from typing import Any

import uvicorn

from .settings import HttpAddress

__all__ = ["HttpServer", "HttpBindError"]

log = logging.getLogger(__name__)


class HttpBindError(OSError):
    pass


def _bind(address: HttpAddress) -> socket.socket:
    try:
        infos = socket.getaddrinfo(address.host, address.port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise HttpBindError(f"cannot serve HTTP on {address}: unknown host ({e})") from e
    family, kind, proto, _, sockaddr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise HttpBindError(f"cannot serve HTTP on {address}: {e.strerror or e}") from e
    return sock


class HttpServer:
    """Binds ``address`` when made; ``start(app)`` serves the app from a thread; ``stop()``
    ends it (requests in flight finish first)."""

    def __init__(self, address: HttpAddress) -> None:
        self._sock = _bind(address)
        host, port = self._sock.getsockname()[:2]
        self.host, self.port = host, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, app: Any) -> None:
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off",
                                loop="asyncio", http="h11", timeout_graceful_shutdown=2)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="dstream-http", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """True when the server thread ended within ``timeout`` seconds."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            alive = self._thread.is_alive()
        else:
            alive = False
        self._sock.close()
        return not alive

    def close(self) -> None:
        """Release the socket of a server that was never started."""
        if self._thread is None:
            self._sock.close()
