"""The batch clock (job generator) and the job scheduler.

The generator wakes at every batch time on the interval grid, asks the graph for the
batch's jobs (one per output operation, in registration order) and queues them. Executor
threads (``dstream.streaming.concurrentJobs``, default 1) run queued batches in order; a
batch that falls behind waits in the queue (its scheduling delay grows) and is never skipped.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import traceback
from dataclasses import dataclass, field
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from .clock import Clock
from .durations import batch_datetime
from .failures import add_note, failing_stream
from .listener import BatchInfo, ListenerBus, OutputOperationInfo
from .stream_node import StreamNode

__all__ = ["JobScheduler", "JobSet", "Output", "JobSource", "ScheduledContext"]

log = logging.getLogger(__name__)


class Output(StreamNode, Protocol):
    """An output operation (a ``ForEachDStream``): a stream with its place among the outputs."""

    @property
    def output_id(self) -> int: ...


class JobSource(Protocol):
    """Where a batch's jobs come from: the ``DStreamGraph``."""

    def generate_jobs(self, time_ms: int) -> Sequence[tuple[Output, Callable[[], None] | BaseException]]: ...
    def all_streams(self) -> Iterable[StreamNode]: ...


class ScheduledContext(Protocol):
    """What the scheduler uses of its ``StreamingContext``: the graph (replaced when a saved
    graph is restored, so read at each batch), the listener bus, and where errors go."""

    @property
    def _batch_ms(self) -> int: ...
    @property
    def _graph(self) -> JobSource: ...
    @property
    def _bus(self) -> ListenerBus: ...

    def _report_error(self, error: BaseException) -> None: ...


@dataclass
class Job:
    output: Output
    run: Callable[[], None] | None
    error: BaseException | None = None


@dataclass
class JobSet:
    time_ms: int
    jobs: list[Job]
    info: BatchInfo
    done: threading.Event = field(default_factory=threading.Event)
    #: set when the batch could not be generated; the batch then runs no job
    error: BaseException | None = None


