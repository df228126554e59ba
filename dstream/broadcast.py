"""Broadcast variables: a read-only value shipped to every worker once.

>>> lookup = sc.broadcast({"a": 1})
>>> sc.parallelize(["a", "a"]).map(lambda k: lookup.value[k]).collect()
[1, 1]
"""

from __future__ import annotations

import os
import pickle
import threading
from typing import Any, Callable, Generic, TypeVar

import cloudpickle

__all__ = ["Broadcast"]

T = TypeVar("T")
_worker_cache: dict[str, Any] = {}
_worker_cache_lock = threading.Lock()


class Broadcast(Generic[T]):
    """Its value is pickled once to a file in the context's local directory; workers read that
    file the first time they need it and keep the value for the rest of their life."""

    def __init__(self, value: T, path: str) -> None:
        self._value = value
        self._path = path
        with open(path, "wb") as f:
            cloudpickle.dump(value, f, protocol=5)

    @property
    def value(self) -> T:
        """The broadcast value (on the driver, and in tasks once the worker has read it).

        >>> b = sc.broadcast({"a": 1, "b": 2})
        >>> b.value["b"], sc.parallelize(["a", "b", "a"]).map(lambda k: b.value[k]).collect()
        (2, [1, 2, 1])
        """
        return self._value

    def unpersist(self, blocking: bool = False) -> None:
        """Does nothing, kept for API parity: a worker keeps the value it has read for the
        rest of its life, and the value stays usable:

        >>> b = sc.broadcast([1, 2])
        >>> b.unpersist()
        >>> sc.parallelize([0]).flatMap(lambda _: b.value).collect()
        [1, 2]
        """

    def destroy(self, blocking: bool = False) -> None:
        """Delete the value's file: a worker process that has not read the value yet can no
        longer get it (its tasks fail). Destroying twice is fine; the driver keeps its own
        ``value``, and so do tasks under ``local``, which run in the driver's thread:

        >>> b = sc.broadcast([1, 2])
        >>> sc.parallelize([0]).flatMap(lambda _: b.value).collect()
        [1, 2]
        >>> b.destroy()
        >>> b.destroy()
        >>> b.value
        [1, 2]
        """
        try:
            os.unlink(self._path)
        except FileNotFoundError:
            pass

    def __reduce__(self) -> tuple[Callable[[str], Broadcast[T]], tuple[str]]:
        return (_load_broadcast, (self._path,))


class _RemoteBroadcast(Broadcast[T]):
    def __init__(self, path: str) -> None:  # super() not called on purpose: it would write the file
        self._path = path
        self._value = _read(path)


def _read(path: str) -> Any:
    with _worker_cache_lock:
        if path not in _worker_cache:
            try:
                with open(path, "rb") as f:
                    _worker_cache[path] = pickle.load(f)
            except FileNotFoundError:
                raise RuntimeError(f"broadcast variable file {path} is gone: "
                                   "the broadcast was destroyed or its Context stopped") from None
        return _worker_cache[path]


def _load_broadcast(path: str) -> Broadcast[Any]:
    return _RemoteBroadcast(path)
