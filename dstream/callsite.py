"""Where in the user's code an RDD or a DStream was defined (for errors, logs and lineage)."""

from __future__ import annotations

import os
import sys

__all__ = ["user_call_site"]

_PACKAGE_DIRS = tuple(
    os.path.dirname(os.path.abspath(__file__)).rsplit(os.sep, 1)[0] + os.sep + name + os.sep
    for name in ("dstream", "receivers", "checkpoint", "service")
)


def user_call_site(default: str = "<unknown>") -> str:
    """``file:line`` of the innermost frame outside the engine's own packages.

    >>> user_call_site().rsplit(":", 1)[1].isdigit()
    True
    """
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PACKAGE_DIRS) or "/tests/" in filename:
            return f"{os.path.basename(filename)}:{frame.f_lineno}"
        frame = frame.f_back
    return default
