"""One import package, ``dstream``: a job folder holding ``checkpoint/``, ``service/`` or
``receivers/`` never shadows the engine.

A job script runs from a temporary directory holding those three folders (each a package, with
an ``__init__.py``, to make shadowing as likely as possible), under the editable install of the
test environment and under a wheel built with ``pip wheel`` and installed into a fresh virtual
environment. The fresh environment gets the wheel alone (``--no-deps``) and a ``.pth`` line with
the test environment's site-packages for the dependencies: a plain path, so the editable install's
finder there is not activated, and the job checks that ``dstream`` comes from the fresh one.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import dstream

ROOT = Path(__file__).resolve().parents[1]
OLD_TOP_LEVEL = {"checkpoint", "receivers", "service"}
SHADOWING_FOLDERS = ("checkpoint", "service", "receivers")
BUILD_INPUTS = ("pyproject.toml", "README.md", "dstream", "receivers", "checkpoint", "service")

#: A queueStream word count with state, checkpointing to ``checkpoint/`` next to itself; it prints
#: where the engine came from and each batch's running counts.
JOB = textwrap.dedent('''\
    import os
    import sys

    import checkpoint            # the job's own folder, on sys.path first: it must not matter

    import dstream
    import dstream.checkpoint
    import dstream.receivers
    import dstream.service
    from dstream import Context, StreamingContext
    from dstream.streaming.testing import advance_batch


    def under(path, root):
        return os.path.realpath(path).startswith(os.path.realpath(root) + os.sep)


    def main():
        expected_root = os.environ["EXPECTED_DSTREAM_ROOT"]
        here = os.path.dirname(os.path.abspath(__file__))
        for module in (dstream, dstream.checkpoint, dstream.receivers, dstream.service):
            if not under(module.__file__, expected_root) or under(module.__file__, here):
                sys.exit(f"{module.__name__} came from {module.__file__}, not from {expected_root}")
        print("job checkpoint package:", under(checkpoint.__file__, here))
        sc = Context("local[2]", "shadowing")
        ssc = StreamingContext(sc, 1, clock="manual")
        ssc.checkpoint("checkpoint")
        lines = ssc.queueStream([["a b a"], ["c a"]])
        counts = (lines.flatMap(str.split).map(lambda w: (w, 1))
                  .updateStateByKey(lambda new, old: sum(new) + (old or 0)))
        counts.foreachRDD(lambda rdd: print("counts:", sorted(rdd.collect()), flush=True))
        ssc.start()
        advance_batch(ssc)
        advance_batch(ssc)
        ssc.stop(stopSparkContext=True, stopGraceFully=True)
        print("checkpoint files:", any(name != "__init__.py" for name in os.listdir("checkpoint")))


    if __name__ == "__main__":
        main()
    ''')

EXPECTED_OUTPUT = [
    "job checkpoint package: True",
    "counts: [('a', 2), ('b', 1)]",
    "counts: [('a', 3), ('b', 1), ('c', 1)]",
    "checkpoint files: True",
]


# ---------------------------------------------------------------------- no old names
def _python_files() -> Iterator[Path]:
    for folder in ("dstream", "receivers", "checkpoint", "service", "tests", "jobs", "benchmarks",
                   "scripts", "examples"):
        yield from (ROOT / folder).rglob("*.py")
    yield ROOT / "conftest.py"


def _absolute_imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module


def test_nothing_imports_the_old_top_level_names() -> None:
    found = []
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for line, module in _absolute_imports(tree):
            if module.split(".")[0] in OLD_TOP_LEVEL:
                found.append(f"{path.relative_to(ROOT)}:{line}: {module}")
    assert found == [], "import these as dstream.<name>: " + ", ".join(found)


# ---------------------------------------------------------------------- the wheel
@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel ``pip wheel`` builds from a copy of the sources (the work tree stays clean)."""
    source = tmp_path_factory.mktemp("source")
    for name in BUILD_INPUTS:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        else:
            shutil.copy2(origin, source / name)
    out = tmp_path_factory.mktemp("wheelhouse")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", os.fspath(source), "--no-deps",
                            "-q", "-w", os.fspath(out)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout + build.stderr
    wheels = list(out.glob("dstream-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _top_level_names(names: list[str]) -> set[str]:
    tops = set()
    for name in names:
        first = name.split("/")[0]
        if first.endswith((".dist-info", ".data")):
            continue
        tops.add(first.split(".")[0])
    return tops


def test_wheel_installs_exactly_one_import_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        top_level_txt = [n for n in names if n.endswith(".dist-info/top_level.txt")]
        declared = {line.strip() for n in top_level_txt
                    for line in archive.read(n).decode().splitlines() if line.strip()}
    assert _top_level_names(names) == {"dstream"}
    assert declared in (set(), {"dstream"})
    static = {n.rsplit("/", 1)[1] for n in names if n.startswith("dstream/service/static/")}
    assert static == {p.name for p in (ROOT / "service" / "static").iterdir() if p.is_file()}
    assert static, "the dashboard's static files are missing from the wheel"
    for package in ("checkpoint", "receivers", "service", "service/api"):
        assert f"dstream/{package}/__init__.py" in names


def test_wheel_ships_the_py_typed_marker(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        assert "dstream/py.typed" in archive.namelist()


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment holding the wheel, with the test environment's packages
    reachable through a plain ``.pth`` path line. Returns its python."""
    home = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", os.fspath(home)], check=True, timeout=120)
    python = home / "bin" / "python"
    install = subprocess.run([sys.executable, "-m", "pip", "--python", os.fspath(python), "install",
                              "--no-deps", "--no-index", "-q", os.fspath(wheel)],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    purelib = subprocess.run([os.fspath(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    (Path(purelib) / "test-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.fixture
def job_dir(tmp_path: Path) -> Path:
    """A job folder with ``checkpoint/``, ``service/`` and ``receivers/`` packages and the job."""
    for name in SHADOWING_FOLDERS:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"# the job's own {name} package\n")
    (tmp_path / "job.py").write_text(JOB)
    return tmp_path


def _run_job(python: Path | str, job_dir: Path, expected_root: Path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["EXPECTED_DSTREAM_ROOT"] = os.fspath(expected_root)
    done = subprocess.run([os.fspath(python), "job.py"], cwd=job_dir, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if line.strip()]


def test_job_beside_shadowing_folders_runs_under_the_editable_install(job_dir: Path) -> None:
    editable_root = Path(dstream.__file__).resolve().parents[1]
    assert _run_job(sys.executable, job_dir, editable_root) == EXPECTED_OUTPUT


def test_job_beside_shadowing_folders_runs_under_the_installed_wheel(fresh_venv: Path, job_dir: Path) -> None:
    assert _run_job(fresh_venv, job_dir, fresh_venv.parents[1]) == EXPECTED_OUTPUT
