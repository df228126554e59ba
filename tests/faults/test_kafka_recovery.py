"""Crash and resume: the Kafka word-count job is killed with SIGKILL at random moments,
several times, and restarted with getOrCreate; its running totals end exactly equal to what
was produced, on the disk store and on the Redis store.

Kill moments are drawn from the batches the job has completed (a seeded choice of how many
batch files to wait for), so the test waits on what the job wrote, never on a timer.
"""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest

from tests import servers

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORDS = [f"w{i}" for i in range(10)]


def produce(bootstrap: str, topic: str, n: int, rng: random.Random) -> collections.Counter[str]:
    from kafka import KafkaProducer

    counts: collections.Counter[str] = collections.Counter()
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    try:
        for _ in range(n):
            word = rng.choice(WORDS)
            counts[word] += 1
            producer.send(topic, word.encode())
        producer.flush()
    finally:
        producer.close()
    return counts


def create_topic(bootstrap: str) -> str:
    return servers.create_topic(bootstrap, "fault")


def start_job(bootstrap: str, topic: str, checkpoint: str, out_dir: str, log: Any) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults.kafka_wordcount_job", bootstrap, topic, checkpoint, out_dir],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


def batch_files(out_dir: str, name: str) -> list[str]:
    return sorted(f for f in os.listdir(out_dir) if f.startswith(name + "-") and f.endswith(".json"))


def wait_for(condition: Any, timeout: float, what: str, proc: subprocess.Popen, log_path: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"the job exited ({proc.returncode}) while waiting for {what}:\n"
                                 + open(log_path, encoding="utf-8", errors="replace").read()[-4000:])
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n"
                                 + open(log_path, encoding="utf-8", errors="replace").read()[-4000:])
        time.sleep(0.05)   # polling another process's files: there is nothing to block on


def latest_totals(out_dir: str) -> dict[str, int]:
    files = batch_files(out_dir, "totals")
    if not files:
        return {}
    with open(os.path.join(out_dir, files[-1]), encoding="utf-8") as f:
        return json.load(f)


@pytest.mark.slow
@pytest.mark.parametrize("store", ["disk", "redis"])
def test_sigkilled_job_resumes_with_exact_totals(store: str, apache_kafka_bootstrap: str, redis_url: str,
                                                 tmp_path: Any) -> None:
    rng = random.Random(20261122 + (store == "redis"))
    topic = create_topic(apache_kafka_bootstrap)
    out_dir = os.fspath(tmp_path / "out")
    os.makedirs(out_dir)
    checkpoint = (os.fspath(tmp_path / "checkpoint") if store == "disk"
                  else f"{redis_url}?prefix=fault-{uuid.uuid4().hex[:8]}")
    log_path = os.fspath(tmp_path / "job.log")
    produced: collections.Counter[str] = collections.Counter()
    with open(log_path, "ab") as log:
        for crash in range(3):
            produced += produce(apache_kafka_bootstrap, topic, 3000, rng)
            before = len(batch_files(out_dir, "totals"))
            proc = start_job(apache_kafka_bootstrap, topic, checkpoint, out_dir, log)
            wait = rng.randint(2, 8)
            wait_for(lambda: len(batch_files(out_dir, "totals")) >= before + wait, 90,
                     f"{wait} batches before crash {crash + 1}", proc, log_path)
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            log.write(f"\n=== SIGKILL {crash + 1} after {wait} batches ===\n".encode())
            log.flush()
        produced += produce(apache_kafka_bootstrap, topic, 3000, rng)
        proc = start_job(apache_kafka_bootstrap, topic, checkpoint, out_dir, log)
        expected = dict(produced)
        total = sum(expected.values())
        wait_for(lambda: sum(latest_totals(out_dir).values()) >= total, 120,
                 f"{total} words counted", proc, log_path)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, open(log_path, encoding="utf-8", errors="replace").read()[-4000:]
    assert latest_totals(out_dir) == expected
