"""What the streaming benchmark runners share: the job subprocess, its report, memory sampling,
percentiles and tables.

>>> percentile([1, 2, 3, 4], 50), percentile([5], 99), percentile([], 50) is None
(2.5, 5, True)
>>> print(table(["a", "bb"], [[1, "x"], [22, "yy"]]))
a   bb
--  --
1   x
22  yy
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import psutil

__all__ = [
    "REPO",
    "JobProcess",
    "MemorySampler",
    "cpu_shares",
    "median",
    "mib",
    "percentile",
    "table",
    "tree_cpu_seconds",
]

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIB = 1 << 20


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear-interpolated percentile (``p`` in 0..100), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def mib(n: float | None) -> str:
    return "-" if n is None else f"{n / MIB:,.0f}"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain text table, columns left-aligned."""
    cells = [[str(h) for h in header]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def tree_cpu_seconds(pid: int) -> dict[int, tuple[str, float]]:
    """CPU seconds (user + system) so far of a process and each descendant: pid -> (role, s).
    The role is "driver" for ``pid`` itself, else the child's command name."""
    out: dict[int, tuple[str, float]] = {}
    try:
        root = psutil.Process(pid)
        procs = [root] + root.children(recursive=True)
    except psutil.Error:
        return out
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            role = "driver" if proc.pid == pid else _role(proc)
            out[proc.pid] = (role, t.user + t.system)
    return out


def _role(proc: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        cmd = proc.cmdline()
        if any("dstream.executors.worker" in c for c in cmd):
            return "worker"
        if cmd and cmd[0].endswith("java"):
            return "jvm"
        if any("pyspark" in c for c in cmd):
            return "python worker"
        return os.path.basename(cmd[0]) if cmd else proc.name()
    return "?"


def cpu_shares(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]],
               seconds: float) -> dict[str, float]:
    """CPU used between two ``tree_cpu_seconds`` snapshots, per role, in cores (1.0 = one core)."""
    shares: dict[str, float] = {}
    for pid, (role, cpu) in after.items():
        used = cpu - before.get(pid, (role, 0.0))[1]
        shares[role] = shares.get(role, 0.0) + used / seconds
    return shares


class MemorySampler:
    """Samples the PSS (proportional set size) of a process and all its descendants, summed,
    every ``interval`` seconds in a thread; keeps the peak and the series."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self._pid = pid
        self._interval = interval
        self._stop = threading.Event()
        self.peak_pss = 0
        self.peak_rss = 0
        self.peak_processes = 0
        self.series: list[tuple[float, int]] = []     # (wall time, PSS bytes)
        #: per role ("driver", "worker", "jvm", ...): the peak of that role's summed PSS
        self.peak_by_role: dict[str, int] = {}
        #: per role: that role's summed RSS in the last sample
        self.rss_by_role: dict[str, int] = {}
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def start(self) -> MemorySampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def sample(self) -> tuple[int, int, int] | None:
        try:
            root = psutil.Process(self._pid)
            procs = [root] + root.children(recursive=True)
        except psutil.Error:
            return None
        pss = rss = 0
        roles: dict[str, int] = {}
        rss_by_role: dict[str, int] = {}
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                info = proc.memory_full_info()
                pss += info.pss
                rss += info.rss
                role = "driver" if proc.pid == self._pid else _role(proc)
                roles[role] = roles.get(role, 0) + info.pss
                rss_by_role[role] = rss_by_role.get(role, 0) + info.rss
        for role, value in roles.items():
            self.peak_by_role[role] = max(self.peak_by_role.get(role, 0), value)
        self.rss_by_role = rss_by_role
        return pss, rss, len(procs)

    def peak_since(self, wall: float) -> int | None:
        values = [p for t, p in self.series if t >= wall]
        return max(values) if values else None

    def _run(self) -> None:
        while not self._stop.is_set():
            sampled = self.sample()
            if sampled is not None:
                pss, rss, n = sampled
                self.series.append((time.time(), pss))
                self.peak_pss = max(self.peak_pss, pss)
                self.peak_rss = max(self.peak_rss, rss)
                self.peak_processes = max(self.peak_processes, n)
            self._stop.wait(self._interval)


class JobProcess:
    """``python -m benchmarks.jobs.wordcount_job`` in a subprocess, with its report file.

    ``repo``: the checkout whose job file and engine run (another one for a before/after
    comparison). ``launched_at`` is the wall time just before the subprocess was created."""

    def __init__(self, port: int, *, engine: str = "dstream", extra: Sequence[str] = (),
                 sample_memory: bool = True, log_path: str | None = None,
                 repo: str = REPO) -> None:
        self._dir = tempfile.mkdtemp(prefix="wordcount-job-")
        self.report_path = os.path.join(self._dir, "report.jsonl")
        self.checkpoint = os.path.join(self._dir, "checkpoint")
        self.log_path = log_path or os.path.join(self._dir, "job.log")
        argv = [sys.executable, "-m", "benchmarks.jobs.wordcount_job", "--engine", engine,
                "--port", str(port), "--report", self.report_path, "--checkpoint", self.checkpoint,
                *extra]
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([repo, *filter(None, [env.get("PYTHONPATH")])])
        env.setdefault("PYSPARK_PYTHON", sys.executable)
        self._log = open(self.log_path, "wb")
        self.launched_at = time.time()
        self.process = subprocess.Popen(argv, cwd=repo, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self.memory = MemorySampler(self.process.pid).start() if sample_memory else None
        self._read_offset = 0
        self.events: list[dict[str, Any]] = []

    @property
    def pid(self) -> int:
        return self.process.pid

    def poll_events(self) -> list[dict[str, Any]]:
        """Events appended to the report since the last call (all are kept in ``events``)."""
        if not os.path.exists(self.report_path):
            return []
        with open(self.report_path, encoding="utf-8") as f:
            f.seek(self._read_offset)
            data = f.read()
        complete = data[:data.rfind("\n") + 1]
        self._read_offset += len(complete.encode())
        new = [json.loads(line) for line in complete.splitlines() if line]
        self.events.extend(new)
        return new

    def batches(self) -> list[dict[str, Any]]:
        self.poll_events()
        return [e for e in self.events if e["event"] == "batch"]

    def event(self, name: str) -> dict[str, Any] | None:
        self.poll_events()
        return next((e for e in self.events if e["event"] == name), None)

    def wait_for(self, predicate: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.poll_events()
            if predicate(self):
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"the job exited ({self.process.returncode}) before {what}; "
                                   f"its log:\n{self.log_tail()}")
            time.sleep(0.05)
        raise TimeoutError(f"{what} did not happen within {timeout} s; job log:\n{self.log_tail()}")

    def log_tail(self, n: int = 4000) -> str:
        with contextlib.suppress(OSError), open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-n:]
        return ""

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM (the job stops its context), then SIGKILL of the whole group if needed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.memory is not None:
            self.memory.stop()
        self.poll_events()
        self._log.close()

    def cleanup(self) -> None:
        shutil.rmtree(self._dir, ignore_errors=True)
