"""A graceful stop as a sequence of named phases, each with a time limit.

Each phase runs in a thread of its own; a phase that overruns its limit (or raises) is
reported and the sequence goes on with the next one. Later steps (committing source
offsets, writing a final checkpoint) slot in as further ``DrainPhase``s.

>>> import logging
>>> done = []
>>> ok = run_phases([DrainPhase("first", lambda: done.append(1), 1.0),
...                  DrainPhase("second", lambda: done.append(2), 1.0)],
...                 logging.getLogger("doctest"))
>>> ok, done
(True, [1, 2])
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["DrainPhase", "run_phases"]


@dataclass(frozen=True)
class DrainPhase:
    name: str
    action: Callable[[], Any]
    #: seconds
    time_limit: float


def run_phases(phases: list[DrainPhase], log: logging.Logger) -> bool:
    """Run the phases in order; True when each finished within its limit without error."""
    all_ok = True
    for number, phase in enumerate(phases, 1):
        log.info("drain %d/%d: %s (limit %g s)", number, len(phases), phase.name, phase.time_limit)
        finished = threading.Event()
        errors: list[BaseException] = []

        def run(phase: DrainPhase = phase, finished: threading.Event = finished,
                errors: list[BaseException] = errors) -> None:
            try:
                phase.action()
            except BaseException as e:  # reported by the driver thread below
                errors.append(e)
            finally:
                finished.set()

        started = time.monotonic()
        threading.Thread(target=run, name=f"dstream-drain-{number}", daemon=True).start()
        if not finished.wait(phase.time_limit):
            all_ok = False
            log.error("drain %d/%d: %s overran its %g s limit; going on without it",
                      number, len(phases), phase.name, phase.time_limit)
            continue
        took = time.monotonic() - started
        if errors:
            all_ok = False
            log.error("drain %d/%d: %s failed after %.2f s: %s: %s", number, len(phases),
                      phase.name, took, type(errors[0]).__name__, errors[0], exc_info=errors[0])
        else:
            log.info("drain %d/%d: %s done in %.2f s", number, len(phases), phase.name, took)
    return all_ok
