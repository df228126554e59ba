"""``sc._jvm``: the log4j idioms PySpark programs use to quiet logs, mapped onto ``setLogLevel``.

There is no JVM here. PySpark programs still write::

    log4j = sc._jvm.org.apache.log4j
    log4j.LogManager.getRootLogger().setLevel(log4j.Level.WARN)
    log4j.LogManager.getLogger("org").setLevel(log4j.Level.ERROR)

(or the log4j 2 forms ``org.apache.logging.log4j.LogManager`` and
``org.apache.logging.log4j.core.config.Configurator.setRootLevel(Level.WARN)``). Setting the level of
the root logger, or of Spark's own namespaces (``org``, ``akka`` and below), sets the engine's
level with ``Context.setLogLevel``; another logger name is Python's ``logging`` logger of that
name, and a logger's ``info``/``warn``/``error``/``debug`` log through it. Any other path under
``sc._jvm`` raises ``AttributeError`` saying what to write instead.

>>> import logging
>>> from dstream import Context
>>> with Context("local") as sc:
...     log4j = sc._jvm.org.apache.log4j
...     log4j.LogManager.getRootLogger().setLevel(log4j.Level.ERROR)
...     logging.getLogger("dstream").level == logging.ERROR
True
>>> logging.getLogger("dstream").setLevel(logging.NOTSET)
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Protocol

__all__ = ["JvmAttribute", "JvmView", "Log4jLevel", "Log4jLogger"]

#: log4j's levels and the ``logging`` level each maps to (OFF is above every message)
LEVELS: dict[str, int] = {"OFF": logging.CRITICAL + 10, "FATAL": logging.CRITICAL,
                          "ERROR": logging.ERROR, "WARN": logging.WARNING, "INFO": logging.INFO,
                          "DEBUG": logging.DEBUG, "TRACE": 5, "ALL": 1}

#: logger names that stand for Spark's (the engine's) own logs
ENGINE_NAMESPACES = ("org", "akka")

_INSTEAD = ('dstream runs no JVM; only the log4j idioms that set log levels are mapped '
            '(log4j = sc._jvm.org.apache.log4j; log4j.LogManager.getRootLogger().setLevel('
            'log4j.Level.WARN)). To quiet the engine write sc.setLogLevel("WARN"); for your own '
            'messages use Python\'s logging module')


class _Context(Protocol):
    def setLogLevel(self, logLevel: str) -> None: ...


class _ContextClass(Protocol):
    """The ``Context`` class itself: which of its instances is active."""

    def _active_context(self) -> _Context | None: ...


ContextGetter = Callable[[], "_Context | None"]


class Log4jLevel:
    """A log4j level (``Level.WARN``): its name and the ``logging`` level it maps to."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.levelno = LEVELS[name]

    def toString(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Log4jLevel) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return self.name


class _LevelClass:
    """``org.apache.log4j.Level``: ``Level.WARN`` ... and ``Level.toLevel("warn")``."""

    def __getattr__(self, name: str) -> Log4jLevel:
        if name in LEVELS:
            return Log4jLevel(name)
        raise AttributeError(f"log4j Level has no {name!r}; the levels are {', '.join(LEVELS)}")

    def toLevel(self, name: str, defaultLevel: Log4jLevel | None = None) -> Log4jLevel:
        key = str(name).upper()
        if key in LEVELS:
            return Log4jLevel(key)
        return defaultLevel if defaultLevel is not None else Log4jLevel("DEBUG")


def _level(level: Any) -> Log4jLevel:
    if isinstance(level, Log4jLevel):
        return level
    if isinstance(level, str) and level.upper() in LEVELS:
        return Log4jLevel(level.upper())
    raise TypeError(f"a log4j level is needed (sc._jvm.org.apache.log4j.Level.WARN, ...), got {level!r}")


def _is_engine_logger(name: str | None) -> bool:
    return name is None or any(name == ns or name.startswith(ns + ".") for ns in ENGINE_NAMESPACES)


