"""Accumulators: values that tasks add to and the driver reads.

>>> acc = sc.accumulator(0)
>>> sc.parallelize([1, 2, 3]).foreach(lambda x: acc.add(x))
>>> acc.value
6
"""

from __future__ import annotations

import itertools
import threading
import weakref
from typing import Any, Callable, Generic, TypeVar

from .taskcontext import TaskContext

__all__ = ["Accumulator", "AccumulatorParam", "ADD_PARAM"]

T = TypeVar("T")
_ids = itertools.count()
# weak: a long-running job that makes accumulators per batch must not keep them all
_registry: weakref.WeakValueDictionary[int, Accumulator[Any]] = weakref.WeakValueDictionary()
_registry_lock = threading.Lock()


class AccumulatorParam(Generic[T]):
    """How to make a zero and add two values (PySpark's ``AccumulatorParam``)."""

    def zero(self, value: T) -> T:
        """The zero of this type shaped like ``value``: what each task starts adding from.

        A parameter that accumulates lists:

        >>> class ListParam(AccumulatorParam):
        ...     def zero(self, value):
        ...         return []
        ...     def addInPlace(self, value1, value2):
        ...         return value1 + value2
        >>> ListParam().zero([1, 2])
        []
        """
        raise NotImplementedError

    def addInPlace(self, value1: T, value2: T) -> T:
        """``value1`` and ``value2`` added (``value1`` may be changed and returned).

        >>> class ListParam(AccumulatorParam):
        ...     def zero(self, value):
        ...         return []
        ...     def addInPlace(self, value1, value2):
        ...         return value1 + value2
        >>> acc = sc.accumulator([], ListParam())
        >>> sc.parallelize([1, 2, 3], 2).foreach(lambda x: acc.add([x]))
        >>> sorted(acc.value)
        [1, 2, 3]
        """
        raise NotImplementedError


class _AddingParam(AccumulatorParam[Any]):
    def zero(self, value: Any) -> Any:
        return type(value)()

    def addInPlace(self, value1: Any, value2: Any) -> Any:
        return value1 + value2


ADD_PARAM = _AddingParam()


class Accumulator(Generic[T]):
    """A shared, add-only variable. Inside a task ``add`` records a per-task update that the
    driver merges when the task succeeds; ``value`` is readable on the driver only."""

    def __init__(self, value: T, accum_param: AccumulatorParam[T] = ADD_PARAM,
                 aid: int | None = None) -> None:
        self.aid = next(_ids) if aid is None else aid
        self.accum_param = accum_param
        self._value = value
        self._lock = threading.Lock()
        if aid is None:
            with _registry_lock:
                _registry[self.aid] = self

    def add(self, term: T) -> None:
        """Add ``term``; in a task, to the task's update, which the driver merges when the task
        succeeds.

        >>> acc = sc.accumulator(0)
        >>> acc.add(5)
        >>> sc.parallelize([1, 2, 3]).foreach(lambda x: acc.add(x))
        >>> acc.value
        11
        """
        task = TaskContext.get()
        if task is None:
            with self._lock:
                self._value = self.accum_param.addInPlace(self._value, term)
            return
        updates = task.accumulator_updates
        current = updates.get(self.aid, _MISSING)
        updates[self.aid] = term if current is _MISSING else self.accum_param.addInPlace(current, term)

    def __iadd__(self, term: T) -> Accumulator[T]:
        self.add(term)
        return self

    @property
    def value(self) -> T:
        """The value so far, set or read on the driver (a task that reads it fails with
        ``RuntimeError``).

        >>> acc = sc.accumulator(10)
        >>> acc.value
        10
        >>> acc.value = 0
        >>> sc.parallelize([1, 2]).foreach(lambda x: acc.add(x))
        >>> acc.value
        3
        """
        if TaskContext.get() is not None:
            raise RuntimeError("Accumulator.value cannot be read inside a task; read it on the driver")
        return self._value

    @value.setter
    def value(self, value: T) -> None:
        self._value = value

    def _merge(self, update: T) -> None:
        with self._lock:
            self._value = self.accum_param.addInPlace(self._value, update)

    def __reduce__(self) -> tuple[Callable[..., Accumulator[T]], tuple[int, AccumulatorParam[T], T]]:
        return (_remote_accumulator, (self.aid, self.accum_param, self.accum_param.zero(self._value)))

    def __repr__(self) -> str:
        return f"Accumulator<id={self.aid}, value={self._value!r}>"


_MISSING = object()


def _remote_accumulator(aid: int, param: AccumulatorParam[T], zero: T) -> Accumulator[T]:
    return Accumulator(zero, param, aid=aid)


def merge_updates(updates: dict[int, Any]) -> None:
    """Apply a finished task's accumulator updates on the driver."""
    for aid, value in updates.items():
        with _registry_lock:
            acc = _registry.get(aid)
        if acc is not None:
            acc._merge(value)
