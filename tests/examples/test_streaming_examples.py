"""The PySpark-style programs in ``examples/streaming/``, each run as its own process on real
input (a TCP server, a directory, a queue), checked by what it prints (the Kafka ones are in
``test_kafka_examples.py``).

The programs run on the real clock with 1 s (or 5 s) batches; each test waits for the printed
batch it expects (a condition on the process's output), never for a fixed time; before the
recoverable word count is killed, the test also waits for its first metadata checkpoint (a
condition on the checkpoint directory, which nothing prints). One input line is one record, so
its words are counted in one batch whatever the timing.
"""

from __future__ import annotations

import ast
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from dstream.streaming.graph_restore import checkpoint_contents
from tests.streaming.test_receiver_streams import LineServer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "streaming"
DASHES = "-" * 43


class ExampleProcess:
    """An example program's process and the lines it printed so far."""

    def __init__(self, script: str, *args: str, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen([sys.executable, os.fspath(EXAMPLES / script), *args],
                                        cwd=cwd, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, what: str, found: Callable[[list[str]], bool], timeout: float = 90) -> None:
        with self._changed:
            ok = self._changed.wait_for(lambda: found(self.lines) or self.process.poll() is not None,
                                        timeout)
            if not (ok and found(self.lines)):
                raise AssertionError(f"{what} was not printed; output so far:\n" + "\n".join(self.lines)
                                     + "\n" + self._stderr_if_exited())

    def _stderr_if_exited(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read()

    def interrupt(self) -> None:
        """Ctrl-C, as a user stops the program; then its worker processes must be gone too."""
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:                # it has exited already
            children = []
        self.process.send_signal(signal.SIGINT)
        self.finish()
        _, alive = psutil.wait_procs(children, timeout=30)
        assert alive == [], f"worker processes outlived the program: {alive}"

    def kill(self) -> None:
        """SIGKILL, as a crash; the worker processes must then end by themselves."""
        children = psutil.Process(self.process.pid).children(recursive=True)
        self.process.kill()
        self.finish()
        _, alive = psutil.wait_procs(children, timeout=30)
        for child in alive:
            child.kill()
        assert alive == [], f"worker processes outlived the killed program: {alive}"

    def finish(self, timeout: float = 60) -> int:
        try:
            code = self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._reader.join(timeout)
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()
        return code


def pprint_batches(lines: list[str]) -> list[set[str]]:
    """The records of each complete batch ``pprint`` printed (a batch ends with an empty line)."""
    batches: list[set[str]] = []
    i = 0
    while i + 2 < len(lines):
        if lines[i] == DASHES and lines[i + 1].startswith("Time: ") and lines[i + 2] == DASHES:
            end = i + 3
            while end < len(lines) and lines[end] != "":
                end += 1
            if end == len(lines):
                break                                   # the batch is still being printed
            batches.append(set(lines[i + 3:end]))
            i = end + 1
        else:
            i += 1
    return batches


def batch_printed(records: set[str]) -> Callable[[list[str]], bool]:
    return lambda lines: records in pprint_batches(lines)


@pytest.fixture
def line_server() -> Iterator[LineServer]:
    server = LineServer()
    try:
        yield server
    finally:
        server.close()


def test_network_wordcount(line_server: LineServer, tmp_path: Path) -> None:
    program = ExampleProcess("network_wordcount.py", "127.0.0.1", str(line_server.port), cwd=tmp_path)
    try:
        connection = line_server.connection(1, timeout=90)
        first = {"('to', 2)", "('be', 2)", "('or', 1)", "('not', 1)"}
        connection.sendall(b"to be or not to be\n")
        program.wait_for("the first line's counts", batch_printed(first))
        second = {"('be', 1)", "('quick', 1)"}
        connection.sendall(b"be quick\n")
        program.wait_for("the second line's counts", batch_printed(second))
    finally:
        program.interrupt()
    assert {frozenset(b) for b in pprint_batches(program.lines) if b} == {frozenset(first), frozenset(second)}


def test_stateful_network_wordcount_checkpoints_where_it_runs(line_server: LineServer, tmp_path: Path) -> None:
    program = ExampleProcess("stateful_network_wordcount.py", "127.0.0.1", str(line_server.port),
                             cwd=tmp_path)
    try:
        program.wait_for("the initial state", batch_printed({"('hello', 1)", "('world', 1)"}))
        connection = line_server.connection(1, timeout=90)
        connection.sendall(b"hello you\n")
        program.wait_for("the counts after one line",
                         batch_printed({"('hello', 2)", "('world', 1)", "('you', 1)"}))
        connection.sendall(b"you too\n")
        program.wait_for("the counts after two lines",
                         batch_printed({"('hello', 2)", "('world', 1)", "('you', 2)", "('too', 1)"}))
    finally:
        program.interrupt()
    assert any((tmp_path / "checkpoint").iterdir()), "nothing was checkpointed to ./checkpoint"


def test_hdfs_wordcount_reads_files_moved_into_the_directory(tmp_path: Path) -> None:
    watched, staging = tmp_path / "watched", tmp_path / "staging"
    watched.mkdir()
    staging.mkdir()
    program = ExampleProcess("hdfs_wordcount.py", os.fspath(watched), cwd=tmp_path)
    try:
        program.wait_for("a first batch", lambda lines: len(pprint_batches(lines)) >= 1)
        (staging / "words.txt").write_text("a rose is a rose\nis it\n")
        os.replace(staging / "words.txt", watched / "words.txt")
        program.wait_for("the file's counts",
                         batch_printed({"('a', 2)", "('rose', 2)", "('is', 2)", "('it', 1)"}))
    finally:
        program.interrupt()


def test_queue_stream_counts_each_queued_rdd_and_stops_by_itself(tmp_path: Path) -> None:
    program = ExampleProcess("queue_stream.py", cwd=tmp_path)
    assert program.finish(timeout=120) == 0
    expected = {f"({digit}, 100)" for digit in range(10)}
    full = [b for b in pprint_batches(program.lines) if b]
    assert 1 <= len(full) <= 5, program.lines
    assert all(batch == expected for batch in full), program.lines


def test_network_wordjoinsentiments_typed_join(line_server: LineServer, tmp_path: Path) -> None:
    sentiments = tmp_path / "sentiments.txt"
    sentiments.write_text("happy 3\nsad -2\ngood 2\nunscored\n")
    program = ExampleProcess("network_wordjoinsentiments.py", "127.0.0.1", str(line_server.port),
                             os.fspath(sentiments), cwd=tmp_path)
    header = "Happiest words in the last 5 seconds (3 in all):"

    def ranked(lines: list[str]) -> bool:
        return header in lines and len(lines) >= lines.index(header) + 4

    try:
        line_server.connection(1, timeout=90).sendall(b"happy happy good sad meh\n")
        program.wait_for("the ranked words", ranked)
    finally:
        program.interrupt()
    start = program.lines.index(header)
    assert program.lines[start + 1:start + 4] == [
        "happy (6 happiness)", "good (2 happiness)", "sad (-2 happiness)"]


COUNTS = re.compile(r"^Counts at time (.+?) (\[.*\])$")


def printed_counts(lines: list[str]) -> list[dict[str, int]]:
    """The word counts of each ``Counts at time T [...]`` line, in order."""
    return [dict(ast.literal_eval(m.group(2))) for m in map(COUNTS.match, lines) if m]


def counts_then_more(counts: dict[str, int], dropped: int) -> Callable[[list[str]], bool]:
    """``counts`` printed with the dropped-words total after it, and the next batch's counts
    (so the batch's line was appended to the output file)."""
    def found(lines: list[str]) -> bool:
        for i, line in enumerate(lines):
            m = COUNTS.match(line)
            if m and dict(ast.literal_eval(m.group(2))) == counts:
                return (lines[i + 1:i + 2] == [f"Dropped {dropped} word(s) totally"]
                        and any(COUNTS.match(later) for later in lines[i + 2:]))
        return False
    return found


def wait_for_metadata_checkpoint(checkpoint: Path, program: ExampleProcess, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not checkpoint_contents(os.fspath(checkpoint))[0]:
        assert program.process.poll() is None, "the program exited before it checkpointed"
        assert time.monotonic() < deadline, f"no metadata checkpoint in {checkpoint}"
        time.sleep(0.05)    # polling another process's files: there is nothing to block on


@pytest.mark.parametrize("script, setup_runs_at_recovery", [
    ("recoverable_network_wordcount.py", True),            # rebuild mode, the guarded setup
    ("recoverable_network_wordcount_restore.py", False),   # restore mode, PySpark's setup
])
def test_recoverable_network_wordcount_killed_and_recovered(
        script: str, setup_runs_at_recovery: bool, line_server: LineServer, tmp_path: Path) -> None:
    checkpoint, output = tmp_path / "checkpoint", tmp_path / "out.txt"
    output.write_text("Counts at time (an earlier job) [('stale', 1)]\n")
    args = ("127.0.0.1", str(line_server.port), os.fspath(checkpoint), os.fspath(output))
    before = {"rose": 2, "is": 1}
    first = ExampleProcess(script, *args, cwd=tmp_path)
    try:
        line_server.connection(1, timeout=90).sendall(b"a rose is a rose\n")
        first.wait_for("the first run's counts, 2 words dropped", counts_then_more(before, 2))
        wait_for_metadata_checkpoint(checkpoint, first)
    finally:
        first.kill()
    assert first.lines.count("Creating new context") == 1
    assert before in printed_counts(output.read_text().splitlines()), "not appended to the output"

    after = {"is": 1, "not": 1, "red": 1}
    second = ExampleProcess(script, *args, cwd=tmp_path)
    try:
        line_server.connection(2, timeout=90).sendall(b"c is not red\n")
        # a fresh accumulator after the restart: the blacklist singletons are made again
        second.wait_for("the recovered run's counts, 1 word dropped", counts_then_more(after, 1))
    finally:
        second.interrupt()
    assert second.lines.count("Creating new context") == (1 if setup_runs_at_recovery else 0)
    assert f"Appending to {output}" in second.lines
    written = printed_counts(output.read_text().splitlines())
    assert {"stale": 1} not in written, "the first run did not delete the earlier job's output"
    assert before in written and after in written, "the output lost a run's counts"
    assert written.index(before) < written.index(after)
    assert all(not set(counts) & {"a", "b", "c"} for counts in written), "a blacklisted word was written"
