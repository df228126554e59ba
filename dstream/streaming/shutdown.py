"""``spark.streaming.stopGracefullyOnShutdown``: SIGTERM and SIGINT stop a started context
gracefully (receivers stop, what they received is processed, the last checkpoint written),
as Spark's shutdown hook does with that setting.

Handlers are installed only over the default ones, in the main thread: a program (or the
``dstream run`` daemon) that handles these signals itself keeps its own handlers. A second
signal during the stop gets the default behaviour back (the process ends at once).

>>> from dstream import Context, StreamingContext
>>> with Context("local") as ctx:
...     hook = GracefulShutdown(StreamingContext(ctx, 1, clock="manual"))
...     taken = hook.install()
...     taken_handler = signal.getsignal(signal.SIGTERM)
...     hook.uninstall()
>>> taken, taken_handler == hook._on_signal, signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
(True, True, True)
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any, Protocol

__all__ = ["GracefulShutdown", "SETTING"]

log = logging.getLogger(__name__)

SETTING = "dstream.streaming.stopGracefullyOnShutdown"
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Stoppable(Protocol):
    """What the hook stops: a ``StreamingContext``."""

    def stop(self, stopSparkContext: bool = True, stopGraceFully: bool = False) -> None: ...


def _is_default(handler: Any) -> bool:
    return handler in (signal.SIG_DFL, signal.default_int_handler, None)


class GracefulShutdown:
    """The signal handlers that stop ``ssc`` gracefully."""

    def __init__(self, ssc: Stoppable) -> None:
        self._ssc = ssc
        self._previous: dict[int, Any] = {}
        self._stopping = False

    def install(self) -> bool:
        """Take over SIGTERM/SIGINT where they still have their default handlers; True when
        at least one was taken."""
        if threading.current_thread() is not threading.main_thread():
            log.warning("%s: not in the main thread, so SIGTERM/SIGINT keep their handlers", SETTING)
            return False
        for signum in _SIGNALS:
            current = signal.getsignal(signum)
            if _is_default(current):
                self._previous[signum] = current
                signal.signal(signum, self._on_signal)
        return bool(self._previous)

    def uninstall(self) -> None:
        """Give the signals their previous handlers back (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, handler in self._previous.items():
            if signal.getsignal(signum) == self._on_signal:
                signal.signal(signum, handler)
        self._previous.clear()

    def _on_signal(self, signum: int, frame: Any) -> None:
        # runs in the main thread between bytecodes: hand the stop to a thread, touch no lock
        if self._stopping:
            previous = self._previous.get(signum, signal.SIG_DFL)
            signal.signal(signum, previous)
            signal.raise_signal(signum)
            return
        self._stopping = True
        threading.Thread(target=self._stop, args=(signal.Signals(signum).name,),
                         name="dstream-graceful-shutdown", daemon=False).start()

    def _stop(self, name: str) -> None:
        log.info("received %s: stopping gracefully (%s)", name, SETTING)
        self._ssc.stop(stopSparkContext=True, stopGraceFully=True)
        log.info("stopped gracefully after %s", name)
