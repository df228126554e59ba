"""Every public method and property of ``DStream`` (with ``withEventTime``, from its
event-time mixin) and of ``StreamingContext`` shows a runnable example (``>>>``) in its docstring;
pytest runs those examples with ``--doctest-modules``.

The engine's hooks (``_compute``, ``_get_or_compute``, ``_initialize``, ...) are private, so
every public name is user API and needs an example.
"""

from __future__ import annotations

import inspect

import pytest

from dstream import StreamingContext
from dstream.streaming import DStream

CLASSES = [DStream, StreamingContext]


def public_members(cls: type) -> list[str]:
    return sorted(n for n in dir(cls) if not n.startswith("_"))


def docstring(cls: type, name: str) -> str:
    member = inspect.getattr_static(cls, name)
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    return inspect.getdoc(member) or ""


MEMBERS = [(cls, name) for cls in CLASSES for name in public_members(cls)]


@pytest.mark.parametrize("cls, name", MEMBERS, ids=[f"{c.__name__}.{n}" for c, n in MEMBERS])
def test_public_member_has_a_runnable_example(cls: type, name: str) -> None:
    assert ">>>" in docstring(cls, name), f"{cls.__name__}.{name} has no example (>>>) in its docstring"
