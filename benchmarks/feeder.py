"""A TCP text feeder for the streaming benchmarks: seeded lines at a paced rate.

A server on 127.0.0.1 (a free port) sends newline-terminated lines of seeded pseudo-random
text (``textgen.LineGenerator``: ~10 words a line from a Zipf-like vocabulary of 10,000
words) to the client that connects. The lines are generated once into a pool that is cycled,
so the feeder costs little CPU. Its schedule is one or more steps of ``rate`` lines/s for
``seconds`` each (rate 0: as fast as the reader takes them); pacing is per 10 ms tick, a
reader that falls behind makes the feeder fall behind (counted, never buffered). The clock
starts when the first client connects. Afterwards it reports the lines it sent per step.

Run it in its own process, so that it does not take the GIL from the engine it feeds:

    python -m benchmarks.feeder --rate 24700 --seconds 30 --port-file /tmp/port
    python -m benchmarks.feeder --steps 10000:10,20000:10 --port-file /tmp/port

or from Python (``FeederProcess`` starts that subprocess; ``Feeder`` is the in-process server):

>>> feeder = Feeder(rate=1000, seconds=0.2, pool_lines=1000)
>>> port = feeder.start()
>>> import socket
>>> with socket.create_connection(("127.0.0.1", port)) as s:
...     data = b""
...     while len(data.splitlines()) < 100:
...         data += s.recv(65536)
>>> data.splitlines()[0].decode() == LineGenerator(seed=42).lines(1)[0]
True
>>> feeder.stop()["lines_sent"] >= 100
True
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Self

from .textgen import LineGenerator

__all__ = ["Feeder", "FeederProcess", "Step", "line_pool", "parse_steps"]

TICK_S = 0.010
#: at most this much of a backlog goes out in one send (keeps stop() responsive)
MAX_CHUNK_LINES = 50_000


@dataclass
class Step:
    """``rate`` lines/s (0: as fast as the reader takes them) for ``seconds``."""

    rate: float
    seconds: float
    lines_sent: int = 0
    started_at: float | None = None      # wall clock (time.time()) when the step began
    ended_at: float | None = None

    @property
    def target(self) -> int | None:
        return None if self.rate <= 0 else int(self.rate * self.seconds)


def parse_steps(text: str) -> list[Step]:
    """``"10000:10,20000:5"`` -> steps (rate lines/s : seconds).

    >>> [(s.rate, s.seconds) for s in parse_steps("10000:10, 0:2.5")]
    [(10000.0, 10.0), (0.0, 2.5)]
    """
    steps = []
    for part in text.split(","):
        rate, _, seconds = part.strip().partition(":")
        if not seconds:
            raise ValueError(f"a step is RATE:SECONDS, got {part.strip()!r}")
        step = Step(float(rate), float(seconds))
        if step.rate < 0 or step.seconds <= 0:
            raise ValueError(f"a step needs rate >= 0 and seconds > 0, got {part.strip()!r}")
        steps.append(step)
    if not steps:
        raise ValueError("no steps")
    return steps


class _Pool:
    """``n`` generated lines as one bytes buffer with line offsets; slices cycle over it."""

    def __init__(self, lines: list[str]) -> None:
        encoded = [(line + "\n").encode() for line in lines]
        self.buffer = memoryview(b"".join(encoded))
        self.offsets = [0]
        for line in encoded:
            self.offsets.append(self.offsets[-1] + len(line))
        self.n = len(encoded)

    def chunks(self, first: int, count: int) -> list[memoryview]:
        """Lines ``first .. first+count`` (cyclic indices) as at most a few buffer slices."""
        out = []
        while count > 0:
            start = first % self.n
            take = min(count, self.n - start)
            out.append(self.buffer[self.offsets[start]:self.offsets[start + take]])
            first += take
            count -= take
        return out


def line_pool(n: int = 200_000, seed: int = 42, vocabulary: int = 10_000,
              words_per_line: int = 10) -> list[str]:
    """The lines the feeder cycles through (the same seed gives the same lines)."""
    return LineGenerator(seed, vocabulary, words_per_line).lines(n)


class Feeder:
    """The server, in a thread of this process. ``start()`` returns the port."""

    def __init__(self, rate: float = 0.0, seconds: float = 10.0, *, steps: list[Step] | None = None,
                 seed: int = 42, pool_lines: int = 200_000, vocabulary: int = 10_000,
                 words_per_line: int = 10, host: str = "127.0.0.1", port: int = 0,
                 accept_timeout: float = 120.0, progress_file: str | None = None) -> None:
        self.steps = steps if steps is not None else [Step(float(rate), float(seconds))]
        self._progress_file = progress_file
        self._pool = _Pool(line_pool(pool_lines, seed, vocabulary, words_per_line))
        self._host, self._port = host, port
        self._accept_timeout = accept_timeout
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.done = threading.Event()
        self.lines_sent = 0
        self.connections = 0
        self.connected_at: float | None = None
        self.error: str | None = None

    def start(self) -> int:
        self._server = socket.create_server((self._host, self._port))
        self._server.settimeout(0.2)
        self._thread = threading.Thread(target=self._run, name="feeder", daemon=True)
        self._thread.start()
        return self._server.getsockname()[1]

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the schedule has been sent (True) or ``timeout`` passes."""
        return self.done.wait(timeout)

    def stop(self) -> dict[str, Any]:
        """Stop sending, close the server; return the stats."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.close()
        return self.stats()

    def stats(self) -> dict[str, Any]:
        return {"lines_sent": self.lines_sent, "connections": self.connections,
                "connected_at": self.connected_at, "error": self.error,
                "steps": [asdict(s) for s in self.steps]}

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        assert self._server is not None
        deadline = time.monotonic() + self._accept_timeout
        conn = None
        try:
            while conn is None and not self._stop.is_set():
                try:
                    conn, _ = self._server.accept()
                except TimeoutError:
                    if time.monotonic() > deadline:
                        self.error = f"no client connected within {self._accept_timeout} s"
                        return
            if conn is None:
                return
            self.connections += 1
            self.connected_at = time.time()
            with conn:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._serve(conn)
                self.done.set()
                self._stop.wait()       # keep the connection open (idle) until stopped
        except OSError as e:            # the reader went away
            self.error = f"{type(e).__name__}: {e}"
        finally:
            self.done.set()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(0.5)
        for index, step in enumerate(self.steps):
            step.started_at = time.time()
            self._progress(index, step)
            start = time.monotonic()
            end = start + step.seconds
            next_tick = start
            while not self._stop.is_set():
                now = time.monotonic()
                if step.rate > 0:
                    due = int(min(now - start, step.seconds) * step.rate) - step.lines_sent
                else:
                    due = MAX_CHUNK_LINES if now < end else 0
                if due > 0:
                    self._send(conn, step, min(due, MAX_CHUNK_LINES))
                if now >= end and (step.rate <= 0 or due <= MAX_CHUNK_LINES):
                    break
                if step.rate > 0:
                    next_tick += TICK_S
                    pause = next_tick - time.monotonic()
                    if pause > 0:
                        self._stop.wait(pause)
                    else:
                        next_tick = time.monotonic()      # behind: no burst of ticks
            step.ended_at = time.time()
            if self._stop.is_set():
                return

    def _progress(self, index: int, step: Step) -> None:
        """One JSON line per step as it starts, for a runner that watches the schedule."""
        if self._progress_file is not None:
            with open(self._progress_file, "a", encoding="utf-8") as f:
                f.write(json.dumps({"step": index, "rate": step.rate, "seconds": step.seconds,
                                    "started_at": step.started_at}) + "\n")

    def _send(self, conn: socket.socket, step: Step, count: int) -> None:
        for chunk in self._pool.chunks(self.lines_sent, count):
            view = chunk
            while len(view) and not self._stop.is_set():
                try:
                    n = conn.send(view)
                except TimeoutError:
                    continue                 # the reader is slow: try again (or stop)
                view = view[n:]
            if len(view):                    # stopped mid-chunk: count whole lines only
                sent_bytes = len(chunk) - len(view)
                count = bytes(chunk[:sent_bytes]).count(b"\n")
                break
        step.lines_sent += count
        self.lines_sent += count


class FeederProcess:
    """``python -m benchmarks.feeder`` in a subprocess: ``start()`` returns its port,
    ``stop()`` ends it and returns its stats (the same dict as ``Feeder.stats``)."""

    def __init__(self, rate: float = 0.0, seconds: float = 10.0, *, steps: list[Step] | None = None,
                 seed: int = 42, pool_lines: int = 200_000, accept_timeout: float = 120.0) -> None:
        self._steps = steps if steps is not None else [Step(float(rate), float(seconds))]
        self._seed, self._pool_lines, self._accept_timeout = seed, pool_lines, accept_timeout
        self._dir = tempfile.mkdtemp(prefix="feeder-")
        self._port_file = os.path.join(self._dir, "port")
        self._stats_file = os.path.join(self._dir, "stats.json")
        self.progress_file = os.path.join(self._dir, "progress.jsonl")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> int:
        steps = ",".join(f"{s.rate:g}:{s.seconds:g}" for s in self._steps)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.feeder", "--steps", steps, "--seed", str(self._seed),
             "--pool-lines", str(self._pool_lines), "--accept-timeout", str(self._accept_timeout),
             "--port-file", self._port_file, "--stats-file", self._stats_file,
             "--progress-file", self.progress_file, "--quiet", "--linger"],
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self._port_file):
                with open(self._port_file) as f:
                    return int(f.read())
            if self.process.poll() is not None:
                raise RuntimeError(f"the feeder exited with code {self.process.returncode}")
            time.sleep(0.02)
        self.stop()
        raise TimeoutError("the feeder did not report its port")

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def steps_started(self) -> list[dict[str, Any]]:
        """The steps begun so far: ``{"step", "rate", "seconds", "started_at"}`` each."""
        if not os.path.exists(self.progress_file):
            return []
        with open(self.progress_file, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.endswith("\n")]

    def cpu_seconds(self) -> float | None:
        """CPU time the feeder process used so far (None when it is gone or psutil is missing)."""
        if self.process is None or self.process.poll() is not None:
            return None
        try:
            import psutil
            times = psutil.Process(self.process.pid).cpu_times()
        except Exception:   # noqa: BLE001 - psutil missing or the process just ended
            return None
        return times.user + times.system

    def stop(self) -> dict[str, Any]:
        cpu_s = self.cpu_seconds()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        stats: dict[str, Any] = {}
        if os.path.exists(self._stats_file):
            with open(self._stats_file) as f:
                stats = json.load(f)
        stats["cpu_s"] = cpu_s          # the feeder's own CPU time (it shares the machine)
        for name in (self._port_file, self._stats_file, self.progress_file):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
        with contextlib.suppress(OSError):
            os.rmdir(self._dir)
        return stats

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _write_atomically(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def print_stats(stats: dict[str, Any]) -> None:
    """The feeder's table: per step, the target and what was sent."""
    print(f"{'step':>4} {'rate (lines/s)':>15} {'seconds':>8} {'target':>12} {'sent':>12} {'sent/s':>10}")
    for i, s in enumerate(stats["steps"]):
        took = (s["ended_at"] - s["started_at"]) if s["started_at"] and s["ended_at"] else None
        rate = "max" if s["rate"] <= 0 else f"{s['rate']:,.0f}"
        target = "-" if s["rate"] <= 0 else f"{int(s['rate'] * s['seconds']):,}"
        per_s = f"{s['lines_sent'] / took:,.0f}" if took else "-"
        print(f"{i:>4} {rate:>15} {s['seconds']:>8g} {target:>12} {s['lines_sent']:>12,} {per_s:>10}")
    print(f"lines sent: {stats['lines_sent']:,}" + (f"  ({stats['error']})" if stats["error"] else ""))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.feeder",
        description="Serve seeded text lines on 127.0.0.1 at a paced rate to one TCP client.")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="lines/s (0: as fast as the reader takes them); default 0")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to send; default 10")
    parser.add_argument("--steps", help="a schedule RATE:SECONDS,... (instead of --rate/--seconds)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--pool-lines", type=int, default=200_000,
                        help="distinct lines generated and cycled; default 200000")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--port-file", help="write the port here once listening")
    parser.add_argument("--stats-file", help="write the stats (JSON) here at the end")
    parser.add_argument("--progress-file", help="append a JSON line here as each step starts")
    parser.add_argument("--accept-timeout", type=float, default=120.0,
                        help="give up when no client connects within this; default 120 s")
    parser.add_argument("--linger", action="store_true",
                        help="after the schedule, keep the connection open until SIGTERM")
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    parser.add_argument("--connect", action="store_true",
                        help="self-test: read from the feeder in this process and report")
    args = parser.parse_args(argv)
    steps = parse_steps(args.steps) if args.steps else [Step(args.rate, args.seconds)]
    feeder = Feeder(steps=steps, seed=args.seed, pool_lines=args.pool_lines, port=args.port,
                    accept_timeout=args.accept_timeout, progress_file=args.progress_file)
    port = feeder.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if args.port_file:
        _write_atomically(args.port_file, str(port))
    if not args.quiet:
        print(f"feeder listening on 127.0.0.1:{port}", flush=True)
    reader = None
    if args.connect:
        reader = threading.Thread(target=_drain, args=(port, stop), daemon=True)
        reader.start()
    try:
        while not stop.is_set():
            if feeder.wait(0.1) and not (args.linger and feeder.error is None):
                break
    except KeyboardInterrupt:
        pass
    stats = feeder.stop()
    stop.set()
    if args.stats_file:
        _write_atomically(args.stats_file, json.dumps(stats))
    if not args.quiet:
        print_stats(stats)


def _drain(port: int, stop: threading.Event) -> None:
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(0.5)
        while not stop.is_set():
            try:
                if not s.recv(1 << 20):
                    return
            except TimeoutError:
                continue


if __name__ == "__main__":
    main()
