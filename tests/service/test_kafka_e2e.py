"""End to end: `dstream run jobs/wordcount_kafka.py` as a real subprocess against a real
Kafka-protocol broker, watched through its own HTTP API, metrics, log and output files.

Each test makes a fresh 3-partition topic and consumer group, produces a known multiset of
words, and checks that every record the broker holds reaches the statistics, the batches,
the metrics and the running totals exactly once: while running, through the SIGTERM drain,
and across a restart on the same checkpoint with records produced while the daemon was down.

Nothing sleeps to synchronise: the tests poll the daemon's HTTP endpoints (another process)
with a deadline, and read its output files and log once it has said the records are in.
"""

from __future__ import annotations

import collections
import json
import random
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests import servers

from .conftest import DSTREAM, PHASES, ROOT

KAFKA_JOB = ROOT / "jobs" / "wordcount_kafka.py"
TOP = 10                      # the job's default --top
WAIT_S = 45.0
# The daemon runs with its working directory in tmp_path, so nothing there may be named like one
# of the project's packages (a folder "checkpoint" there shadows the package in the worker
# processes, which `python -m` starts with the working directory first on sys.path).
BATCH_LINE = re.compile(r"dstream\.service: batch \S+ \S+: (\d+) records")


# ---------------------------------------------------------------------------- Kafka side
def create_topic(bootstrap: str) -> str:
    return servers.create_topic(bootstrap, "e2e")


def make_lines(counts: dict[str, int], seed: int) -> list[str]:
    """Exactly the words of ``counts``, shuffled into lines of one to four words."""
    rng = random.Random(seed)
    words = [w for w, c in counts.items() for _ in range(c)]
    rng.shuffle(words)
    lines, i = [], 0
    while i < len(words):
        n = rng.randint(1, 4)
        lines.append(" ".join(words[i:i + n]))
        i += n
    return lines


def produce(bootstrap: str, topic: str, lines: list[str]) -> None:
    """One record per line, spread over the three partitions, all acknowledged."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=10)
    try:
        futures = [producer.send(topic, line.encode(), partition=i % 3) for i, line in enumerate(lines)]
        producer.flush(30)
        for future in futures:
            future.get(30)
    finally:
        producer.close()


def top_of(counts: collections.Counter[str]) -> list[list[Any]]:
    """What the job writes for ``counts``: the ``TOP`` most frequent, ties by word."""
    return [[w, c] for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]]


# ---------------------------------------------------------------------------- the daemon
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """`dstream run jobs/wordcount_kafka.py` in a subprocess, its output in a log file."""

    def __init__(self, tmp_path: Path, name: str, *, bootstrap: str, topic: str, group: str,
                 checkpoint: Path, output: Path) -> None:
        assert DSTREAM.exists(), f"the dstream console script is missing at {DSTREAM}: pip install -e ."
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.output_dir = output
        self.log_path = tmp_path / f"{name}.log"
        argv = [str(DSTREAM), "run", str(KAFKA_JOB), "--http", f"127.0.0.1:{self.port}",
                "--checkpoint", str(checkpoint), "--master", "local[2]", "--batch-seconds", "0.5",
                "--", "--bootstrap-servers", bootstrap, "--topic", topic, "--group-id", group,
                "--output", str(output), "--session-timeout-ms", "6000"]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def _fail(self, what: str) -> AssertionError:
        return AssertionError(f"{what}; the daemon's log (last 6000 characters):\n{self.log()[-6000:]}")

    def request(self, path: str) -> tuple[int, bytes] | None:
        """(status, body) of GET ``path``; None while nothing answers on the port yet."""
        try:
            with urllib.request.urlopen(self.base + path, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            with e:
                return e.code, e.read()
        except (urllib.error.URLError, ConnectionError):
            return None

    def get(self, path: str) -> Any:
        answer = self.request(path)
        if answer is None or answer[0] != 200:
            raise self._fail(f"GET {path} answered {answer!r}")
        return json.loads(answer[1])

    def metrics(self) -> dict[str, float]:
        answer = self.request("/metrics")
        if answer is None or answer[0] != 200:
            raise self._fail(f"GET /metrics answered {answer!r}")
        return {sample.name + (json.dumps(sample.labels, sort_keys=True) if sample.labels else ""):
                sample.value
                for family in text_string_to_metric_families(answer[1].decode())
                for sample in family.samples}

    def wait_until(self, condition: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
        """Poll ``condition`` (which reads this process's HTTP API or files) until it is truthy."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise self._fail(f"the daemon exited ({self.proc.returncode}) while waiting for {what}")
            if "dstream.service: stopping (" in self.log():
                raise self._fail(f"the daemon began to stop on its own while waiting for {what}")
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise self._fail(f"timed out after {timeout:g} s waiting for {what}")
            time.sleep(0.1)   # polling another process: there is nothing to block on

    def wait_ready(self) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            answer = self.request("/readyz")
            if answer is None:
                return None
            status, body = answer[0], json.loads(answer[1])
            assert status in (200, 503) and body["ready"] is (status == 200), (status, body)
            return body if status == 200 else None
        return self.wait_until(ready, "/readyz to answer 200")

    def wait_processed(self, records: int) -> dict[str, Any]:
        """Wait until the statistics say ``records`` were received and processed; never more."""
        def done() -> dict[str, Any] | None:
            stats = self.get("/api/v1/streaming/statistics")
            assert stats["numReceivedRecords"] <= records, (stats, records)
            ok = stats["numReceivedRecords"] == stats["numProcessedRecords"] == records
            return stats if ok else None
        return self.wait_until(done, f"{records} records received and processed")

    def newest_result(self) -> dict[str, Any]:
        files = sorted(p for p in self.output_dir.glob("*.json"))
        assert files, self._fail(f"no result files in {self.output_dir}")
        return json.loads(files[-1].read_text(encoding="utf-8"))

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        except subprocess.TimeoutExpired:
            raise self._fail("no exit within 60 s of SIGTERM") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)


