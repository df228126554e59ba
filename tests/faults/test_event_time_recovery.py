"""Crash and resume in the middle of open sessions: the event-time session job is SIGKILLed
while sessions are open (its state saved every second batch, so kills fall before and after
a state checkpoint), files keep arriving while it is down, and it is restarted with
getOrCreate. Every session is emitted exactly once, with exactly its records.

Event times are chosen so that no record is late whatever the batches (file ``i`` holds times
in ``[10 i, 10 i + 10)``, the out-of-orderness bound is 10 s); the last file's far-future
record closes every session.
"""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import subprocess
import sys
from typing import Any

from tests.faults.test_kafka_recovery import REPO, batch_files, wait_for

KEYS = [f"k{i}" for i in range(5)]
GAP = 3.0


def write_file(input_dir: str, i: int, rng: random.Random) -> list[tuple[str, float]]:
    """File ``i``: records at times in ``[10 i, 10 i + 10)`` seconds, shuffled."""
    records = [(rng.choice(KEYS), 10 * i + rng.randrange(0, 100) / 10) for _ in range(rng.randint(5, 25))]
    rng.shuffle(records)
    tmp = os.path.join(input_dir, f".part-{i:04d}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.writelines(f"{k} {t}\n" for k, t in records)
    os.replace(tmp, os.path.join(input_dir, f"part-{i:04d}"))    # names starting with "." are ignored
    return records


def reference(records: list[tuple[str, float]]) -> collections.Counter:
    by_key: dict[str, list[float]] = collections.defaultdict(list)
    for k, t in records:
        by_key[k].append(t)
    sessions: collections.Counter = collections.Counter()
    for k, times in by_key.items():
        times.sort()
        first = last = times[0]
        n = 1
        for t in times[1:]:
            if t - last < GAP:
                last, n = t, n + 1
            else:
                sessions[(k, first, last + GAP, n)] += 1
                first = last = t
                n = 1
        sessions[(k, first, last + GAP, n)] += 1
    return sessions


def emitted(out_dir: str) -> collections.Counter:
    found: collections.Counter = collections.Counter()
    for name in batch_files(out_dir, "sessions"):
        with open(os.path.join(out_dir, name), encoding="utf-8") as f:
            for k, s, e, n in json.load(f)["rows"]:
                found[(k, round(s, 3), round(e, 3), n)] += 1
    return found


def start(input_dir: str, checkpoint: str, out_dir: str, log: Any) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.faults.event_sessions_job", input_dir,
                             checkpoint, out_dir], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


def test_sigkill_in_the_middle_of_open_sessions_loses_and_doubles_nothing(tmp_path: Any) -> None:
    rng = random.Random(20261204)
    input_dir, out_dir = os.fspath(tmp_path / "in"), os.fspath(tmp_path / "out")
    checkpoint, log_path = os.fspath(tmp_path / "checkpoint"), os.fspath(tmp_path / "job.log")
    os.makedirs(input_dir)
    os.makedirs(out_dir)
    records: list[tuple[str, float]] = []
    procs: list[subprocess.Popen] = []
    files = 0
    with open(log_path, "ab") as log:
        try:
            for crash in range(3):
                proc = start(input_dir, checkpoint, out_dir, log)
                procs.append(proc)
                running = len(batch_files(out_dir, "sessions")) + 1   # files older than the
                wait_for(lambda: len(batch_files(out_dir, "sessions")) >= running, 90,   # start
                         "the job to run", proc, log_path)              # are never read
                for _ in range(rng.randint(2, 5)):
                    records += write_file(input_dir, files, rng)
                    files += 1
                    target = len(batch_files(out_dir, "sessions")) + rng.randint(1, 3)
                    wait_for(lambda: len(batch_files(out_dir, "sessions")) >= target, 90,
                             "batches after a file", proc, log_path)
                proc.send_signal(signal.SIGKILL)
                proc.wait(30)
                log.write(f"\n=== SIGKILL {crash + 1} ===\n".encode())
                log.flush()
                records += write_file(input_dir, files, rng)        # arrives while it is down
                files += 1
            proc = start(input_dir, checkpoint, out_dir, log)
            procs.append(proc)
            with open(os.path.join(input_dir, "part-9999"), "w", encoding="utf-8") as f:
                f.write("flush 100000\n")
            expected = reference(records)
            wait_for(lambda: sum(emitted(out_dir).values()) >= sum(expected.values()), 120,
                     f"{sum(expected.values())} sessions", proc, log_path)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0, open(log_path, encoding="utf-8", errors="replace").read()[-4000:]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait(30)
    assert len(records) > 100
    assert emitted(out_dir) == {(k, round(s, 3), round(e, 3), n): c for (k, s, e, n), c in expected.items()}
