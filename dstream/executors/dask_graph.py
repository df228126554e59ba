"""The Dask tasks a job submits, sent to the Dask scheduler together as one graph.

``DaskBackend.submit`` does not send each task on its own (one ``update-graph`` message per
task, each message the Dask client sends within 10 ms of the one before waiting for the rest
of those 10 ms); it adds the task to a ``PendingGraph``, and ``send`` (the DAG scheduler's
``flush``, before it waits for any task) submits all that was added in one
``client.get(graph, keys, sync=False)``. Tasks restricted to the same workers (those that read
a received block) share a layer of the HighLevelGraph whose annotations carry the
restriction; the others share a layer without one. Background tasks (map tasks run ahead)
have layers of their own, annotated with a lower priority.

A ``DaskTask`` is one task the backend made: its key, and its Dask future once its graph was
sent. Another task takes it as an argument by key (``TaskRef``): it is then either in the same
graph or in one sent before (the backend holds its future, so the scheduler keeps it).

>>> DaskTask("dstream-x-0").status
'pending'
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable

from dask.highlevelgraph import HighLevelGraph, MaterializedLayer
from dask.task_spec import List, Task, TaskRef

if TYPE_CHECKING:
    from distributed import Client, Future

__all__ = ["DaskTask", "PendingGraph"]


class DaskTask:
    """A Dask task the backend made: ``key``, and ``future`` once it was sent."""

    __slots__ = ("key", "future")

    def __init__(self, key: str) -> None:
        self.key = key
        self.future: Future[Any] | None = None

    @property
    def status(self) -> str:
        """Its Dask future's status (``pending`` until sent)."""
        return "pending" if self.future is None else str(self.future.status)

    def __repr__(self) -> str:
        return f"DaskTask({self.key!r}, {self.status})"


def _ref(value: Any) -> Any:
    """An argument as the graph takes it: tasks and futures by key, lists of them as ``List``."""
    if isinstance(value, DaskTask):
        return TaskRef(value.key)
    if isinstance(value, list):
        items = [_ref(v) for v in value]
        return List(*items) if any(isinstance(v, (TaskRef, List)) for v in items) else value
    if isinstance(value, TaskRef):          # a distributed Future is a TaskRef
        return TaskRef(value.key)
    return value


class PendingGraph:
    """Tasks added since the last ``send``; thread-safe (jobs may run in several threads)."""

    def __init__(self, client: Client) -> None:
        self._client = client
        #: per (priority, *workers): the tasks of one layer
        self._layers: dict[tuple[Any, ...], dict[str, Task]] = {}
        self._tasks: list[DaskTask] = []
        self._holds: list[Any] = []      # futures the tasks take: held until the graph is sent
        self._lock = threading.Lock()

    def add(self, key: str, func: Callable[..., Any], *args: Any,
            workers: list[str] | None = None, priority: int = 0) -> DaskTask:
        """A task ``func(*args)`` under ``key``, preferably on one of ``workers`` (a loose
        restriction: any worker when those are gone), at Dask ``priority`` (higher first)."""
        task = DaskTask(key)
        spec = Task(key, func, *(_ref(a) for a in args))
        with self._lock:
            self._layers.setdefault((priority, *sorted(workers or ())), {})[key] = spec
            self._tasks.append(task)
            self._holds.append(args)
        return task

    def send(self) -> list[DaskTask]:
        """Submit what was added, as one graph; the tasks sent (their futures set)."""
        with self._lock:
            if not self._tasks:
                return []
            layers, tasks = self._layers, self._tasks
            self._layers, self._tasks, self._holds = {}, [], []
            graph = HighLevelGraph(
                {f"dstream-layer-{i}": MaterializedLayer(dsk, annotations=_annotations(*where))
                 for i, (where, dsk) in enumerate(layers.items())},
                {f"dstream-layer-{i}": set() for i in range(len(layers))})
            futures = self._client.get(  # type: ignore[no-untyped-call]  # no annotations
                graph, [t.key for t in tasks], sync=False)
            for task, future in zip(tasks, futures):
                task.future = future
        return tasks


def _annotations(priority: int, *workers: str) -> dict[str, Any] | None:
    """A layer's annotations: its workers (a loose restriction) and its priority.

    >>> _annotations(0), _annotations(-1, "tcp://w:1")
    (None, {'priority': -1, 'workers': ['tcp://w:1'], 'allow_other_workers': True})
    """
    annotations: dict[str, Any] = {"priority": priority} if priority else {}
    if workers:
        annotations.update(workers=list(workers), allow_other_workers=True)
    return annotations or None
