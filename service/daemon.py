"""The daemon: build or recover the streaming context, serve HTTP, stop gracefully.

``Daemon(job, settings, args).run()`` returns the exit code:

- 0: stopped on request (SIGTERM, SIGINT, ``stop_after``) and every drain phase finished
  within its time limit;
- 1: stopped because a batch failed (``on_batch_error = "stop"``), the context stopped by
  itself (a receiver whose configuration can never work: a refused login, a missing topic),
  checkpoints kept failing for ``dstream.streaming.checkpoint.stopAfter``, or a drain phase
  overran its limit or failed (reported, and the stop went on);
- 128 + signal number: a second signal during the stop ended the process at once.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
from typing import Any, Callable

from dstream import Conf, Context, StreamingContext, StreamingListener
from dstream.streaming.durations import batch_datetime

from .api import create_app
from .drain import DrainPhase, run_phases
from .http_server import HttpServer
from .jobs import JobModule
from .settings import Settings
from .context_view import ContextView

__all__ = ["Daemon", "BatchLog", "make_setup"]

log = logging.getLogger("dstream.service")


def _ms(value: int | None) -> str:
    return "-" if value is None else f"{value} ms"


class BatchLog(StreamingListener):
    """One log line per completed batch: time, records and the three delays."""

    def onBatchCompleted(self, batchCompleted: Any) -> None:
        info = batchCompleted.batchInfo()
        failed = [op for op in info.output_operations.values() if op.failure_reason]
        log.log(logging.WARNING if failed else logging.INFO,
                "batch %s: %d records, scheduling delay %s, processing time %s, total delay %s%s",
                batch_datetime(info.batch_time_ms).isoformat(sep=" ", timespec="milliseconds"),
                info.num_records, _ms(info.schedulingDelay()), _ms(info.processingDelay()),
                _ms(info.totalDelay()),
                f", {len(failed)} output operation(s) FAILED" if failed else "")
        for op in failed:      # the one place the daemon prints a failed batch's traceback
            log.error("%s failed:\n%s", op.description, op.failure_reason)


def make_setup(job: JobModule, settings: Settings,
               args: argparse.Namespace) -> Callable[[], StreamingContext]:
    """The ``setupFunc`` of ``StreamingContext.getOrCreate``: Context, StreamingContext, graph."""
    def setup() -> StreamingContext:
        conf = Conf().setAll(settings.conf.items())
        conf.setIfMissing("dstream.streaming.stopTimeout", settings.drain_timeout)
        ctx = Context(master=settings.master, appName=settings.app_name, conf=conf)
        try:
            ssc = StreamingContext(ctx, settings.batch_seconds)
            if settings.checkpoint:
                ssc.checkpoint(settings.checkpoint)
            job.build(ssc, args)
        except BaseException:
            ctx.stop()
            raise
        return ssc
    return setup


class Daemon:
    def __init__(self, job: JobModule, settings: Settings, args: argparse.Namespace) -> None:
        self.job = job
        self.settings = settings
        self.args = args
        self._signal: int | None = None
        self._signals = 0
        self._stop = threading.Event()
        self._stop_reason = ""
        self._failed = False
        self.http: HttpServer | None = None
        #: False once a drain phase overran its limit or failed (threads may linger)
        self.clean = True

    # ------------------------------------------------------------------ signals
    def _on_signal(self, signum: int, frame: Any) -> None:
        # runs in the main thread between bytecodes: touch no lock here
        self._signals += 1
        if self._signals == 1:
            self._signal = signum
            return
        name = signal.Signals(signum).name
        os.write(2, f"dstream: second signal ({name}) during the stop: exiting at once\n".encode())
        os._exit(128 + signum)

    def _install_signals(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            log.warning("not in the main thread: SIGTERM/SIGINT will not stop the daemon gracefully")
            return {}
        return {s: signal.signal(s, self._on_signal) for s in (signal.SIGTERM, signal.SIGINT)}

    def request_stop(self, reason: str, failed: bool = False) -> None:
        """Ask the main loop to stop (from any thread)."""
        if not self._stop.is_set():
            self._stop_reason, self._failed = reason, failed
            self._stop.set()

    # ------------------------------------------------------------------ run
    def run(self) -> int:
        previous = self._install_signals()
        try:
            return self._run()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _run(self) -> int:
        s = self.settings
        if s.http is not None:
            self.http = HttpServer(s.http)    # bind first: a taken port fails at once
        setup = make_setup(self.job, s, self.args)
        try:
            if s.checkpoint:
                log.info("getOrCreate from checkpoint %s", s.checkpoint)
                ssc = StreamingContext.getOrCreate(s.checkpoint, setup)
            else:
                ssc = setup()
        except BaseException:
            if self.http is not None:
                self.http.close()
            raise
        view = ContextView(ssc)
        ssc.addStreamingListener(BatchLog())
        if self.http is not None:
            self.http.start(create_app(view, s.token, ready_max_lag_batches=s.ready_max_lag))
            log.info("serving HTTP on %s (dashboard /, API /api/v1/streaming, /metrics, /docs)%s",
                     self.http.url, "; bearer token required" if s.token else "")
        try:
            ssc.start()
        except BaseException:
            log.exception("the streaming context failed to start")
            run_phases(self._phases(ssc), log)
            return 1
        log.info("started %s: batches of %g s, master %s%s", s.app_name, s.batch_seconds,
                 ssc.sparkContext.master,
                 f", checkpoint {s.checkpoint}" if s.checkpoint else "")
        threading.Thread(target=self._watch_errors, args=(ssc, s.on_batch_error == "stop"),
                         name="dstream-error-watch", daemon=True).start()
        if ssc.checkpointHealth() is not None:
            threading.Thread(target=self._watch_checkpoints, args=(ssc,),
                             name="dstream-checkpoint-watch", daemon=True).start()
        self._wait()
        log.info("stopping (%s): graceful drain", self._stop_reason)
        clean = run_phases(self._phases(ssc), log)
        code = 1 if self._failed or not clean else 0
        log.info("stopped%s; exit code %d", "" if clean else " (a drain phase did not finish)", code)
        self.clean = clean
        return code

    def _watch_errors(self, ssc: StreamingContext, stop_on_batch_error: bool) -> None:
        """Stop the daemon when the context stopped by itself (a receiver whose configuration
        can never work stops it), and, with ``on_batch_error = "stop"``, when a batch failed."""
        try:
            ssc.awaitTermination()
            return
        except BaseException as e:
            error = e
        while ssc.getState() != "STOPPED" and not stop_on_batch_error:
            if self._stop.wait(0.25):       # stopping anyway; the error was logged with its batch
                return
        if ssc.getState() == "STOPPED" and not self._stop.is_set():
            error = getattr(ssc, "_error", None) or error     # a receiver's error wins
            self.request_stop(f"the streaming context stopped: {type(error).__name__}: {error}",
                              failed=True)
        elif stop_on_batch_error:
            self.request_stop(f"a batch failed: {type(error).__name__}: {error}", failed=True)

    def _watch_checkpoints(self, ssc: StreamingContext, every_s: float = 1.0) -> None:
        """Stop the job (exit code 1) once checkpoints have failed for longer than
        ``dstream.streaming.checkpoint.stopAfter``: a job that cannot checkpoint would lose
        or redo everything since its last checkpoint at the next crash."""
        while not self._stop.wait(every_s):
            health = ssc.checkpointHealth()
            if health is None or health["failing_s"] <= health["stop_after_s"]:
                continue
            message = (f"checkpoints to {health['location']} have failed for "
                       f"{health['failing_s']:.0f} s ({health['consecutive_failures']} attempts in "
                       f"a row; dstream.streaming.checkpoint.stopAfter is {health['stop_after_s']:g} s), "
                       f"last error: {health['last_error']}. Stopping the job: repair the checkpoint "
                       "store and restart it; it resumes from its last checkpoint")
            log.error("%s", message)
            self.request_stop(message, failed=True)
            return

    def _wait(self) -> None:
        deadline = None if self.settings.stop_after is None else time.monotonic() + self.settings.stop_after
        while True:
            if self._signal is not None:
                self.request_stop(f"received {signal.Signals(self._signal).name}")
            elif deadline is not None and time.monotonic() >= deadline:
                self.request_stop(f"stop_after {self.settings.stop_after:g} s elapsed")
            if self._stop.is_set():
                return
            remaining = 0.25 if deadline is None else max(0.0, min(0.25, deadline - time.monotonic()))
            self._stop.wait(remaining)

    def _phases(self, ssc: StreamingContext) -> list[DrainPhase]:
        """The stop sequence: the steps of a graceful ``StreamingContext.stop`` (receivers stop,
        the data they received is processed, source offsets are committed with the last
        checkpoint, listeners get the last events), then the executors and HTTP, each phase
        with its own time limit."""
        limit = self.settings.drain_timeout
        phases = [DrainPhase(name, action, limit) for name, action in ssc.stop_phases(True)]
        phases.append(DrainPhase("stop the executors", ssc.sparkContext.stop, limit))
        if self.http is not None:
            http = self.http
            phases.append(DrainPhase("stop HTTP", lambda: http.stop(limit), limit))
        return phases
