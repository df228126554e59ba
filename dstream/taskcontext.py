"""The context of the task that runs in this thread: its inputs and what it hands back.

User code may call ``TaskContext.get()`` inside a transformation, as in PySpark:

>>> TaskContext.get() is None   # on the driver, outside any task
True
"""

from __future__ import annotations

import pickle
import threading
from typing import Any

__all__ = ["TaskContext", "LazyInput", "Serialized", "FileInput"]

_current = threading.local()


class LazyInput:
    """Task input that is loaded only when the task reads it."""

    __slots__ = ()

    def load(self) -> Any:
        raise NotImplementedError


class Serialized(LazyInput):
    """Pickled records that a task unpickles only when it reads them."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def load(self) -> Any:
        return pickle.loads(self.data)

    def __reduce__(self) -> tuple[type[Serialized], tuple[bytes]]:
        return (Serialized, (self.data,))


class FileInput(LazyInput):
    """Records pickled in a file (a reliable RDD checkpoint), read by the task itself."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def load(self) -> Any:
        with open(self.path, "rb") as f:
            return pickle.load(f)

    def __reduce__(self) -> tuple[type[FileInput], tuple[str]]:
        return (FileInput, (self.path,))


class TaskContext:
    """Inputs of one task (source partitions, cached blocks, shuffle buckets) and its side outputs."""

    def __init__(self, stage_id: int, partition: int, attempt: int,
                 inputs: dict[Any, Any], serialize_outputs: bool) -> None:
        self._stage_id = stage_id
        self._partition = partition
        self._attempt = attempt
        self.inputs = inputs
        self.serialize_outputs = serialize_outputs
        #: cached partitions computed by this task: {(rdd_id, split): list or bytes}
        self.new_blocks: dict[tuple[int, int], Any] = {}
        #: accumulator updates made by this task: {accumulator id: value}
        self.accumulator_updates: dict[int, Any] = {}

    # PySpark's TaskContext API
    @classmethod
    def get(cls) -> TaskContext | None:
        return getattr(_current, "task", None)

    def stageId(self) -> int:
        return self._stage_id

    def partitionId(self) -> int:
        return self._partition

    def attemptNumber(self) -> int:
        return self._attempt

    # engine side
    def has_input(self, key: Any) -> bool:
        return key in self.inputs

    def input(self, key: Any) -> Any:
        """The input under ``key``, unpickled if it came serialized."""
        try:
            value = self.inputs[key]
        except KeyError:
            raise RuntimeError(f"task input {key!r} was not shipped with the task (engine bug)") from None
        return value.load() if isinstance(value, LazyInput) else value

    def store_block(self, key: tuple[int, int], values: list[Any]) -> None:
        self.new_blocks[key] = (Serialized(pickle.dumps(values, protocol=5))
                                if self.serialize_outputs else values)

    def __enter__(self) -> TaskContext:
        self._previous = getattr(_current, "task", None)
        _current.task = self
        return self

    def __exit__(self, *exc: object) -> None:
        _current.task = self._previous
