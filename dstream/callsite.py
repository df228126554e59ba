"""Where in the user's code an RDD or a DStream was defined (for errors, logs and lineage)."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from types import FrameType
from typing import Iterator

__all__ = ["user_call_site", "call_site_override"]

_override = threading.local()

_PACKAGE_DIRS = tuple(
    os.path.dirname(os.path.abspath(__file__)).rsplit(os.sep, 1)[0] + os.sep + name + os.sep
    for name in ("dstream", "receivers", "checkpoint", "service")
)


def user_call_site(default: str = "<unknown>") -> str:
    """``file:line`` of the innermost frame outside the engine's own packages.

    >>> user_call_site().rsplit(":", 1)[1].isdigit()
    True
    """
    forced: str | None = getattr(_override, "site", None)
    if forced is not None:
        return forced
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIRS) or "/tests/" in filename:
            return f"{os.path.basename(filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return default


@contextlib.contextmanager
def call_site_override(site: str) -> Iterator[None]:
    """Within the block, RDDs created by this thread report ``site`` as their origin
    (the streaming layer uses it so a batch's RDDs name the DStream that made them)."""
    previous = getattr(_override, "site", None)
    _override.site = site
    try:
        yield
    finally:
        _override.site = previous
