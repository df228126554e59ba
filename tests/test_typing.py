"""The typing tests in ``tests/typing``: mypy (the pinned one, with pyproject's configuration,
through ``scripts/typecheck.sh``) must report exactly the errors marked ``# E: <code>[, <code>]``
on their lines, and none elsewhere in those files.

Errors mypy reports in the package itself are the whole-package check's business
(``scripts/typecheck.sh`` without arguments, in ``.ci/run``), not this test's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TYPING = ROOT / "tests" / "typing"
ERROR = re.compile(r"^(?P<path>[^:\s]+\.py):(?P<line>\d+): error: (?P<message>.*)\s\s\[(?P<code>[a-z-]+)\]$")
MARK = re.compile(r"#\s*E:\s*(?P<codes>[a-z-]+(?:\s*,\s*[a-z-]+)*)\s*$")

#: (path, line, error code)
Error = tuple[str, int, str]


def _expected() -> set[Error]:
    expected: set[Error] = set()
    for path in sorted(TYPING.glob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(path.read_text().splitlines(), 1):
            mark = MARK.search(line)
            if mark:
                for code in mark["codes"].split(","):
                    expected.add((relative, number, code.strip()))
    return expected


@pytest.fixture(scope="module")
def reported() -> tuple[set[Error], str]:
    """mypy's errors on the typing tests, and its whole output (for failure messages)."""
    run = subprocess.run(["bash", os.fspath(ROOT / "scripts" / "typecheck.sh"), "tests/typing"],
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHON": sys.executable})
    output = run.stdout + run.stderr
    assert "error: Cannot find implementation or library stub" not in output, output
    errors: set[Error] = set()
    for line in output.splitlines():
        match = ERROR.match(line)
        if match and match["path"].startswith("tests/typing/"):
            errors.add((match["path"], int(match["line"]), match["code"]))
    return errors, output


def test_the_typing_tests_mark_errors() -> None:
    assert _expected(), "no '# E: <code>' marks found in tests/typing"


def test_every_marked_line_gets_its_errors(reported: tuple[set[Error], str]) -> None:
    errors, output = reported
    missing = sorted(_expected() - errors)
    assert not missing, f"mypy did not report these expected errors: {missing}\n{output}"


def test_no_unmarked_line_gets_an_error(reported: tuple[set[Error], str]) -> None:
    errors, output = reported
    unexpected = sorted(errors - _expected())
    assert not unexpected, f"mypy reported errors not marked '# E: <code>': {unexpected}\n{output}"
