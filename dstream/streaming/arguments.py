"""Argument checks made where the stream graph is defined, so that ``stream.map(5)`` fails at
the call and not in the first batch. Each error names the operator, the value and the rule.

>>> check_function("DStream.map", "f", 5)
Traceback (most recent call last):
    ...
TypeError: DStream.map: f must be callable, got int 5
>>> check_function("DStream.reduce", "func", lambda x: x, arity=2)
Traceback (most recent call last):
    ...
TypeError: DStream.reduce: func must take 2 positional arguments, got <lambda>(x)
>>> check_duration("DStream.window", "windowDuration", 0)
Traceback (most recent call last):
    ...
ValueError: DStream.window: windowDuration must be positive, got 0 s
"""

from __future__ import annotations

import inspect
from numbers import Real
from typing import Any, Callable

from .durations import to_ms

__all__ = ["check_function", "check_duration", "check_timeout", "on"]


def check_function(op: str, name: str, func: Any, arity: int | None = None, *,
                   optional: bool = False) -> None:
    """Raise ``TypeError`` unless ``func`` is callable (or None when ``optional``) and, when
    ``arity`` is given and ``inspect.signature`` can read it, accepts ``arity`` positional
    arguments. Partials, bound methods and callable objects are read through their signature;
    builtins without a readable signature are accepted.

    >>> import functools, operator
    >>> check_function("DStream.map", "f", functools.partial(operator.add, 1), arity=1)
    >>> check_function("DStream.map", "f", str, arity=1)
    >>> check_function("DStream.filter", "f", None, optional=True)
    """
    if func is None and optional:
        return
    if not callable(func):
        rule = "callable or None" if optional else "callable"
        raise TypeError(f"{op}: {name} must be {rule}, got {type(func).__name__} {func!r}")
    if arity is None:
        return
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):   # a builtin without a readable signature: accepted
        return
    try:
        signature.bind(*range(arity))
    except TypeError:
        plural = "argument" if arity == 1 else "arguments"
        raise TypeError(f"{op}: {name} must take {arity} positional {plural}, "
                        f"got {_describe(func)}{signature}") from None


def check_duration(op: str, name: str, value: Any) -> int:
    """A duration in seconds as whole milliseconds; ``TypeError`` unless it is a number,
    ``ValueError`` unless it is positive (at least 1 ms once rounded).

    >>> check_duration("StreamingContext", "batchDuration", 0.5)
    500
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{op}: {name} must be a number of seconds, got "
                        f"{type(value).__name__} {value!r}")
    try:
        return to_ms(value, name)
    except ValueError:
        raise ValueError(f"{op}: {name} must be positive, got {value!r} s") from None


def check_timeout(op: str, name: str, value: Any) -> None:
    """``TypeError`` unless ``value`` is None (no limit) or a number of seconds.

    >>> check_timeout("StreamingContext.awaitTermination", "timeout", "5")
    Traceback (most recent call last):
        ...
    TypeError: StreamingContext.awaitTermination: timeout must be a number of seconds or None, got str '5'
    """
    if value is not None and (isinstance(value, bool) or not isinstance(value, Real)):
        raise TypeError(f"{op}: {name} must be a number of seconds or None, got "
                        f"{type(value).__name__} {value!r}")


def on(stream: Any, method: str) -> str:
    """How errors name a ``DStream`` operator: the method and the stream it was called on.

    >>> class Stream: id = "queueStream-0"
    >>> on(Stream(), "map")
    'DStream.map on queueStream-0'
    """
    return f"DStream.{method} on {stream.id}"


def _describe(func: Callable[..., Any]) -> str:
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    if not isinstance(name, str):
        return type(func).__name__
    return name.rsplit(".<locals>.", 1)[-1]
