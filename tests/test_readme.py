"""The README's example runs and prints what it says (the README stays true)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_wordcount_example_runs() -> None:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    code = re.search(r"## A windowed word count\n\n```python\n(.*?)```", text, re.S).group(1)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    batches = result.stdout.split("-------------------------------------------\nTime: ")[1:]
    assert len(batches) >= 3, result.stdout
    assert "('to', 4)" in batches[2] and "('be', 3)" in batches[2], result.stdout
    with open(os.path.join(ROOT, "docs", "index.md"), encoding="utf-8") as f:
        assert f"```python\n{code}```" in f.read(), "docs/index.md shows another word count"


def test_readme_commands_are_the_ci_steps() -> None:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as f:
        ci = f.read()
    tests = re.search(r"Run every test.*?```sh\n(.*?)\n```", readme, re.S).group(1)
    docs = re.search(r"Build the docs.*?```sh\n(.*?)\n```", readme, re.S).group(1)
    for step in tests.split(" && "):
        step = step.replace(".venv/bin/pip install", ".venv/bin/python -m pip install -q")
        assert step.split()[-1] in ci, step
    assert docs == ".venv/bin/mkdocs build --strict" and docs in ci.splitlines()
