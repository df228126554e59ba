"""Settings layers (flags > environment > TOML file > job defaults > defaults), errors that
name the bad key and its layer, the job format's checks, and the CLI around them."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dstream.service.cli import main
from dstream.service.jobs import JobError, load_job
from dstream.service.settings import ConfigError, HttpAddress, load_settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .conftest import QUEUE_JOB

JOB = {"MASTER": "local[1]", "BATCH_SECONDS": 5, "CHECKPOINT": "job-cp",
       "CONF": {"a": "job", "b": "job", "c": "job", "d": True}}


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_each_layer_overrides_the_ones_below(tmp_path: Path) -> None:
    file = write(tmp_path / "d.toml", 'master = "local[3]"\nbatch_seconds = 4\nhttp = "off"\n'
                                      'checkpoint = "file-cp"\n[conf]\nb = "file"\nc = "file"\n')
    s = load_settings(
        flags={"master": "local[9]", "conf": ("c=flag",), "token": None},
        env={"DSTREAM_MASTER": "local[8]", "DSTREAM_BATCH_SECONDS": "3", "PATH": "/bin"},
        config_file=file, job_defaults=JOB, job_name="wc")
    assert (s.master, s.batch_seconds, s.checkpoint, s.http, s.app_name) == (
        "local[9]", 3.0, "file-cp", None, "wc")
    assert s.conf == {"a": "job", "b": "file", "c": "flag", "d": "true"}
    assert s.sources == {
        "master": "--master", "batch_seconds": "environment DSTREAM_BATCH_SECONDS",
        "checkpoint": f"{file}: checkpoint", "http": f"{file}: http",
        "app_name": "the job file's name", "conf.a": "job wc CONF", "conf.b": f"{file}: conf",
        "conf.c": "--conf", "conf.d": "job wc CONF"}
    # the description is TOML that reads back to the same values
    described = tomllib.loads(s.describe())
    assert described["master"] == "local[9]" and described["conf"]["c"] == "flag"
    assert "http" not in described and described["batch_seconds"] == 3.0


def test_defaults_and_config_file_from_the_environment(tmp_path: Path) -> None:
    s = load_settings(flags={}, env={})
    assert (s.master, s.http, s.batch_seconds, s.drain_timeout, s.on_batch_error) == (
        None, HttpAddress("127.0.0.1", 4040), 1.0, 30.0, "stop")
    file = write(tmp_path / "e.toml", 'http = "[::1]:0"\nready_max_lag = 2.5\n')
    s = load_settings(flags={}, env={"DSTREAM_CONFIG": file, "DSTREAM_TOKEN": "t"})
    assert (s.http, str(s.http), s.ready_max_lag, s.token, s.config_file) == (
        HttpAddress("::1", 0), "[::1]:0", 2.5, "t", file)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"flags": {"http": "4040"}}, "--http: expected HOST:PORT"),
    ({"flags": {"http": "localhost:99999"}}, "--http: expected HOST:PORT"),
    ({"flags": {"batch_seconds": "0"}}, "--batch-seconds: expected a positive number of seconds, got '0'"),
    ({"flags": {"conf": ("novalue",)}}, "--conf: expected KEY=VALUE, got 'novalue'"),
    ({"flags": {"conf": ("dstream.streaming.concurentJobs=2",)}},
     "--conf: unknown configuration key dstream.streaming.concurentJobs='2' "
     "(did you mean dstream.streaming.concurrentJobs?)"),
    ({"job_defaults": {"CONF": {"spark.streaming.receiver.maxRate": "fast"}}},
     "job wc CONF: spark.streaming.receiver.maxRate='fast' is not a non-negative number"),
    ({"flags": {"on_batch_error": "ignore"}}, "--on-batch-error: expected one of stop, continue"),
    ({"env": {"DSTREAM_DRAIN_TIMEOUT": "soon"}}, "environment DSTREAM_DRAIN_TIMEOUT: expected a number"),
    ({"env": {"DSTREAM_CHEKPOINT": "x"}}, "unknown environment variable DSTREAM_CHEKPOINT "
                                          "(did you mean DSTREAM_CHECKPOINT?)"),
    ({"env": {"DSTREAM_CONF": "a=1"}}, "unknown environment variable DSTREAM_CONF"),
    ({"job_defaults": {"BATCH_SECONDS": "fast"}}, "job wc BATCH_SECONDS: expected a number of seconds"),
    ({"job_defaults": {"CONF": {"k": [1]}}}, "job wc CONF: conf key 'k' needs a string"),
    ({"job_defaults": {"BATCH": 1}}, "unknown job default in wc: BATCH (did you mean BATCH_SECONDS?)"),
    ({"flags": {"ready_max_lag": "-1"}}, "--ready-max-lag: expected a positive number, got '-1'"),
    ({"config_file": "/nonexistent/d.toml"}, "config file /nonexistent/d.toml does not exist"),
])
def test_bad_settings_name_the_key_and_layer(kwargs: dict, message: str) -> None:
    kwargs = {"flags": {}, "job_name": "wc", **kwargs}
    with pytest.raises(ConfigError) as error:
        load_settings(**kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize(("text", "message"), [
    ('chekpoint = "x"\n', "unknown key in {file}: chekpoint (did you mean checkpoint?)"),
    ("batch_seconds = true\n", "{file}: batch_seconds: expected a number of seconds, got True"),
    ("master = 3\n", "{file}: master: expected a non-empty string, got 3"),
    ("conf = 3\n", "{file}: conf: expected a table of key = value, got int"),
    ("master = \n", "{file} is not valid TOML"),
])
def test_bad_config_file_keys(tmp_path: Path, text: str, message: str) -> None:
    file = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError) as error:
        load_settings(flags={}, config_file=file)
    assert message.format(file=file) in str(error.value)


# ---------------------------------------------------------------------------- job format
@pytest.mark.parametrize(("source", "message"), [
    ("x = 1\n", "defines no build(ssc, args) function"),
    ("def build(ssc):\n    pass\n", "build(ssc) must take two arguments, (ssc, args)"),
    ("def build(ssc, args):\n    pass\nCONF = [1]\n", "CONF must be a dict"),
    ("raise RuntimeError('no Kafka here')\n", "failed to import: RuntimeError: no Kafka here"),
    ("def build(ssc, args):\n    pass\nadd_arguments = 3\n", "add_arguments must be a function"),
])
def test_job_format_errors(tmp_path: Path, source: str, message: str) -> None:
    path = write(tmp_path / "job.py", source)
    with pytest.raises(JobError) as error:
        load_job(path)
    assert message in str(error.value) and path in str(error.value)


def test_queue_job_follows_the_format() -> None:
    job = load_job(QUEUE_JOB)
    assert job.name == "wordcount_queue"
    assert job.defaults == {"MASTER": "local[2]", "APP_NAME": "wordcount-queue",
                            "BATCH_SECONDS": 1.0, "CHECKPOINT": "checkpoints/wordcount-queue"}
    assert vars(job.parse_args(["--batches", "3"])) == {"batches": 3, "lines_per_batch": 4}
    assert load_job(QUEUE_JOB).module is job.module        # imported once


def test_a_job_without_arguments_refuses_some(tmp_path: Path) -> None:
    job = load_job(write(tmp_path / "plain.py", "def build(ssc, args):\n    pass\n"))
    assert vars(job.parse_args([])) == {}
    with pytest.raises(JobError, match="takes no arguments .* got --batches 3"):
        job.parse_args(["--batches", "3"])


# ---------------------------------------------------------------------------- CLI
def test_help_stands_on_its_own() -> None:
    runner = CliRunner()
    top = runner.invoke(main, ["--help"])
    assert top.exit_code == 0
    for text in ("run", "DSTREAM_MASTER", "DSTREAM_TOKEN", "DSTREAM_CONFIG", "/metrics"):
        assert text in top.output
    run = runner.invoke(main, ["run", "--help"])
    assert run.exit_code == 0
    words = " ".join(run.output.split())
    for text in ("JOB.py", "--master URL", "--checkpoint DIR_OR_URL", "--http HOST:PORT",
                 "--token TOKEN", "--conf KEY=VALUE", "--config FILE.toml", "getOrCreate",
                 "SIGTERM", "env DSTREAM_CHECKPOINT", "flags, then DSTREAM_* environment"):
        assert text in words, text


def test_show_config_reports_every_layer(tmp_path: Path) -> None:
    file = write(tmp_path / "d.toml", 'checkpoint = "from-file"\n')
    result = CliRunner(env={"DSTREAM_HTTP": "127.0.0.1:0"}).invoke(main, [
        "run", str(QUEUE_JOB), "--config", file, "--conf", "x.y=1", "--master", "local",
        "--show-config", "--batches", "2"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert 'master = "local"  # --master' in lines
    assert f'checkpoint = "from-file"  # {file}: checkpoint' in lines
    assert 'http = "127.0.0.1:0"  # environment DSTREAM_HTTP' in lines
    assert 'batch_seconds = 1.0  # job wordcount_queue BATCH_SECONDS' in lines
    assert '"x.y" = "1"  # --conf' in lines
    assert lines[-1].endswith("batches=2, lines_per_batch=4")


@pytest.mark.parametrize(("args", "message"), [
    (["run", "missing.py"], "job file"),
    (["run", str(QUEUE_JOB), "--http", "nowhere"], "--http: expected HOST:PORT"),
    (["run", str(QUEUE_JOB), "--", "--no-such-option"], "unrecognized arguments: --no-such-option"),
])
def test_cli_errors_exit_2_with_the_reason(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output


# ---------------------------------------------------------------------------- the format's doc
README = QUEUE_JOB.parent / "README.md"


def fenced(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_documented_example_job_follows_the_format(tmp_path: Path) -> None:
    (example,) = fenced("python")
    job = load_job(write(tmp_path / "wordcount_socket.py", example))
    assert job.defaults["BATCH_SECONDS"] == 2 and job.description.startswith("Windowed word count")
    assert vars(job.parse_args(["--port", "7000"])) == {"host": "127.0.0.1", "port": 7000}


def test_the_documented_config_file_loads(tmp_path: Path) -> None:
    (example,) = fenced("toml")
    s = load_settings(flags={}, config_file=write(tmp_path / "dstream.toml", example))
    assert (s.master, s.batch_seconds, s.drain_timeout, s.ready_max_lag) == ("local[2]", 2.0, 30.0, 10.0)
    assert s.conf == {"dstream.streaming.backpressure.enabled": "true",
                      "dstream.streaming.concurrentJobs": "1"}
