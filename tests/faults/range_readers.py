"""Shared by the direct-stream crash tests: which processes read a Kafka direct stream's offset
ranges, from the job's log, and the step that SIGKILLs one of those worker processes.

The jobs log with :data:`LOG_FORMAT` and the ``dstream.streaming.inputs.kafka_direct`` logger at INFO,
so each range read appears as a line naming the driver's process id and the reader's
(``... read by process PID on HOST``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from typing import Any, Callable

#: the logging format of the jobs, which :func:`reader_pids` parses
LOG_FORMAT = "%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"

READ_LINE = re.compile(r"^\S+ \S+ (\d+) dstream\.streaming\.inputs\.kafka_direct INFO .* read by process (\d+)", re.M)


def read_log(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def reader_pids(log_path: str) -> list[tuple[int, int]]:
    """``(driver pid, reader pid)`` of every range read the job logged."""
    return [(int(a), int(b)) for a, b in READ_LINE.findall(read_log(log_path))]


def kill_a_reader(proc: subprocess.Popen, log_path: str, log: Any, batches: Callable[[], int],
                  after: int = 4) -> int:
    """SIGKILL a worker process that read ranges for the running job ``proc`` (never the
    driver), note it in the job's ``log``, and wait until the job has completed ``after`` more
    batches (``batches()`` counts the completed ones), so the run goes on without it. Returns
    the killed process's id."""
    from tests.faults.test_kafka_recovery import wait_for    # a test module: not for the jobs

    workers = {r for d, r in reader_pids(log_path) if d == proc.pid and r != proc.pid}
    assert workers, read_log(log_path)[-4000:]
    victim = sorted(workers)[0]
    os.kill(victim, signal.SIGKILL)
    log.write(f"\n=== worker {victim} SIGKILLed ===\n".encode())
    log.flush()
    done = batches()
    wait_for(lambda: batches() >= done + after, 120, f"{after} batches after the worker was killed",
             proc, log_path)
    return victim
