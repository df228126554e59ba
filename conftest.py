"""Doctests of ``receivers/``, ``checkpoint/`` and ``service/`` run as the modules the distribution
installs (``dstream.receivers``, ``dstream.checkpoint``, ``dstream.service``).

pytest would import ``checkpoint/wal.py`` as a top-level ``checkpoint.wal``: a second copy of the
module under a name nothing else uses. Here each doctest module under those folders imports its
module by the ``dstream.…`` name instead.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest
from _pytest.doctest import DoctestModule

_ROOT = Path(__file__).resolve().parent
_MAPPED_FOLDERS = {"receivers", "checkpoint", "service"}


def installed_module_name(path: Path) -> str | None:
    """``dstream.checkpoint.wal`` for ``checkpoint/wal.py``; None outside the mapped folders."""
    try:
        parts = list(path.resolve().relative_to(_ROOT).with_suffix("").parts)
    except ValueError:
        return None
    if not parts or parts[0] not in _MAPPED_FOLDERS:
        return None
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["dstream", *parts])


class InstalledDoctestModule(DoctestModule):
    """A doctest module imported by its installed ``dstream.…`` name."""

    def _getobj(self) -> ModuleType:
        name = installed_module_name(self.path)
        if name is None:
            raise pytest.UsageError(f"{self.path} is not under receivers/, checkpoint/ or service/")
        return importlib.import_module(name)


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path: Path, parent: pytest.Collector):  # type: ignore[no-untyped-def]
    collected = yield
    if installed_module_name(file_path) is None:
        return collected
    return [
        InstalledDoctestModule.from_parent(parent, path=file_path)
        if type(node) is DoctestModule else node
        for node in collected
    ]
