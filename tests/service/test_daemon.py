"""The daemon as a real subprocess: serve, get ready, drain on SIGTERM phase by phase.

Nothing sleeps to synchronise: the tests block on the daemon's own output (a reader
thread queues its lines) and on HTTP answers.
"""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

from .conftest import DSTREAM, PHASES, QUEUE_JOB, ROOT


class Daemon:
    """A subprocess whose merged stdout/stderr lines are read by a thread."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        assert DSTREAM.exists(), f"the dstream console script is missing at {DSTREAM}: pip install -e ."
        self.proc = subprocess.Popen([str(DSTREAM), *args], cwd=cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def next_line(self, timeout: float = 60.0) -> str:
        try:
            line = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output within {timeout} s; so far:\n" + "\n".join(self.lines)) from None
        if line is None:
            raise AssertionError("the daemon exited; its output:\n" + "\n".join(self.lines))
        self.lines.append(line)
        return line

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        while True:
            line = self.next_line(timeout)
            if text in line:
                return line

    def finish(self, timeout: float = 60.0) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        while True:
            line = self._queue.get_nowait() if not self._queue.empty() else None
            if line is None:
                break
            self.lines.append(line)
        return code

    def output(self) -> str:
        return "\n".join(self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        if self.proc.stdout is not None:
            self._reader.join(30)
            self.proc.stdout.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, daemon: Daemon) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.loads(e.read())
    except urllib.error.URLError as e:
        raise AssertionError(f"GET {url} failed: {e}; the daemon said:\n{daemon.output()}") from e


def test_daemon_serves_gets_ready_and_drains_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    daemon = Daemon(["run", str(QUEUE_JOB), "--http", f"127.0.0.1:{port}",
                     "--checkpoint", str(tmp_path / "checkpoints"), "--", "--batches", "3"], tmp_path)
    try:
        daemon.wait_for(f"serving HTTP on {base}")
        while True:                                  # poll /readyz, waiting on the daemon's log
            status, body = get(f"{base}/readyz", daemon)
            if status == 200:
                break
            assert status == 503 and body["ready"] is False, body
            daemon.next_line()
        assert body["numTotalCompletedBatches"] >= 1 and body["state"] == "ACTIVE"
        status, stats = get(f"{base}/api/v1/streaming/statistics", daemon)
        assert status == 200
        assert stats["batchDuration"] == 1000 and stats["numTotalCompletedBatches"] >= 1
        assert stats["numReceivers"] == 0 and stats["numReceivedRecords"] == 0   # queueStream
        status, batches = get(f"{base}/api/v1/streaming/batches?status=COMPLETED", daemon)
        assert status == 200 and batches and batches[0]["numTotalOutputOps"] == 2

        # garbage on the socket itself gets a 400 from the server, which goes on serving
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
            assert raw.recv(100).startswith(b"HTTP/1.1 400")
        assert get(f"{base}/healthz", daemon) == (200, {"status": "ok", "state": "ACTIVE"})

        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.finish() == 0, daemon.output()
    finally:
        daemon.kill()
    out = daemon.output()
    assert "dstream.service: getOrCreate from checkpoint" in out
    assert "batch " in out and "records, scheduling delay" in out and "total delay" in out
    assert "stopping (received SIGTERM): graceful drain" in out
    for number, phase in enumerate(PHASES, 1):
        assert f"drain {number}/{len(PHASES)}: {phase} (limit 30 s)" in out
        assert f"drain {number}/{len(PHASES)}: {phase} done in" in out
    assert out.rstrip().endswith("stopped; exit code 0")


BLOCKING_JOB = '''
import threading
BATCH_SECONDS = 0.2
MASTER = "local"

def build(ssc, args):
    def block(rdd):
        print("batch is blocking", flush=True)
        threading.Event().wait()
    ssc.queueStream([[1]]).foreachRDD(block)
'''


def test_an_overrunning_phase_is_reported_and_the_stop_goes_on(tmp_path: Path) -> None:
    job = tmp_path / "blocking.py"
    job.write_text(BLOCKING_JOB, encoding="utf-8")
    daemon = Daemon(["run", str(job), "--http", "127.0.0.1:0", "--drain-timeout", "1",
                     "--conf", "dstream.streaming.stopTimeout=120"], tmp_path)
    try:
        daemon.wait_for("batch is blocking")
        daemon.proc.send_signal(signal.SIGINT)
        assert daemon.finish() == 1, daemon.output()
    finally:
        daemon.kill()
    out = daemon.output()
    assert "stopping (received SIGINT)" in out
    n = len(PHASES)
    assert f"drain 1/{n}: {PHASES[0]} done in" in out
    assert f"drain 2/{n}: {PHASES[1]} overran its 1 s limit; going on without it" in out
    assert all(f"drain {i}/{n}: {PHASES[i - 1]} done in" in out for i in range(3, n + 1))
    assert out.rstrip().endswith("stopped (a drain phase did not finish); exit code 1")


def test_a_second_signal_stops_at_once(tmp_path: Path) -> None:
    job = tmp_path / "blocking.py"
    job.write_text(BLOCKING_JOB, encoding="utf-8")
    daemon = Daemon(["run", str(job), "--http", "off"], tmp_path)
    try:
        daemon.wait_for("batch is blocking")
        daemon.proc.send_signal(signal.SIGTERM)
        daemon.wait_for(f"drain 2/{len(PHASES) - 1}: {PHASES[1]} (limit 30 s)")
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.finish() == 128 + signal.SIGTERM
    finally:
        daemon.kill()
    assert "second signal (SIGTERM) during the stop: exiting at once" in daemon.output()


def test_a_failed_batch_stops_the_daemon_with_exit_1(tmp_path: Path) -> None:
    job = tmp_path / "failing.py"
    job.write_text("BATCH_SECONDS = 0.2\nMASTER = 'local'\n"
                   "def build(ssc, args):\n"
                   "    def fail(rdd):\n"
                   "        raise ValueError('bad record in the batch')\n"
                   "    ssc.queueStream([[1]]).foreachRDD(fail)\n", encoding="utf-8")
    daemon = Daemon(["run", str(job), "--http", "off"], tmp_path)
    try:
        assert daemon.finish() == 1
    finally:
        daemon.kill()
    out = daemon.output()
    assert "1 output operation(s) FAILED" in out
    assert "stopping (a batch failed: ValueError: bad record in the batch)" in out
    assert f"drain {len(PHASES) - 1}/{len(PHASES) - 1}: stop the executors done in" in out


def test_the_job_runs_standalone_too(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(QUEUE_JOB), "--stop-after", "2.5", "--http", "off", "--master", "local",
         "--checkpoint", str(tmp_path / "cp"), "--batches", "2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "window top: " in result.stdout and "distinct words so far: " in result.stdout
    assert "stopping (stop_after 2.5 s elapsed)" in result.stderr
    assert "stopped; exit code 0" in result.stderr
    help_text = subprocess.run([sys.executable, str(QUEUE_JOB), "--help"], cwd=ROOT,
                               capture_output=True, text=True, timeout=120)
    assert help_text.returncode == 0
    assert "--checkpoint DIR_OR_URL" in help_text.stdout and "--lines-per-batch" in help_text.stdout


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        result = subprocess.run([str(DSTREAM), "run", str(QUEUE_JOB), "--http", f"127.0.0.1:{port}"],
                                cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        f"ERROR   dstream.service: cannot serve HTTP on 127.0.0.1:{port}: Address already in use")


def test_daemon_stops_the_job_when_checkpoints_keep_failing(tmp_path: Path) -> None:
    """The checkpoint store breaks for real (its metadata folder becomes a file): past
    ``dstream.streaming.checkpoint.stopAfter`` of failing checkpoints the daemon stops the job
    with an error that names the store, the bound and the last error, and exits with 1."""
    checkpoints = tmp_path / "checkpoints"
    daemon = Daemon(["run", str(QUEUE_JOB), "--http", "off", "--batch-seconds", "0.2",
                     "--checkpoint", str(checkpoints),
                     "--conf", "dstream.streaming.checkpoint.stopAfter=2s",
                     "--conf", "dstream.streaming.checkpoint.maxRetryDelay=0.2s",
                     "--drain-timeout", "3", "--", "--batches", "3"], tmp_path)
    try:
        daemon.wait_for("started")
        daemon.wait_for("distinct words so far")      # a batch ran: its checkpoint follows
        metadata = checkpoints / "metadata"
        while not (metadata.is_dir() and any(metadata.iterdir())):
            daemon.next_line()                        # the next batch's line: still running
        (tmp_path / "away").mkdir()
        metadata.rename(tmp_path / "away" / "metadata")
        metadata.write_text("not a directory")
        line = daemon.wait_for("have failed for", timeout=120)
        assert f"checkpoints to {checkpoints}" in line and "stopAfter is 2 s" in line
        assert "last error:" in line and "repair the checkpoint store" in line
        assert daemon.finish(120) == 1, daemon.output()
    finally:
        daemon.kill()