#: kafka-python's own close race (its transport reads a socket its close just cleared, after the
#: consumer left its group): logged with a traceback, harmless; dpkp/kafka-python#3097, #2995
_KAFKA_CLOSE_RACE = re.compile(
    r"^\S+ \S+ ERROR +kafka\.net\.transport: .*Error receiving network data closing socket\n"
    r"Traceback \(most recent call last\):\n(?: .*\n)*?"
    r"AttributeError: 'NoneType' object has no attribute 'recv'\n", re.MULTILINE)


def assert_drained_cleanly(log: str) -> None:
    log = _KAFKA_CLOSE_RACE.sub("", log)
    assert "stopping (received SIGTERM): graceful drain" in log, log[-4000:]
    for number, phase in enumerate(PHASES, 1):
        assert f"drain {number}/{len(PHASES)}: {phase} (limit 30 s)" in log
        assert f"drain {number}/{len(PHASES)}: {phase} done in" in log
    assert log.rstrip().endswith("stopped; exit code 0"), log[-4000:]
    assert "FAILED" not in log and "Traceback" not in log, log[-4000:]


def logged_records(log: str) -> int:
    """Records of every batch the daemon logged (one line per completed batch)."""
    return sum(int(n) for n in BATCH_LINE.findall(log))


# ---------------------------------------------------------------------------- tests
def test_kafka_wordcount_daemon_counts_every_record_and_drains_on_sigterm(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = create_topic(kafka_bootstrap)
    counts = collections.Counter({f"word{i:02d}": 13 * (12 - i) + 5 * (i % 3) for i in range(12)})
    lines = make_lines(counts, seed=1)
    produce(kafka_bootstrap, topic, lines)
    daemon = Daemon(tmp_path, "daemon", bootstrap=kafka_bootstrap, topic=topic,
                    group=f"g-{uuid.uuid4().hex[:8]}", checkpoint=tmp_path / "checkpoints",
                    output=tmp_path / "out")
    try:
        ready = daemon.wait_ready()
        assert ready["state"] == "ACTIVE" and ready["numTotalCompletedBatches"] >= 1
        stats = daemon.wait_processed(len(lines))
        assert stats["batchDuration"] == 500 and stats["numActiveReceivers"] == stats["numReceivers"] == 1

        batches = daemon.get("/api/v1/streaming/batches")
        after = daemon.get("/api/v1/streaming/statistics")
        completed = [b for b in batches if b["status"] == "COMPLETED"]
        assert after["numRetainedCompletedBatches"] == after["numTotalCompletedBatches"]  # none dropped
        assert sum(b["inputSize"] for b in batches) == len(lines)
        assert all(b["numTotalOutputOps"] == 2 and b["numFailedOutputOps"] == 0 for b in completed)
        assert stats["numTotalCompletedBatches"] <= len(completed) <= after["numTotalCompletedBatches"]
        receivers = daemon.get("/api/v1/streaming/receivers")
        assert [(r["streamId"], r["isActive"]) for r in receivers] == [(0, True)]

        metrics = daemon.metrics()
        latest = daemon.get("/api/v1/streaming/statistics")
        assert metrics["dstream_input_records_total"] == len(lines)
        assert metrics["dstream_processed_records_total"] == len(lines)
        assert metrics["dstream_batches_failed_total"] == 0
        assert (after["numTotalCompletedBatches"] <= metrics["dstream_batches_completed_total"]
                <= latest["numTotalCompletedBatches"])
        assert 1 <= metrics["dstream_batch_processing_time_seconds_count"] <= latest["numTotalCompletedBatches"]
        assert metrics['dstream_receiver_up{"name": "KafkaReceiver-0", "stream_id": "0"}'] == 1

        result = daemon.newest_result()      # the batch that completed the count wrote its file
        assert result["totals_top"] == top_of(counts)
        assert result["window_top"] == top_of(counts)       # everything is inside the 30 s window

        assert daemon.stop() == 0, daemon.log()[-6000:]
    finally:
        daemon.kill()
    log = daemon.log()
    assert_drained_cleanly(log)
    assert logged_records(log) == len(lines)              # through the drain too: nothing more
    assert daemon.newest_result()["totals_top"] == top_of(counts)


def test_kafka_wordcount_daemon_resumes_exact_totals_after_a_restart(
        apache_kafka_bootstrap: str, tmp_path: Path) -> None:
    topic, group = create_topic(apache_kafka_bootstrap), f"g-{uuid.uuid4().hex[:8]}"
    rounds = [collections.Counter({f"word{i:02d}": 9 * (12 - i) + 2 for i in range(12)}),
              # reversed ranks: the totals' leaders change only when both runs are summed
              collections.Counter({f"word{i:02d}": 11 * i + 3 for i in range(12)}),
              collections.Counter({"word05": 40, "word06": 25, "late": 30})]
    lines = [make_lines(counts, seed=n) for n, counts in enumerate(rounds, 10)]
    common: dict[str, Any] = {"bootstrap": apache_kafka_bootstrap, "topic": topic, "group": group,
                              "checkpoint": tmp_path / "checkpoints", "output": tmp_path / "out"}

    produce(apache_kafka_bootstrap, topic, lines[0])
    first = Daemon(tmp_path, "first", **common)
    try:
        first.wait_ready()
        first.wait_processed(len(lines[0]))
        assert first.newest_result()["totals_top"] == top_of(rounds[0])
        assert first.stop() == 0, first.log()[-6000:]
    finally:
        first.kill()
    assert_drained_cleanly(first.log())
    assert logged_records(first.log()) == len(lines[0])

    produce(apache_kafka_bootstrap, topic, lines[1])            # while the daemon is down
    second = Daemon(tmp_path, "second", **common)
    try:
        second.wait_ready()
        # this process sees only what arrived since: nothing of the first run is read again
        second.wait_processed(len(lines[1]))
        assert second.newest_result()["totals_top"] == top_of(rounds[0] + rounds[1])
        produce(apache_kafka_bootstrap, topic, lines[2])         # and it goes on live
        second.wait_processed(len(lines[1]) + len(lines[2]))
        assert second.newest_result()["totals_top"] == top_of(rounds[0] + rounds[1] + rounds[2])
        batches = second.get("/api/v1/streaming/batches")
        assert sum(b["inputSize"] for b in batches) == len(lines[1]) + len(lines[2])
        assert second.stop() == 0, second.log()[-6000:]
    finally:
        second.kill()
    log = second.log()
    assert "dstream.streaming.recovery: recovering from the checkpoint of batch" in log
    # a first run this short wrote no data checkpoint: the state comes back from its blocks
    assert "batches' block allocations restored" in log
    assert_drained_cleanly(log)
    assert logged_records(log) == len(lines[1]) + len(lines[2])
    assert second.newest_result()["totals_top"] == top_of(rounds[0] + rounds[1] + rounds[2])


def test_kafka_wordcount_daemon_exits_1_at_once_when_its_topic_does_not_exist(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    topic = f"never-created-{uuid.uuid4().hex[:8]}"
    daemon = Daemon(tmp_path, "missing", bootstrap=kafka_bootstrap, topic=topic,
                    group=f"g-{uuid.uuid4().hex[:8]}", checkpoint=tmp_path / "checkpoints",
                    output=tmp_path / "out")
    try:
        code = daemon.proc.wait(WAIT_S)     # no restart loop: the configuration error ends it
    except subprocess.TimeoutExpired:
        raise daemon._fail(f"still running {WAIT_S:g} s after start with a missing topic") from None
    finally:
        daemon.kill()
    log = daemon.log()
    assert code == 1, log[-4000:]
    assert (f"stopping (the streaming context stopped: KafkaReceiverConfigError: KafkaReceiver-0: "
            f"Kafka topic(s) [{topic!r}] not found") in log, log[-4000:]
    assert "restart_in_s" not in log and log.rstrip().endswith("exit code 1"), log[-4000:]