class Log4jLogger:
    """A log4j logger: the root logger (``name`` None) or a named one."""

    def __init__(self, context: ContextGetter, name: str | None) -> None:
        self._context = context
        self._name = name

    def getName(self) -> str:
        return "root" if self._name is None else self._name

    def setLevel(self, level: Any) -> None:
        """The root logger and Spark's namespaces set the engine's level (``setLogLevel``);
        another name sets Python's logger of that name."""
        lv = _level(level)
        if _is_engine_logger(self._name):
            context = self._context()
            if context is None:
                raise ValueError("sc._jvm log levels need an active Context: create the Context first")
            context.setLogLevel(lv.name)
        else:
            logging.getLogger(self._name).setLevel(lv.levelno)

    def _python_logger(self) -> logging.Logger:
        return logging.getLogger(self._name)

    def _log(self, level: str, message: Any) -> None:
        self._python_logger().log(LEVELS[level], "%s", message)

    def fatal(self, message: Any) -> None:
        self._log("FATAL", message)

    def error(self, message: Any) -> None:
        self._log("ERROR", message)

    def warn(self, message: Any) -> None:
        self._log("WARN", message)

    def info(self, message: Any) -> None:
        self._log("INFO", message)

    def debug(self, message: Any) -> None:
        self._log("DEBUG", message)

    def trace(self, message: Any) -> None:
        self._log("TRACE", message)

    warning = warn

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"log4j Logger.{name} is not mapped: {_INSTEAD}")


class _LogManager:
    """``LogManager`` (and ``Logger``): ``getRootLogger()`` and ``getLogger(name)``."""

    def __init__(self, context: ContextGetter) -> None:
        self._context = context

    def getRootLogger(self) -> Log4jLogger:
        return Log4jLogger(self._context, None)

    def getLogger(self, name: Any = None) -> Log4jLogger:
        if name is not None and not isinstance(name, str):
            name = getattr(name, "__name__", str(name))
        return Log4jLogger(self._context, name or None)


class _Configurator:
    """log4j 2's ``core.config.Configurator``: ``setRootLevel``, ``setLevel``, ``setAllLevels``."""

    def __init__(self, context: ContextGetter) -> None:
        self._context = context

    def setRootLevel(self, level: Any) -> None:
        Log4jLogger(self._context, None).setLevel(level)

    def setLevel(self, name: str, level: Any) -> None:
        Log4jLogger(self._context, name or None).setLevel(level)

    def setAllLevels(self, name: str, level: Any) -> None:
        self.setLevel(name, level)


_MAPPED: dict[str, Callable[[ContextGetter], Any]] = {
    "org.apache.log4j.LogManager": _LogManager,
    "org.apache.log4j.Logger": _LogManager,
    "org.apache.log4j.Level": lambda _: _LevelClass(),
    "org.apache.logging.log4j.LogManager": _LogManager,
    "org.apache.logging.log4j.Level": lambda _: _LevelClass(),
    "org.apache.logging.log4j.core.config.Configurator": _Configurator,
}


class JvmView:
    """A package path under ``sc._jvm``; only the prefixes of the mapped log4j names exist."""

    def __init__(self, context: ContextGetter, path: tuple[str, ...] = ()) -> None:
        self._context = context
        self._path = path

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        dotted = ".".join((*self._path, name))
        make = _MAPPED.get(dotted)
        if make is not None:
            return make(self._context)
        if any(known.startswith(dotted + ".") for known in _MAPPED):
            return JvmView(self._context, (*self._path, name))
        raise AttributeError(f"sc._jvm.{dotted} does not exist: {_INSTEAD}")

    def __repr__(self) -> str:
        return f"<sc._jvm{'.' if self._path else ''}{'.'.join(self._path)} (log4j idioms only)>"


class JvmAttribute:
    """The ``_jvm`` attribute of ``Context``: on an instance, bound to it; on the class (PySpark
    programs write ``SparkContext._jvm`` too), bound to the active Context when used."""

    def __get__(self, instance: _Context | None, owner: _ContextClass) -> JvmView:
        if instance is not None:
            return JvmView(lambda: instance)
        return JvmView(owner._active_context)
