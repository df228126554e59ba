"""Pickling of code and data for worker processes, with errors that name the culprit.

>>> import threading
>>> lock = threading.Lock()
>>> try:
...     dumps_code(lambda x: lock)
... except ClosurePicklingError as e:
...     "'lock'" in str(e)
True
"""

from __future__ import annotations

import inspect
import pickle
import types
from typing import Any, Iterator

import cloudpickle

from .errors import ClosurePicklingError

__all__ = ["dumps_code", "dumps_data", "loads"]

loads = pickle.loads


def dumps_data(obj: Any) -> bytes:
    """Pickle records (protocol 5); cloudpickle only when plain pickle refuses them."""
    try:
        return pickle.dumps(obj, protocol=5)
    except (pickle.PicklingError, TypeError, AttributeError):
        data: bytes = cloudpickle.dumps(obj, protocol=5)   # cloudpickle has no type hints
        return data


def dumps_code(obj: Any) -> bytes:
    """Pickle functions (and the RDD lineage holding them) with cloudpickle."""
    try:
        data: bytes = cloudpickle.dumps(obj, protocol=5)   # cloudpickle has no type hints
        return data
    except Exception as e:
        raise _explain(obj, e) from e


def _explain(obj: Any, error: Exception) -> ClosurePicklingError:
    for func, name, value in _referenced_objects(obj, set()):
        try:
            cloudpickle.dumps(value, protocol=5)
        except Exception:
            where = _where(func)
            return ClosurePicklingError(
                f"cannot ship function {func.__qualname__} ({where}) to worker processes: it "
                f"refers to {name!r}, a {type(value).__name__} that cannot be pickled ({error}). "
                "Create that object inside the function (e.g. in mapPartitions, once per "
                "partition), or run with master='local' where tasks are not pickled.")
    return ClosurePicklingError(f"cannot pickle a task for worker processes: {error}")


def _where(func: types.FunctionType) -> str:
    try:
        return f"{inspect.getsourcefile(func)}:{func.__code__.co_firstlineno}"
    except TypeError:
        return "<unknown location>"


def _referenced_objects(obj: Any, seen: set[int]) -> Iterator[tuple[Any, str, Any]]:
    """(function, name, value) for what functions reachable from ``obj`` refer to, innermost first."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, types.FunctionType):
        names = obj.__code__.co_freevars
        cells = obj.__closure__ or ()
        pairs = [(n, c.cell_contents) for n, c in zip(names, cells) if _cell_filled(c)]
        pairs += [(n, obj.__globals__[n]) for n in obj.__code__.co_names if n in obj.__globals__]
        for name, value in pairs:
            yield from _referenced_objects(value, seen)
            if not isinstance(value, (types.ModuleType, types.FunctionType, type)):
                yield obj, name, value
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _referenced_objects(item, seen)
    elif hasattr(obj, "__dict__") and not isinstance(obj, (type, types.ModuleType)):
        for value in vars(obj).values():
            yield from _referenced_objects(value, seen)


def _cell_filled(cell: Any) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True