class JobScheduler:
    """Generates a batch every ``batch_ms`` and runs batches on executor threads."""

    def __init__(self, ssc: ScheduledContext, clock: Clock, concurrent_jobs: int = 1) -> None:
        self._ssc = ssc
        self._clock = clock
        self._batch_ms = ssc._batch_ms
        self._concurrent = max(1, concurrent_jobs)
        self._queue: queue.Queue[JobSet | None] = queue.Queue()
        self._stop_generating = threading.Event()
        self._generator: threading.Thread | None = None
        self._executors: list[threading.Thread] = []
        self._progress = threading.Condition()
        self._completed: list[int] = []
        self._last_completed_ms: int | None = None
        self._pending: dict[int, JobSet] = {}
        #: each output operation's description, made once (the batch history keeps 1000 batches)
        self._descriptions: dict[int, str] = {}
        self._more_input: Callable[[], bool] | None = None
        self.first_batch_ms: int | None = None
        self.next_batch_ms: int | None = None
        #: hooks the context adds: called with a batch time after the batch completed
        self.after_batch: list[Callable[[JobSet], None]] = []
        #: hooks called with a batch after its jobs ran, before it is reported completed
        self.before_complete: list[Callable[[JobSet], None]] = []
        #: hooks called with a batch time before its jobs are generated (block allocation)
        self.before_generate: list[Callable[[int, BatchInfo], None]] = []

    # ------------------------------------------------------------------ lifecycle
    def start(self, first_batch_ms: int | None = None) -> int:
        """Start generating at ``first_batch_ms`` (default: the next grid time); return it."""
        if first_batch_ms is None:
            now = self._clock.now_ms()
            first_batch_ms = (now // self._batch_ms + 1) * self._batch_ms
        self.first_batch_ms = self.next_batch_ms = first_batch_ms
        for i in range(self._concurrent):
            t = threading.Thread(target=self._execute_loop, name=f"dstream-batch-{i}", daemon=True)
            t.start()
            self._executors.append(t)
        self._generator = threading.Thread(target=self._generate_loop, name="dstream-batch-clock",
                                           daemon=True)
        self._generator.start()
        return first_batch_ms

    def stop(self, graceful: bool, timeout: float,
             more_input: Callable[[], bool] | None = None) -> bool:
        """Stop the clock; graceful: run every generated batch first, and while ``more_input()``
        says received data is still unallocated, generate further batches at once (not when
        the clock gets there). True when everything finished within ``timeout`` seconds."""
        if graceful:
            self._more_input = more_input
        self._stop_generating.set()
        self._clock.wake()
        if self._generator is not None and self._generator is not threading.current_thread():
            self._generator.join(timeout)
        if not graceful:
            self._drop_queued()
        for _ in self._executors:
            self._queue.put(None)
        finished = True
        for t in self._executors:
            if t is threading.current_thread():
                continue        # stop() called by an output operation: this thread ends after it
            t.join(timeout)
            finished = finished and not t.is_alive()
        return finished

    def _drop_queued(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                log.info("stop: batch %s dropped before it started", item.time_ms)
                item.done.set()

    # ------------------------------------------------------------------ generation
    def _generate_loop(self) -> None:
        while True:
            assert self.next_batch_ms is not None  # start() sets it before this loop runs
            reached = self._clock.wait_till(self.next_batch_ms, self._stop_generating)
            more_input = self._more_input
            if not reached and (more_input is None or not more_input()):
                return
            time_ms = self.next_batch_ms
            try:
                self.generate(time_ms)
            except Exception as e:
                # queued all the same, in order, so that waiting for this batch ends
                log.exception("generating batch %s failed", time_ms)
                info = BatchInfo(batch_time_ms=time_ms, submission_time_ms=self._clock.now_ms())
                self._queue_jobset(JobSet(time_ms, [], info, error=e))
            self.next_batch_ms = time_ms + self._batch_ms

    def generate(self, time_ms: int) -> JobSet:
        info = BatchInfo(batch_time_ms=time_ms, submission_time_ms=self._clock.now_ms())
        for hook in self.before_generate:
            hook(time_ms, info)
        jobs: list[Job] = []
        for output, made in self._ssc._graph.generate_jobs(time_ms):
            if isinstance(made, BaseException):
                jobs.append(Job(output, None, made))
            else:
                jobs.append(Job(output, made))
        for job in jobs:
            out = job.output
            description = self._descriptions.get(out.output_id)
            if description is None:
                description = self._descriptions[out.output_id] = (
                    f"{out.op} at {out.call_site} ({out.id})")
            info.output_operations[out.output_id] = OutputOperationInfo(
                time_ms, out.output_id, out.op, description)
        info.num_records = sum(info.input_records.values())
        jobset = JobSet(time_ms, jobs, info)
        self._ssc._bus.post("onBatchSubmitted", batch_info=info.copy())
        self._queue_jobset(jobset)
        return jobset

    def _queue_jobset(self, jobset: JobSet) -> None:
        with self._progress:
            self._pending[jobset.time_ms] = jobset
        self._queue.put(jobset)

    # ------------------------------------------------------------------ execution
    def _execute_loop(self) -> None:
        while True:
            jobset = self._queue.get()
            if jobset is None:
                return
            try:
                self._run(jobset)
            except Exception:
                log.exception("batch %s failed outside its jobs", jobset.time_ms)
            finally:
                jobset.done.set()
                with self._progress:
                    self._pending.pop(jobset.time_ms, None)
                    self._completed.append(jobset.time_ms)
                    del self._completed[:-100]
                    # with concurrentJobs > 1 a later batch may finish before an earlier one
                    last = self._last_completed_ms
                    self._last_completed_ms = jobset.time_ms if last is None else max(last, jobset.time_ms)
                    self._progress.notify_all()

    def _run(self, jobset: JobSet) -> None:
        if jobset.error is not None:
            add_note(jobset.error, f"dstream: generating the batch of "
                                   f"{batch_datetime(jobset.time_ms)} ({jobset.time_ms} ms) failed")
            self._ssc._report_error(jobset.error)
            return
        bus, info = self._ssc._bus, jobset.info
        info.processing_start_time_ms = self._clock.now_ms()
        bus.post("onBatchStarted", batch_info=info.copy())
        for job in jobset.jobs:
            op = info.output_operations[job.output.output_id]
            op.start_time_ms = self._clock.now_ms()
            bus.post("onOutputOperationStarted", output_operation_info=_copy(op))
            error = job.error
            if error is None:
                try:
                    assert job.run is not None  # a Job has its run or its error
                    job.run()
                except Exception as e:
                    error = e
            op.end_time_ms = self._clock.now_ms()
            if error is not None:
                self._describe_failure(error, job, jobset.time_ms)
                op.failure_reason = "".join(traceback.format_exception(error)).rstrip()
                self._ssc._report_error(error)
            bus.post("onOutputOperationCompleted", output_operation_info=_copy(op))
        info.processing_end_time_ms = self._clock.now_ms()
        for hook in self.before_complete:
            try:
                hook(jobset)
            except Exception:
                log.exception("reporting batch %s failed", jobset.time_ms)
        bus.post("onBatchCompleted", batch_info=info.copy())
        for hook in self.after_batch:
            try:
                hook(jobset)
            except Exception:
                log.exception("after-batch step for batch %s failed", jobset.time_ms)

    def _describe_failure(self, error: BaseException, job: Job, time_ms: int) -> None:
        """Notes on ``error``: the batch and output operation, and the stream whose user
        function raised (with the line that defined it) when the traceback shows one."""
        out = job.output
        add_note(error, f"dstream: output operation {out.output_id} ({out.op} of "
                        f"{out.parents[0].id}, defined at {out.call_site}) failed for the batch "
                        f"of {batch_datetime(time_ms)} ({time_ms} ms)")
        culprit = failing_stream(error, self._ssc._graph.all_streams())
        if culprit is not None:
            add_note(error, f"dstream: raised by a function of {culprit.id} ({culprit.op} "
                            f"defined at {culprit.call_site}) in the batch of "
                            f"{batch_datetime(time_ms)}")

    # ------------------------------------------------------------------ progress
    def wait_for_batch(self, time_ms: int, timeout: float) -> bool:
        """Block until the batch of ``time_ms`` (and every earlier one) has completed."""
        with self._progress:
            return self._progress.wait_for(
                lambda: self._last_completed_ms is not None and self._last_completed_ms >= time_ms
                and not any(t <= time_ms for t in self._pending), timeout)

    def pending_batches(self) -> int:
        with self._progress:
            return len(self._pending)

    @property
    def last_completed_ms(self) -> int | None:
        return self._last_completed_ms


def _copy(op: OutputOperationInfo) -> OutputOperationInfo:
    return dataclasses.replace(op)
