"""Log lines a program gets: PySpark's console format (``yy/MM/dd HH:mm:ss LEVEL source:
message``) unless it configured logging itself, levels set with ``setLogLevel`` (PySpark's
names), a failing batch's traceback printed once, and a worker that cannot start reported to
the driver as its own error."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from dstream import Context

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINE = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d (ALL|TRACE|DEBUG|INFO|WARN|ERROR|FATAL) [\w.]+: ")


def run_script(tmp_path: Any, body: str) -> subprocess.CompletedProcess:
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(body), encoding="utf-8")
    return subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)


def test_a_failing_batch_is_logged_in_pysparks_format_and_its_traceback_printed_once(
        tmp_path: Any) -> None:
    result = run_script(tmp_path, """
        from dstream import Context, StreamingContext
        ctx = Context("local", "fails")
        ssc = StreamingContext(ctx, 0.2)
        def boom(x):
            raise ValueError("bad record %r" % x)
        ssc.queueStream([[1]]).map(boom).foreachRDD(lambda rdd: rdd.collect())
        ssc.start()
        ssc.awaitTermination()
    """)
    assert result.returncode == 1
    err = result.stderr
    logged = [line for line in err.splitlines() if LINE.match(line)]
    assert any(" ERROR dstream.streaming.context: a batch failed: ValueError: bad record 1" in line
               for line in logged), err
    assert err.count("in boom") == 1, err          # the traceback once, with the raised error
    assert err.count("Traceback (most recent call last)") == 1, err


@pytest.mark.parametrize("level, shown, hidden", [
    (None, ["WARN"], ["INFO", "DEBUG"]),               # PySpark's default: WARN
    ("INFO", ["WARN", "INFO"], ["DEBUG"]),
    ("debug", ["WARN", "INFO", "DEBUG"], []),
    ("ERROR", [], ["WARN", "INFO"]),
    ("OFF", [], ["WARN", "INFO", "ERROR"]),
])
def test_set_log_level_controls_the_lines(tmp_path: Any, level: str | None, shown: list[str],
                                          hidden: list[str]) -> None:
    result = run_script(tmp_path, f"""
        import logging
        from dstream import Context
        with Context("local", "levels") as ctx:
            if {level!r} is not None:
                ctx.setLogLevel({level!r})
            log = logging.getLogger("dstream.example")
            for number in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR):
                log.log(number, "line at %s", logging.getLevelName(number))
    """)
    assert result.returncode == 0, result.stderr
    levels = [m.group(1) for m in map(LINE.match, result.stderr.splitlines()) if m]
    for name in shown:
        assert name in levels, result.stderr
    for name in hidden:
        assert name not in levels, result.stderr


def test_an_unknown_level_is_refused_naming_it_and_the_known_ones() -> None:
    with Context("local", "levels") as ctx:
        with pytest.raises(ValueError, match=r"unknown log level 'LOUD'; use one of ALL, DEBUG"):
            ctx.setLogLevel("LOUD")


def test_a_programs_own_logging_configuration_is_kept_and_lines_are_not_doubled(tmp_path: Any) -> None:
    result = run_script(tmp_path, """
        import logging
        logging.basicConfig(format="MINE %(levelname)s %(name)s %(message)s")
        from dstream import Context
        with Context("local", "mine") as ctx:
            logging.getLogger("dstream.example").warning("hello")
    """)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["MINE WARNING dstream.example hello"]


def test_a_worker_that_cannot_start_reports_its_own_error_to_the_driver(tmp_path: Any) -> None:
    # a module on the driver's path that breaks in the worker processes only (the driver
    # imported the real one already): the workers fail while importing dstream
    (tmp_path / "cloudpickle.py").write_text(
        "raise ImportError('cloudpickle is broken on this worker')\n", encoding="utf-8")
    sys.path.insert(0, os.fspath(tmp_path))
    try:
        with Context("local[2]", "broken-workers") as ctx:
            with pytest.raises(ImportError, match="cloudpickle is broken on this worker") as info:
                ctx.parallelize([1, 2], 2).map(lambda x: x + 1).collect()
    finally:
        sys.path.remove(os.fspath(tmp_path))
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "failed to start" in notes
