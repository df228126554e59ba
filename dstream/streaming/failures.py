"""Which stream a failure came from: the user function that raised, found in the traceback.

Operators record the user functions they were given (``DStream._user``), with the functions
defined inside them. When a batch fails, the error's frames are searched innermost first for
one of those functions: by code object in the live traceback (a task's own frames only, for an
error a task raised; every frame for one raised on the driver), else by file, line and name
in a worker's traceback text. The stream that owns it is named in a note, with the line where
the user defined it. Nothing runs per record, so correct batches pay nothing for it.

>>> def parse(x):
...     return int(x)
>>> user_code(parse).co_name, user_code(functools.partial(parse, "1")).co_name
('parse', 'parse')
>>> import traceback
>>> try:
...     parse("x")
... except ValueError as e:
...     [name for _, _, name in error_frames(e)][-1]
'parse'
"""

from __future__ import annotations

import functools
import inspect
import re
import traceback
from types import CodeType
from typing import Any, Callable, Iterable, TypeVar

from ..scheduler.task import run_task
from .stream_node import StreamNode

__all__ = ["user_code", "user_codes", "error_frames", "failing_stream", "add_note"]

N = TypeVar("N", bound=StreamNode)

_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<name>.+?)\s*$', re.M)


def user_code(func: Any) -> CodeType | None:
    """The code object a callable runs: a function or lambda, the function inside a
    ``functools.partial``, a bound method's function, or a callable object's ``__call__``."""
    for _ in range(16):
        if isinstance(func, functools.partial):
            func = func.func
        elif inspect.ismethod(func):
            func = func.__func__
        elif isinstance(getattr(func, "__code__", None), CodeType):
            code: CodeType = func.__code__
            return code
        elif callable(func) and not isinstance(func, type) and hasattr(type(func), "__call__"):
            call = type(func).__call__
            if call is func or not hasattr(call, "__code__"):
                return None
            func = call
        else:
            return None
    return None


def error_frames(error: BaseException) -> list[tuple[str, int, str]]:
    """``(file, line, function)`` of the frames the error passed through, outermost first:
    its own traceback, then the executor's traceback text when it came from a task."""
    frames = [(f.filename, f.lineno or 0, f.name) for f in traceback.extract_tb(error.__traceback__)]
    frames.extend(_text_frames(error))
    return frames


def _text_frames(error: BaseException) -> list[tuple[str, int, str]]:
    """Frames of the task's traceback text (all there is of a task that ran in a worker)."""
    text = error.__dict__.get("_dstream_traceback") if hasattr(error, "__dict__") else None
    return [(m["file"], int(m["line"]), m["name"]) for m in _FRAME.finditer(text or "")]


def _live_codes(error: BaseException) -> list[CodeType]:
    """Code objects of the error's own traceback, outermost first. For an error a task raised,
    only the frames inside the task: the driver's frames (an output function calling
    ``collect()``) merely started the job."""
    codes = []
    tb = error.__traceback__
    while tb is not None:
        codes.append(tb.tb_frame.f_code)
        tb = tb.tb_next
    if _from_task(error):
        task_start = [i for i, code in enumerate(codes) if code is run_task.__code__]
        return codes[task_start[-1] + 1:] if task_start else []
    return codes


def _from_task(error: BaseException) -> bool:
    return hasattr(error, "__dict__") and "_dstream_traceback" in error.__dict__


def _code_contains(code: CodeType, filename: str, line: int, name: str) -> bool:
    if code.co_filename != filename or code.co_name != name:
        return False
    lines = [ln for _, _, ln in code.co_lines() if ln is not None]
    return bool(lines) and min(code.co_firstlineno, *lines) <= line <= max(lines)


def failing_stream(error: BaseException, streams: Iterable[N]) -> N | None:
    """The stream owning the innermost user function in ``error``'s traceback: matched by code
    object in the live traceback (exact), else by file, line and name in a task's text."""
    owners: dict[CodeType, N] = {}
    for stream in streams:
        for code in stream.user_codes:
            owners.setdefault(code, stream)
    if not owners:
        return None
    for code in reversed(_live_codes(error)):
        if code in owners:
            return owners[code]
    for filename, line, name in reversed(_text_frames(error)):
        for code, stream in owners.items():
            if _code_contains(code, filename, line, name):
                return stream
    return None


def add_note(error: BaseException, note: str) -> None:
    """``error.add_note(note)``, also on Python 3.10 (where notes are only stored)."""
    if hasattr(error, "add_note"):
        error.add_note(note)
    else:  # pragma: no cover - Python 3.10
        error.__dict__.setdefault("__notes__", []).append(note)


def user_codes(funcs: Iterable[Callable[..., Any] | None]) -> tuple[CodeType, ...]:
    """The code objects of the given user functions and of the functions defined inside them
    (a lambda inside a ``transform`` function runs in the tasks); None and built-ins skipped."""
    found: list[CodeType] = []
    pending = [c for c in (user_code(f) for f in funcs if f is not None) if c is not None]
    while pending:
        code = pending.pop()
        if code not in found:
            found.append(code)
            pending.extend(c for c in code.co_consts if isinstance(c, CodeType))
    return tuple(found)
