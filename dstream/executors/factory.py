"""The executor backend for a master URL.

>>> parse_master("local"), parse_master("local[3]"), parse_master("local[*]")[0]
(('inprocess', 1), ('processes', 3), 'processes')
>>> parse_master("dask-local[2]"), parse_master("dask://10.0.0.5:8786")
(('dask', 2), ('dask', 0))

``('dask', 0)``: the parallelism of an existing cluster is known once connected
(``backend.parallelism``).
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from .base import ExecutorBackend
from .inprocess import InProcessBackend
from .processes import ProcessBackend

if TYPE_CHECKING:
    from ..conf import Conf

__all__ = ["create_backend", "parse_master"]


_LOCAL = re.compile(r"^local(?:\[(\*|\d+)(?:\s*,\s*\d+)?\])?$")
_DASK_LOCAL = re.compile(r"^dask-local\[(\*|\d+)\]$")
_DASK = re.compile(r"^dask://([^\s/]+:\d+)/?$")


def parse_master(master: str) -> tuple[str, int]:
    """``(backend kind, parallelism)`` for a master URL."""
    m = _LOCAL.match(master.strip())
    if m:
        n = m.group(1)
        count = os.cpu_count() or 1 if n == "*" else int(n or 1)
        if count < 1:
            raise ValueError(f"master {master!r}: the number of workers must be at least 1")
        if n is None or (n != "*" and count == 1):
            return ("inprocess", 1)
        return ("processes", count)
    m = _DASK_LOCAL.match(master.strip())
    if m:
        count = os.cpu_count() or 1 if m.group(1) == "*" else int(m.group(1))
        if count < 1:
            raise ValueError(f"master {master!r}: the number of workers must be at least 1")
        return ("dask", count)
    if _DASK.match(master.strip()):
        return ("dask", 0)
    raise ValueError(f"unknown master URL {master!r}: use local, local[N], local[*], "
                     "dask://HOST:PORT or dask-local[N]")


def create_backend(master: str, conf: Conf, local_dir: str) -> ExecutorBackend:
    kind, n = parse_master(master)
    if kind == "dask":
        # imported for a Dask master only: dask and distributed take a second to import
        from .dask_backend import DaskBackend
        address = _DASK.match(master.strip())
        if address is not None:
            return DaskBackend(address="tcp://" + address.group(1), conf=conf)
        return DaskBackend(n_workers=n, conf=conf)
    if kind == "inprocess":
        return InProcessBackend()
    return ProcessBackend(n, conf)
