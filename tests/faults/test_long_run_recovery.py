"""Crash and resume over long runs: a Kafka job and a socket job (receiver + write-ahead log)
are SIGKILLed three times in a row at random moments and restarted with getOrCreate, on the
disk store and on the Redis store; their running totals end exactly equal to what was sent.

Each run lasts at least 12 metadata checkpoints (6 s of 0.5 s batches) before its kill, so it
crosses at least 3 write-ahead log segments (1 s) and 3 state checkpoint intervals (1 s), and
blocks of its first batches are settled (the input remembers about 5 s); the
kill comes a seeded random number of checkpoints in, then a seeded random fraction of a batch
later (the seed and the moments are written in the job's log). After each recovery the test
waits for the recovered job's first metadata checkpoint, so that a recovery which stops
checkpointing (issue #17) fails here.

The socket source cannot replay what it sent, so the socket test sends in bursts and only
kills between bursts, once a burst is counted; Kafka keeps producing while the job runs and
is killed whenever the moment comes.
"""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests import servers

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORDS = [f"w{i}" for i in range(10)]
KILLS = 3


class JobRun:
    """One process of the job, with its own log file."""

    def __init__(self, args: list[str], log_path: str) -> None:
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.faults.wordcount_job", *args],
                                     cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT)

    def text(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def count(self, marker: str) -> int:
        return sum(1 for line in self.text().splitlines() if marker in line)

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.proc.poll() is not None:
                raise AssertionError(f"the job exited ({self.proc.returncode}) while waiting for "
                                     f"{what}:\n{self.text()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}:\n{self.text()[-4000:]}")
            time.sleep(0.05)   # polling another process's output: nothing to block on

    def note(self, text: str) -> None:
        self._log.write(f"=== {text} ===\n".encode())
        self._log.flush()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._log.close()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self._log.close()
        return code

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        if not self._log.closed:
            self._log.close()


def latest_totals(out_dir: str) -> dict[str, int]:
    files = sorted(f for f in os.listdir(out_dir) if f.startswith("totals-") and f.endswith(".json"))
    if not files:
        return {}
    with open(os.path.join(out_dir, files[-1]), encoding="utf-8") as f:
        return json.load(f)


def checkpoint_location(store: str, tmp_path: Any, redis_url: str) -> str:
    if store == "disk":
        return os.fspath(tmp_path / "checkpoint")
    return f"{redis_url}?prefix=long-run-{uuid.uuid4().hex[:8]}"


def run_until_killed(job: JobRun, run: int, rng: random.Random,
                     quiet: Callable[[], None] | None = None, checkpoints: tuple[int, int] = (12, 24)) -> None:
    """Wait for the recovery (after the first run), the first metadata checkpoint after it,
    then a random number of checkpoints (at least 12: 6 s), then kill at a random moment."""
    job.wait_for(lambda: job.count("started") == 1, "the job to start")
    if run > 0:
        job.wait_for(lambda: job.count("recovered from batch") == 1, f"recovery {run}")
    job.wait_for(lambda: job.count("checkpoint written") >= 1,
                 f"a metadata checkpoint after start {run + 1}")
    least = rng.randint(*checkpoints)
    job.wait_for(lambda: job.count("checkpoint written") >= least, f"{least} checkpoints in run {run + 1}")
    if quiet is not None:
        quiet()                                # the socket test: no burst in flight
    delay = rng.uniform(0, 0.5)
    time.sleep(delay)                          # the kill moment within a batch: random, not a sync
    job.note(f"SIGKILL {run + 1} after {least} checkpoints + {delay:.3f} s")
    job.kill()


def finish(job: JobRun, expected: dict[str, int], out_dir: str) -> None:
    total = sum(expected.values())
    job.wait_for(lambda: job.count("recovered from batch") == 1, "the last recovery")
    job.wait_for(lambda: sum(latest_totals(out_dir).values()) >= total, f"{total} words counted")
    job.wait_for(lambda: job.count("checkpoint written") >= 1, "a checkpoint after the last recovery")
    assert job.stop() == 0, job.text()[-4000:]
    assert latest_totals(out_dir) == expected


# ---------------------------------------------------------------------------------- Kafka
class Producer(threading.Thread):
    """Produces ``n`` random words at about ``rate`` per second, counting what it sent."""

    def __init__(self, bootstrap: str, topic: str, n: int, rng: random.Random, rate: float = 600) -> None:
        super().__init__(name="long-run-producer", daemon=True)
        self.words = [rng.choice(WORDS) for _ in range(n)]
        self.counts = collections.Counter(self.words)
        self._servers, self._topic, self._rate = bootstrap, topic, rate
        self.error: BaseException | None = None

    def run(self) -> None:
        from kafka import KafkaProducer

        try:
            producer = KafkaProducer(bootstrap_servers=self._servers, linger_ms=20)
            try:
                started = time.monotonic()
                for i, word in enumerate(self.words):
                    producer.send(self._topic, word.encode())
                    ahead = i / self._rate - (time.monotonic() - started)
                    if ahead > 0.05:
                        time.sleep(ahead)      # pacing the producer, not a synchronisation
                producer.flush()
            finally:
                producer.close()
        except BaseException as e:   # noqa: BLE001 - re-raised by the test thread
            self.error = e

    def done(self) -> collections.Counter[str]:
        self.join(120)
        assert not self.is_alive() and self.error is None, self.error
        return self.counts


@pytest.mark.slow
@pytest.mark.parametrize("store", ["disk", "redis"])
def test_kafka_job_killed_three_times_counts_every_record_once(store: str, apache_kafka_bootstrap: str,
                                                               redis_url: str, tmp_path: Any) -> None:
    seed = 20261204 + (store == "redis")
    rng = random.Random(seed)
    topic = servers.create_topic(apache_kafka_bootstrap, "long-run")
    out_dir = os.fspath(tmp_path / "out")
    os.makedirs(out_dir)
    args = ["kafka", apache_kafka_bootstrap, topic, checkpoint_location(store, tmp_path, redis_url), out_dir]
    expected: collections.Counter[str] = collections.Counter()
    for run in range(KILLS + 1):
        job = JobRun(args, os.fspath(tmp_path / f"job-{run}.log"))
        job.note(f"seed {seed}, run {run + 1}")
        producer = Producer(apache_kafka_bootstrap, topic, rng.randint(2000, 4000), rng, rate=300)
        try:
            producer.start()
            if run < KILLS:
                # a restarted consumer waits about 6 s for the killed one's session to expire
                run_until_killed(job, run, rng, checkpoints=(20, 32))
                expected += producer.done()
            else:
                expected += producer.done()
                finish(job, dict(expected), out_dir)
        finally:
            job.cleanup()
            if producer.is_alive():
                producer.join(120)


# ---------------------------------------------------------------------------------- socket
class Feeder:
    """A line server the job's socket receiver connects to (again after each restart); sends
    bursts of words to the newest connection, each once the previous one is counted."""

    def __init__(self, out_dir: str, rng: random.Random) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._out_dir, self._rng = out_dir, rng
        self._conn: socket.socket | None = None
        self._cond = threading.Condition()
        self.sent: collections.Counter[str] = collections.Counter()
        self._in_flight = False
        self._paused = False
        self._stopped = threading.Event()
        self.error: BaseException | None = None
        self._threads = [threading.Thread(target=self._accept, daemon=True),
                         threading.Thread(target=self._feed, daemon=True)]
        for thread in self._threads:
            thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            with self._cond:
                if self._conn is not None:
                    self._conn.close()
                self._conn = conn
                self._cond.notify_all()

    def _feed(self) -> None:
        try:
            while True:
                with self._cond:
                    self._cond.wait_for(lambda: self._stopped.is_set()
                                        or (self._conn is not None and not self._paused))
                    if self._stopped.is_set():
                        return
                    conn, self._in_flight = self._conn, True
                try:
                    burst = [self._rng.choice(WORDS) for _ in range(self._rng.randint(50, 300))]
                    conn.sendall("".join(f"{w}\n" for w in burst).encode())
                    self.sent.update(burst)
                    self.wait_counted()
                except OSError:            # the connection broke before the burst went out
                    pass
                finally:
                    with self._cond:
                        self._in_flight = False
                        self._cond.notify_all()
        except BaseException as e:   # noqa: BLE001 - reported by the test thread
            self.error = e

    def wait_counted(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        total = sum(self.sent.values())
        while sum(latest_totals(self._out_dir).values()) < total:
            if self._stopped.is_set():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{total} words sent were not counted within {timeout} s")
            time.sleep(0.05)   # polling the job's output files

    def quiet(self) -> None:
        """Hold the bursts: returns once no burst is in flight (all sent is counted)."""
        with self._cond:
            self._paused = True
            assert self._cond.wait_for(lambda: not self._in_flight, 180), "a burst never got counted"
        assert self.error is None, self.error

    def resume(self) -> None:
        with self._cond:
            if self._conn is not None:
                self._conn.close()     # the killed job's connection is dead
            self._conn = None
            self._paused = False
            self._cond.notify_all()

    def close(self) -> None:
        self._stopped.set()
        self._server.close()
        with self._cond:
            if self._conn is not None:
                self._conn.close()
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(30)


@pytest.mark.slow
@pytest.mark.parametrize("store", ["disk", "redis"])
def test_socket_job_killed_three_times_counts_every_record_once(store: str, redis_url: str,
                                                                tmp_path: Any) -> None:
    seed = 20261205 + (store == "redis")
    rng = random.Random(seed)
    out_dir = os.fspath(tmp_path / "out")
    os.makedirs(out_dir)
    feeder = Feeder(out_dir, random.Random(seed + 1))
    args = ["socket", str(feeder.port), checkpoint_location(store, tmp_path, redis_url), out_dir]
    try:
        for run in range(KILLS + 1):
            job = JobRun(args, os.fspath(tmp_path / f"job-{run}.log"))
            job.note(f"seed {seed}, run {run + 1}")
            try:
                if run < KILLS:
                    run_until_killed(job, run, rng, quiet=feeder.quiet)
                    feeder.resume()
                else:
                    job.wait_for(lambda: job.count("checkpoint written") >= 8, "8 checkpoints")
                    feeder.quiet()
                    assert feeder.error is None, feeder.error
                    finish(job, dict(feeder.sent), out_dir)
            finally:
                job.cleanup()
    finally:
        feeder.close()
    assert sum(feeder.sent.values()) > 0
