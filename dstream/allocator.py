"""glibc malloc settings that keep a long-running job's memory flat.

glibc's malloc raises its mmap threshold each time a large buffer is freed, so that later
buffers of that size come from the heap instead of fresh mappings. A stream job allocates and
frees block-sized buffers (received blocks, pickled tasks and results) every batch for as long as
it runs, and the heap they leave behind is rarely returned to the system: the driver's RSS grew
by 4 MiB a minute at 20,000 lines/s, with the Python objects it held flat (tracemalloc).
Fixing the thresholds turns that adjustment off: buffers above ``THRESHOLD_BYTES`` are mapped and
unmapped, and free memory at the heap's top is returned above it. Dask's nanny sets
``MALLOC_TRIM_THRESHOLD_`` for its workers for the same reason.

The driver applies them to itself with ``mallopt`` (:func:`tune_this_process`); process
workers get them through their environment (:func:`worker_environment`), read when their
malloc starts. A variable the user set is left alone, and so is a C library other than glibc.
``dstream.memory.tuneMalloc=false`` turns both off.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
from collections.abc import Mapping

__all__ = ["SETTING", "THRESHOLD_BYTES", "tune_this_process", "worker_environment"]

#: the setting that turns the tuning off
SETTING = "dstream.memory.tuneMalloc"
THRESHOLD_BYTES = 128 << 10

#: environment variable -> mallopt parameter (from glibc's malloc.h)
_PARAMETERS = {"MALLOC_TRIM_THRESHOLD_": -1, "MALLOC_MMAP_THRESHOLD_": -3}

log = logging.getLogger(__name__)


def worker_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with the thresholds added where it does not set them already.

    >>> env = worker_environment({"MALLOC_TRIM_THRESHOLD_": "65536"})
    >>> env["MALLOC_TRIM_THRESHOLD_"], env["MALLOC_MMAP_THRESHOLD_"]
    ('65536', '131072')
    """
    tuned = dict(env)
    for name in _PARAMETERS:
        tuned.setdefault(name, str(THRESHOLD_BYTES))
    return tuned


def tune_this_process() -> bool:
    """Fix this process's malloc thresholds (those its environment does not set); True when
    glibc took them. Safe to call more than once.

    >>> tune_this_process() in (True, False)
    True
    """
    libc = _glibc()
    if libc is None:
        return False
    took = True
    for name, parameter in _PARAMETERS.items():
        if name not in os.environ and libc.mallopt(parameter, THRESHOLD_BYTES) != 1:
            log.warning("glibc refused mallopt(%s, %d); memory freed by the job may stay with "
                        "the process", name.strip("_"), THRESHOLD_BYTES)
            took = False
    return took


def _glibc() -> ctypes.CDLL | None:
    """The C library this process runs on, when it is glibc (its symbols are the process's
    own: no library search, which would start ``ldconfig``)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    return ctypes.CDLL(None)
