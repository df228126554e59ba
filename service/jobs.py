"""Job modules: a Python file with ``build(ssc, args)`` and optional defaults (jobs/README.md).

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.py"
>>> _ = path.write_text("BATCH_SECONDS = 2\\n"
...                     "def add_arguments(parser):\\n"
...                     "    parser.add_argument('--n', type=int, default=1)\\n"
...                     "def build(ssc, args):\\n"
...                     "    ssc.queueStream([list(range(args.n))]).pprint()\\n")
>>> job = load_job(path)
>>> job.name, job.defaults, job.parse_args(["--n", "3"]).n
('tiny', {'BATCH_SECONDS': 2}, 3)
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import cloudpickle

from .settings import JOB_DEFAULTS

__all__ = ["JobError", "JobModule", "load_job"]


class JobError(ValueError):
    """A job file that cannot be loaded or does not follow the job format."""


@dataclass(frozen=True)
class JobModule:
    path: Path
    module: ModuleType
    name: str
    build: Callable[[Any, argparse.Namespace], None]
    #: the module's MASTER, APP_NAME, BATCH_SECONDS, CHECKPOINT, CONF (those it defines)
    defaults: dict[str, Any]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None

    @property
    def description(self) -> str:
        doc = (self.module.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else f"the {self.name} job"

    def argument_parser(self, prog: str | None = None) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(prog=prog or f"{self.name} job", description=self.description,
                                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        if self.add_arguments is not None:
            self.add_arguments(parser)
        return parser

    def parse_args(self, argv: list[str] | tuple[str, ...]) -> argparse.Namespace:
        """The job's own options (``add_arguments``); argparse exits with usage on errors."""
        argv = list(argv)
        if self.add_arguments is None and argv and argv != ["--help"] and argv != ["-h"]:
            raise JobError(f"job {self.name} takes no arguments (it defines no add_arguments), "
                           f"got {' '.join(argv)}")
        return self.argument_parser().parse_args(argv)


def _module_name(path: Path) -> str:
    return "dstream_job_" + re.sub(r"\W", "_", path.stem)


def _main_module_for(path: Path) -> ModuleType | None:
    """The ``__main__`` module when it is this very file (``python jobs/x.py``)."""
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    if main is not None and main_file and Path(main_file).resolve() == path:
        return main
    return None


def load_job(path: str | Path) -> JobModule:
    """Import the job file (once) and check it follows the job format."""
    path = Path(path).resolve()
    if not path.is_file():
        raise JobError(f"job file {path} does not exist")
    module = _main_module_for(path)
    if module is None:
        name = _module_name(path)
        module = sys.modules.get(name)
        if module is None or Path(getattr(module, "__file__", "")).resolve() != path:
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise JobError(f"job file {path} cannot be imported (is it a .py file?)")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except Exception as e:
                del sys.modules[name]
                raise JobError(f"job file {path} failed to import: {type(e).__name__}: {e}") from e
        # functions of the job go to worker processes by value: workers cannot import the file
        cloudpickle.register_pickle_by_value(module)
    return _check(path, module)


def _check(path: Path, module: ModuleType) -> JobModule:
    build = getattr(module, "build", None)
    if not callable(build):
        raise JobError(f"job file {path} defines no build(ssc, args) function")
    try:
        inspect.signature(build).bind(object(), object())
    except TypeError:
        raise JobError(f"job file {path}: build{inspect.signature(build)} must take two "
                       f"arguments, (ssc, args)") from None
    add_arguments = getattr(module, "add_arguments", None)
    if add_arguments is not None and not callable(add_arguments):
        raise JobError(f"job file {path}: add_arguments must be a function(parser)")
    defaults = {k: getattr(module, k) for k in JOB_DEFAULTS if hasattr(module, k)}
    if "CONF" in defaults and not isinstance(defaults["CONF"], dict):
        raise JobError(f"job file {path}: CONF must be a dict of Conf keys to values, "
                       f"got {type(defaults['CONF']).__name__}")
    return JobModule(path=path, module=module, name=path.stem, build=build, defaults=defaults,
                     add_arguments=add_arguments)
