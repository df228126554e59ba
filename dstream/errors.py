"""Errors the engine raises, each naming what went wrong and what to do."""

from __future__ import annotations

__all__ = ["DStreamError", "TaskFailedError", "WorkerLostError", "BlockLostError",
           "ClosurePicklingError", "ContextStateError", "InputDecodeError"]


class DStreamError(Exception):
    """Base class of the engine's own errors."""


class ContextStateError(DStreamError, RuntimeError):
    """An operation that the context's current state does not allow (stopped, not started...)."""


class WorkerLostError(DStreamError):
    """A worker process died while it ran a task; the task is run again elsewhere."""


class BlockLostError(DStreamError):
    """Every copy of a received block is gone (its executors died) and no log holds it."""


class TaskFailedError(DStreamError):
    """A task failed in a way that left no user exception to re-raise (e.g. lost workers)."""


class ClosurePicklingError(DStreamError, TypeError):
    """A function shipped to worker processes refers to something that cannot be pickled."""


class InputDecodeError(DStreamError, ValueError):
    """Bytes read from a file or a socket are not valid in the declared encoding."""
