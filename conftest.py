"""Doctests of ``receivers/``, ``checkpoint/`` and ``service/`` run as the modules the distribution
installs (``dstream.receivers``, ``dstream.checkpoint``, ``dstream.service``).

pytest would import ``checkpoint/wal.py`` as a top-level ``checkpoint.wal``: a second copy of the
module under a name nothing else uses. Here each doctest module under those folders imports its
module by the ``dstream.…`` name instead.

The doctests of the batch engine's API modules (``SC_DOCTEST_MODULES``) may use ``sc``, a
``local`` Context, as PySpark's docstrings do: each docstring whose examples name ``sc`` gets a
fresh one, stopped when that docstring's examples end. Only one Context may be active in a
process, so a docstring that makes its own Context does not name ``sc``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from _pytest.doctest import DoctestItem, DoctestModule

_ROOT = Path(__file__).resolve().parent
_MAPPED_FOLDERS = {"receivers", "checkpoint", "service"}
#: modules whose doctests get ``sc`` (paths from the repository root)
SC_DOCTEST_MODULES = {
    "dstream/accumulators.py", "dstream/broadcast.py", "dstream/context.py", "dstream/pairs.py",
    "dstream/rdd.py", "dstream/statcounter.py", "dstream/storagelevel.py",
}
_NAMES_SC = re.compile(r"\bsc\b")


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


def _wants_sc(item: pytest.Item) -> bool:
    if not isinstance(item, DoctestItem) or item.dtest is None:
        return False
    try:
        where = item.path.resolve().relative_to(_ROOT).as_posix()
    except ValueError:
        return False
    return where in SC_DOCTEST_MODULES and any(
        _NAMES_SC.search(example.source) for example in item.dtest.examples)


@pytest.fixture(autouse=True)
def _doctest_sc(request: pytest.FixtureRequest) -> Iterator[None]:
    """``sc`` for a docstring of ``SC_DOCTEST_MODULES`` that names it; stopped at its end."""
    if not _wants_sc(request.node):
        yield
        return
    from dstream import Context

    namespace = request.getfixturevalue("doctest_namespace")
    sc = Context("local", "doctest")
    namespace["sc"] = sc
    try:
        yield
    finally:
        namespace.pop("sc", None)
        sc.stop()
