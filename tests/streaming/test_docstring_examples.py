"""Every public method and property of ``DStream`` (with what it gets from its operation
mixins) and of ``StreamingContext`` shows a runnable example (``>>>``) in its docstring;
pytest runs those examples with ``--doctest-modules``.

The engine's hooks are public names today but not user API (they will become private): they
are listed here explicitly, and the list is checked against the classes so it cannot rot.
"""

from __future__ import annotations

import inspect

import pytest

from dstream import StreamingContext
from dstream.streaming import DStream

#: called by the graph and the scheduler, not by programs
EXCLUDED_HOOKS: dict[type, set[str]] = {
    DStream: {"compute", "initialize", "get_or_compute", "clear_metadata", "validate_at_start",
              "is_time_valid", "slice_ms", "parent_remember_ms",
              # DStream.remember(ms) is the graph's hook (StreamingContext.remember(seconds) is
              # the user API; PySpark's DStream has no remember)
              "remember"},
    StreamingContext: set(),
}


def public_members(cls: type) -> list[str]:
    return sorted(n for n in dir(cls) if not n.startswith("_") and n not in EXCLUDED_HOOKS[cls])


def docstring(cls: type, name: str) -> str:
    member = inspect.getattr_static(cls, name)
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    return inspect.getdoc(member) or ""


MEMBERS = [(cls, name) for cls in EXCLUDED_HOOKS for name in public_members(cls)]


@pytest.mark.parametrize("cls, name", MEMBERS, ids=[f"{c.__name__}.{n}" for c, n in MEMBERS])
def test_public_member_has_a_runnable_example(cls: type, name: str) -> None:
    assert ">>>" in docstring(cls, name), f"{cls.__name__}.{name} has no example (>>>) in its docstring"


@pytest.mark.parametrize("cls", list(EXCLUDED_HOOKS), ids=lambda c: c.__name__)
def test_excluded_hooks_exist(cls: type) -> None:
    assert EXCLUDED_HOOKS[cls] <= set(dir(cls))
