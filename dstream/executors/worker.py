"""The worker process: receives tasks over a pipe, runs them, sends results back.

Started by ``ProcessBackend`` as ``python -m dstream.executors.worker READ_FD WRITE_FD`` with
``PYTHONHASHSEED=0``; it talks only to its parent over inherited pipes, never the network.
"""

from __future__ import annotations

import os
import pickle
import sys
import traceback
from collections import OrderedDict
from multiprocessing.connection import Connection
from typing import Any

_STAGE_CACHE_SIZE = 64


def _error_reply(e: BaseException) -> bytes:
    """The failure as the driver rebuilds it: the exception itself when it pickles (with
    cloudpickle for classes defined in the driver's ``__main__``), else its type name and text."""
    from ..serialization import dumps_data

    text = traceback.format_exc()
    try:
        exc_bytes = dumps_data(e)
        pickle.loads(exc_bytes)
    except Exception:
        exc_bytes = None
    return pickle.dumps(("err", exc_bytes, type(e).__qualname__, str(e), text), protocol=5)


def serve(conn_in: Connection, conn_out: Connection) -> None:
    from ..scheduler.task import run_task
    from ..serialization import dumps_data

    stages: OrderedDict[int, Any] = OrderedDict()
    while True:
        try:
            message = conn_in.recv_bytes()
        except EOFError:
            return
        stage_id, stage_bytes, split, attempt, inputs_bytes, forget = pickle.loads(message)
        for done in forget:             # stages that will not run again: their code goes
            stages.pop(done, None)
        try:
            stage = stages.get(stage_id)
            if stage is not None:
                # least recently used goes first: a stage run ahead on every block stays
                stages.move_to_end(stage_id)
            else:
                if stage_bytes is None:
                    raise RuntimeError(f"stage {stage_id} code was not sent to this worker")
                stage = stages[stage_id] = pickle.loads(stage_bytes)
                if len(stages) > _STAGE_CACHE_SIZE:
                    stages.popitem(last=False)
            result = run_task(stage, split, attempt, pickle.loads(inputs_bytes), serialize=True)
            reply = pickle.dumps(("ok", dumps_data(result)), protocol=5)
        except BaseException as e:  # noqa: B902 - every failure goes back to the driver
            reply = _error_reply(e)
        conn_out.send_bytes(reply)


def main() -> None:
    read_fd, write_fd = int(sys.argv[1]), int(sys.argv[2])
    conn_in = Connection(read_fd, writable=False)
    conn_out = Connection(write_fd, readable=False)
    try:
        try:
            # everything a task needs, imported now: a failure is the worker's start-up error
            from ..scheduler.task import run_task  # noqa: F401
            from ..serialization import dumps_data  # noqa: F401
        except Exception as e:
            conn_out.send_bytes(startup_failure(e))
            return
        # the driver may stop (closing the pipes) before a replacement worker is ready
        conn_out.send_bytes(pickle.dumps(("ready", os.getpid())))
        serve(conn_in, conn_out)
    except (BrokenPipeError, KeyboardInterrupt):
        pass


def startup_failure(e: BaseException) -> bytes:
    """The reply of a worker that could not start: ``("failed", exception pickled or None,
    type name, message, traceback)``. Stdlib only (dstream itself may be what failed); the
    same code runs in ``ProcessBackend``'s boot line when importing this module fails.

    >>> status, exc, name, message, text = pickle.loads(startup_failure(ImportError("no x")))
    >>> status, pickle.loads(exc).args, name, message
    ('failed', ('no x',), 'ImportError', 'no x')
    """
    exc_bytes: bytes | None
    try:
        exc_bytes = pickle.dumps(e)
        pickle.loads(exc_bytes)
    except Exception:
        exc_bytes = None
    text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
    return pickle.dumps(("failed", exc_bytes, type(e).__qualname__, str(e), text))


if __name__ == "__main__":
    main()
