"""Console log lines for programs that use dstream, as PySpark's console log prints them:
``yy/MM/dd HH:mm:ss LEVEL source: message`` on stderr, WARN and above unless
``Context.setLogLevel`` says otherwise.

The handler sits on the ``dstream`` logger and stands aside whenever the program configured
logging itself (the root logger has handlers, e.g. after ``logging.basicConfig``, or the
``dstream`` logger has another one): dstream's records then reach the program's handlers
only, so they are never printed twice.

>>> import io
>>> handler = ConsoleHandler(io.StringIO())
>>> record = logging.LogRecord("dstream.streaming.context", logging.WARNING, "x.py", 1,
...                            "batch %s failed", ("b",), None)
>>> handler.format(record)[17:]
' WARN dstream.streaming.context: batch b failed'
>>> level_number("warn"), level_number("OFF") > logging.CRITICAL
(30, True)
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import TextIO

__all__ = ["ConsoleHandler", "install", "set_level", "level_number", "LEVELS"]

#: PySpark's level names (log4j's) and Python's, as logging levels
LEVELS: dict[str, int] = {
    "ALL": 1, "TRACE": 5, "DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING,
    "WARNING": logging.WARNING, "ERROR": logging.ERROR, "FATAL": logging.CRITICAL,
    "CRITICAL": logging.CRITICAL, "OFF": logging.CRITICAL + 10,
}
_LOG4J_NAMES = {logging.WARNING: "WARN", logging.CRITICAL: "FATAL", 5: "TRACE"}
_DEFAULT_LEVEL = logging.WARNING
_lock = threading.Lock()
_handler: ConsoleHandler | None = None


def level_number(level: str) -> int:
    """The logging level of a PySpark (log4j) or Python level name, any case."""
    if not isinstance(level, str) or level.strip().upper() not in LEVELS:
        raise ValueError(f"setLogLevel: unknown log level {level!r}; use one of "
                         "ALL, DEBUG, ERROR, FATAL, INFO, OFF, TRACE, WARN")
    return LEVELS[level.strip().upper()]


class _Log4jFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.log4jlevel = _LOG4J_NAMES.get(record.levelno, record.levelname)
        return super().format(record)


class ConsoleHandler(logging.StreamHandler[TextIO]):
    """Writes dstream's records PySpark's way while the program has no logging of its own."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._follow_stderr = stream is None      # write to whatever sys.stderr is then
        self.setFormatter(_Log4jFormatter("%(asctime)s %(log4jlevel)s %(name)s: %(message)s",
                                          datefmt="%y/%m/%d %H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger().handlers or len(logging.getLogger("dstream").handlers) > 1:
            return                            # the program set up logging: its handlers print
        if self._follow_stderr:
            self.stream = sys.stderr
        super().emit(record)


def install() -> None:
    """Give the ``dstream`` logger its console handler (once per process)."""
    global _handler
    with _lock:
        if _handler is not None:
            return
        _handler = ConsoleHandler()
        _handler.setLevel(_DEFAULT_LEVEL)
        logging.getLogger("dstream").addHandler(_handler)


def set_level(level: str) -> None:
    """``Context.setLogLevel``: the level of dstream's records, on the console and for the
    program's own handlers alike."""
    number = level_number(level)
    logging.getLogger("dstream").setLevel(number)
    if _handler is not None:
        _handler.setLevel(number)
