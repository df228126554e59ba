"""Crash and resume of a Kafka direct stream on Apache Kafka: the job (direct stream ->
running totals -> a file per batch) is SIGKILLed three times while records are produced and
restarted with getOrCreate; its running totals end equal to a count made from the input topic.
On ``dask-local[3]`` a worker that read offset ranges is SIGKILLed too, and the job's log
shows that the ranges were read by the worker processes, never by the driver.

Kill moments are drawn from the batches the job has completed (a seeded choice of how many
batch files to wait for), so the test waits on what the job wrote, never on a timer.
"""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import threading
from typing import Any

import pytest

from tests import servers
from tests.faults.range_readers import kill_a_reader, read_log, reader_pids
from tests.faults.test_kafka_recovery import REPO, WORDS, batch_files, latest_totals, wait_for


def start_job(master: str, bootstrap: str, topic: str, checkpoint: str, out_dir: str,
              log: Any) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults.kafka_direct_job", master, bootstrap, topic, checkpoint,
         out_dir], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


class Producer(threading.Thread):
    """Produces words to the topic in small bursts until stopped."""

    def __init__(self, bootstrap: str, topic: str, seed: int) -> None:
        super().__init__(name="test-producer", daemon=True)
        self.bootstrap, self.topic = bootstrap, topic
        self.rng = random.Random(seed)
        self.halt = threading.Event()
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=20)
        try:
            while not self.halt.is_set():
                for _ in range(100):
                    producer.send(self.topic, self.rng.choice(WORDS).encode())
                producer.flush()
                self.sent += 100
                self.halt.wait(0.2)       # a steady feed (at most 500 records/s), not synchronisation
        except BaseException as e:       # reported by the test
            self.error = e
        finally:
            producer.close()


def count_topic(bootstrap: str, topic: str, partitions: int) -> dict[str, int]:
    """The words of the whole topic, read with kafka-python up to its end offsets."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        counts: collections.Counter[str] = collections.Counter()
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for records in consumer.poll(timeout_ms=1000).values():
                counts.update(r.value.decode() for r in records)
        return dict(counts)
    finally:
        consumer.close()


def run_crashes(master: str, bootstrap: str, tmp_path: Any, seed: int,
                kill_worker: bool = False) -> tuple[str, dict[str, int]]:
    rng = random.Random(seed)
    topic = servers.create_topic(bootstrap, "direct-fault", 3)
    out_dir = os.fspath(tmp_path / "out")
    os.makedirs(out_dir)
    checkpoint = os.fspath(tmp_path / "checkpoint")
    log_path = os.fspath(tmp_path / "job.log")
    producer = Producer(bootstrap, topic, seed)
    producer.start()
    proc: subprocess.Popen | None = None
    try:
        with open(log_path, "ab") as log:
            for crash in range(3):
                before = len(batch_files(out_dir, "totals"))
                proc = start_job(master, bootstrap, topic, checkpoint, out_dir, log)
                wait = rng.randint(3, 8)
                wait_for(lambda: len(batch_files(out_dir, "totals")) >= before + wait, 120,
                         f"{wait} batches before crash {crash + 1}", proc, log_path)
                if kill_worker and crash == 0:
                    kill_a_reader(proc, log_path, log, lambda: len(batch_files(out_dir, "totals")))
                proc.send_signal(signal.SIGKILL)
                proc.wait(30)
                log.write(f"\n=== SIGKILL {crash + 1} after {wait} batches ===\n".encode())
                log.flush()
            producer.halt.set()
            producer.join(30)
            assert producer.error is None, producer.error
            expected = count_topic(bootstrap, topic, 3)
            assert sum(expected.values()) == producer.sent
            proc = start_job(master, bootstrap, topic, checkpoint, out_dir, log)
            total = sum(expected.values())
            wait_for(lambda: sum(latest_totals(out_dir).values()) >= total, 180,
                     f"{total} words counted", proc, log_path)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0, read_log(log_path)[-4000:]
    finally:
        producer.halt.set()
        producer.join(30)
        if proc is not None and proc.poll() is None:     # a failed wait: leave no job behind
            proc.kill()
            proc.wait(30)
    return log_path, expected


@pytest.mark.slow
def test_sigkilled_direct_job_resumes_with_totals_equal_to_the_topic(
        apache_kafka_bootstrap: str, tmp_path: Any) -> None:
    log_path, expected = run_crashes("local[2]", apache_kafka_bootstrap, tmp_path, 20261204)
    out_dir = os.fspath(tmp_path / "out")
    assert latest_totals(out_dir) == expected
    reads = reader_pids(log_path)
    assert reads and all(reader != driver for driver, reader in reads)


@pytest.mark.slow
def test_sigkilled_direct_job_and_worker_on_dask_resume_with_exact_totals(
        apache_kafka_bootstrap: str, tmp_path: Any) -> None:
    log_path, expected = run_crashes("dask-local[3]", apache_kafka_bootstrap, tmp_path, 20261205,
                                     kill_worker=True)
    out_dir = os.fspath(tmp_path / "out")
    assert latest_totals(out_dir) == expected
    reads = reader_pids(log_path)
    assert reads and all(reader != driver for driver, reader in reads)
    assert len({reader for _, reader in reads}) >= 3      # several workers, a replacement included
