"""The dstream service: the ``dstream`` command, the daemon and the monitoring app.

A job module ends with ``run_standalone(__file__)`` to run under plain Python exactly as
``dstream run`` runs it (see jobs/README.md). The monitoring app is
``service.api.create_app(ContextView(ssc))``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from .api import create_app
    from .context_view import ContextView

__all__ = ["run_standalone", "create_app", "ContextView"]


def run_standalone(job_file: str, argv: list[str] | None = None) -> NoReturn:
    """``if __name__ == "__main__": run_standalone(__file__)``: ``python jobs/x.py [OPTIONS]``
    takes the options of ``dstream run`` and the job's own.

    A job file that ends so (it counts one batch of words), run with plain Python for two
    seconds, without its HTTP server:

    >>> import pathlib, subprocess, sys, tempfile
    >>> job = pathlib.Path(tempfile.mkdtemp(), "count.py")
    >>> _ = job.write_text('''
    ... MASTER = "local"
    ... BATCH_SECONDS = 0.5
    ...
    ... def build(ssc, args):
    ...     ssc.queueStream([["a", "b", "a"]]).countByValue().foreachRDD(
    ...         lambda rdd: rdd.isEmpty() or print(sorted(rdd.collect()), flush=True))
    ...
    ... if __name__ == "__main__":
    ...     from dstream.service import run_standalone
    ...     run_standalone(__file__)
    ... ''')
    >>> done = subprocess.run([sys.executable, str(job), "--stop-after", "2", "--http", "off"],
    ...                       capture_output=True, text=True)
    >>> done.returncode, done.stdout
    (0, "[('a', 2), ('b', 1)]\\n")
    """
    from .cli import run_standalone as run
    run(job_file, argv)


def __getattr__(name: str) -> Any:
    # the web stack loads only when the app is asked for (jobs import this package too)
    if name == "create_app":
        from .api import create_app
        return create_app
    if name == "ContextView":
        from .context_view import ContextView
        return ContextView
    raise AttributeError(f"module 'dstream.service' has no attribute {name!r}")
