"""The ``dstream`` command (click), and ``run_standalone`` for ``python jobs/x.py``.

>>> from click.testing import CliRunner
>>> result = CliRunner().invoke(main, ["run", "--help"])
>>> result.exit_code, "--checkpoint DIR_OR_URL" in result.output
(0, True)
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from .jobs import JobError, JobModule, load_job
from .settings import KEYS, ConfigError, env_help, load_settings

__all__ = ["main", "run_standalone"]

_RUN_HELP = """Run a streaming job as a daemon.

JOB.py defines build(ssc, args) (see jobs/README.md). The daemon builds the streaming
context, or recovers it from --checkpoint (StreamingContext.getOrCreate), starts it, serves
the monitoring app over HTTP in the same process and logs one line per batch. SIGTERM or
SIGINT stops it gracefully, phase by phase, each within --drain-timeout; a second signal
stops it at once.

Settings come from flags, then DSTREAM_* environment variables, then the TOML file
(--config or DSTREAM_CONFIG; keys are the flag names with underscores, Conf entries in a
[conf] table), then the job module's defaults (MASTER, APP_NAME, BATCH_SECONDS, CHECKPOINT,
CONF): the first that sets a value wins. Unknown or invalid keys are errors.

Options the daemon does not know go to the job's own parser (its add_arguments); put
them after `--` to pass everything that follows to the job.

\b
Examples:
  dstream run jobs/wordcount_queue.py --http 127.0.0.1:4040
  dstream run jobs/wordcount_queue.py --conf dstream.streaming.concurrentJobs=2 -- --batches 20
  DSTREAM_TOKEN=s3cret dstream run jobs/job.py --config dstream.toml --show-config
"""

_METAVARS = {"master": "URL", "app_name": "NAME", "batch_seconds": "SECONDS",
             "checkpoint": "DIR_OR_URL", "http": "HOST:PORT", "token": "TOKEN", "conf": "KEY=VALUE",
             "ready_max_lag": "BATCHES", "drain_timeout": "SECONDS", "stop_after": "SECONDS",
             "on_batch_error": "stop|continue", "log_level": "LEVEL"}

_DEFAULT_SHOWN = {"batch_seconds": "1", "http": "127.0.0.1:4040", "ready_max_lag": "10",
                  "drain_timeout": "30", "on_batch_error": "stop", "log_level": "info"}


def _options() -> list[click.Parameter]:
    params: list[click.Parameter] = []
    for key in KEYS.values():
        env = f" [env {key.env_name}]" if key.env else ""
        default = f" [default: {_DEFAULT_SHOWN[key.name]}]" if key.name in _DEFAULT_SHOWN else ""
        params.append(click.Option([key.flag], metavar=_METAVARS[key.name], default=None,
                                   multiple=key.name == "conf", help=key.help + env + default))
    params.append(click.Option(["--config"], metavar="FILE.toml", default=None,
                               help="TOML settings file [env DSTREAM_CONFIG]"))
    params.append(click.Option(["--show-config"], is_flag=True, default=False,
                               help="print the effective settings and where each came from, "
                                    "then exit"))
    return params


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    logging.getLogger().setLevel(level.upper())


def _run(fixed_job: str | None, job: str | None = None, job_args: tuple[str, ...] = (),
         show_config: bool = False, config: str | None = None, **flags: Any) -> None:
    from .daemon import Daemon
    from .http_server import HttpBindError

    path = fixed_job or job
    if path is None:
        raise click.UsageError("missing the JOB.py argument")
    try:
        module: JobModule = load_job(path)
        settings = load_settings(flags=flags, env=os.environ, config_file=config,
                                 job_defaults=module.defaults, job_name=module.name)
        args = module.parse_args(job_args)
    except (ConfigError, JobError) as e:
        raise click.UsageError(str(e)) from e
    if show_config:
        click.echo(settings.describe())
        click.echo(f"# job {module.path}: " + ", ".join(f"{k}={v!r}" for k, v in vars(args).items()))
        return
    _configure_logging(settings.log_level)
    daemon = Daemon(module, settings, args)
    try:
        code = daemon.run()
    except HttpBindError as e:
        logging.getLogger("dstream.service").error("%s", e)
        code = 1
    except Exception as e:
        logging.getLogger("dstream.service").exception("the daemon failed: %s", e)
        code = 1
    if not daemon.clean:
        # a drain phase overran: its thread may never end, so do not wait for it at exit
        logging.shutdown()
        sys.stdout.flush()
        os._exit(code)
    sys.exit(code)


def _command(fixed_job: str | None = None, epilog: str | None = None) -> click.Command:
    params: list[click.Parameter] = []
    if fixed_job is None:
        params.append(click.Argument(["job"], metavar="JOB.py", type=click.Path(dir_okay=False)))
    params += _options()
    params.append(click.Argument(["job_args"], nargs=-1, type=click.UNPROCESSED, metavar="[JOB_ARGS]..."))

    def callback(**kwargs: Any) -> None:
        _run(fixed_job, **kwargs)

    return click.Command(
        "run", params=params, callback=callback, help=_RUN_HELP, epilog=epilog,
        short_help="Run a streaming job: context, HTTP monitoring, graceful stop.",
        context_settings={"ignore_unknown_options": True, "help_option_names": ["-h", "--help"],
                          "max_content_width": 100})


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog="Environment variables:\n\n\b\n" + env_help() + "\nDSTREAM_CONFIG: TOML settings file")
@click.version_option(package_name="dstream", prog_name="dstream")
def main() -> None:
    """dstream: micro-batch stream processing in the line of Spark Streaming.

    `dstream run JOB.py` runs a job module as a daemon with a monitoring app: Spark's
    streaming REST API (/api/v1/streaming/...), Prometheus metrics (/metrics), health
    (/healthz, /readyz) and a live dashboard (/). See `dstream run --help`.
    \f
    The console script ``dstream`` (and ``python -m dstream.service``). A job run for two
    seconds without its HTTP server; ``job`` is a job file that counts one batch of words:

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
    >>> done = subprocess.run([sys.executable, "-m", "dstream.service", "run", str(job),
    ...                        "--stop-after", "2", "--http", "off"], capture_output=True, text=True)
    >>> done.returncode, done.stdout
    (0, "[('a', 2), ('b', 1)]\\n")
    """


main.add_command(_command())


def run_standalone(job_file: str, argv: list[str] | None = None) -> NoReturn:
    """Run the job file as ``dstream run`` would: ``if __name__ == "__main__":
    run_standalone(__file__)`` at the end of a job makes ``python jobs/x.py`` work (an example:
    ``dstream.service.run_standalone``).
    """
    try:
        display = os.path.relpath(job_file)
    except ValueError:
        display = job_file
    epilog = None
    try:
        parser = load_job(job_file).argument_parser(prog=f"python {display} [OPTIONS] --")
        epilog = "\b\n" + parser.format_help()
    except JobError as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(2)
    command = _command(str(Path(job_file).resolve()), epilog)
    command.main(args=sys.argv[1:] if argv is None else argv, prog_name=f"python {display}")
    sys.exit(0)
