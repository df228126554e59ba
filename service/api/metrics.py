"""Prometheus metrics of one streaming context, in a registry of its own.

Histograms (scheduling delay, processing time, total delay, in seconds) are observed by
a listener as batches complete, so they count every batch since the app was made.
Counters and gauges are read from the context's history at scrape time, so they are
exact and never counted twice: records in, batches completed and failed, bad records,
active batches, receivers up, receiver errors by kind and restarts, each event-time
operator's watermark, open windows and late records, and (with checkpoints) checkpoints
written and failed, failures in a row, the age of the last checkpoint and its bound, and the
blocks the last recovery replayed by fate.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from dstream.streaming.listener import StreamingListener

from ..context_view import Snapshot, ContextView

__all__ = ["StreamingMetrics"]

#: seconds; batch intervals are typically 0.5 s to a minute
DELAY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                 120.0, 300.0, float("inf"))


class _Observer(StreamingListener):
    def __init__(self, metrics: StreamingMetrics) -> None:
        self._metrics = metrics

    def onBatchCompleted(self, batchCompleted: Any) -> None:
        info = batchCompleted.batchInfo()
        for histogram, value in ((self._metrics.scheduling_delay, info.schedulingDelay()),
                                 (self._metrics.processing_time, info.processingDelay()),
                                 (self._metrics.total_delay, info.totalDelay())):
            if value is not None:
                histogram.observe(value / 1000.0)


class _FromSnapshot:
    """Counters and gauges computed from a fresh snapshot at each scrape."""

    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self._snapshot = snapshot

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        yield CounterMetricFamily("dstream_input_records", "Records in the batches submitted so far",
                                  value=snap.received_records)
        yield CounterMetricFamily("dstream_processed_records", "Records in the completed batches",
                                  value=snap.total_records)
        yield CounterMetricFamily("dstream_batches_completed", "Batches completed (failed ones too)",
                                  value=snap.total_completed)
        yield CounterMetricFamily("dstream_batches_failed", "Batches with a failed output operation",
                                  value=snap.total_failed)
        active = GaugeMetricFamily("dstream_batches_active", "Batches queued or processing",
                                   labels=["status"])
        processing = sum(1 for b in snap.active if b.processing_start_time_ms is not None)
        active.add_metric(["QUEUED"], len(snap.active) - processing)
        active.add_metric(["PROCESSING"], processing)
        yield active
        yield GaugeMetricFamily("dstream_batch_lag_seconds", "Age of the oldest unfinished batch",
                                value=snap.lag_ms() / 1000.0)
        bad = CounterMetricFamily("dstream_receiver_bad_records",
                                  "Records receivers dropped or repaired, by stream and reason",
                                  labels=["stream_id", "reason"])
        for sid, reasons in sorted(snap.bad_records.items()):
            for reason, count in sorted(reasons.items()):
                bad.add_metric([str(sid), reason], count)
        yield bad
        up = GaugeMetricFamily("dstream_receiver_up", "1 while a receiver runs, 0 once it stopped",
                               labels=["stream_id", "name"])
        for sid in sorted(set(snap.receiver_streams) | set(snap.receivers)):
            info = snap.receivers.get(sid)
            name = info.name if info is not None else snap.receiver_streams.get(sid, "")
            up.add_metric([str(sid), name], 1.0 if info is not None and info.active else 0.0)
        yield up
        errors = CounterMetricFamily("dstream_receiver_errors",
                                     "Errors receivers reported, by stream and kind (transient: "
                                     "retried or restarted; fatal: stopped the context)",
                                     labels=["stream_id", "kind"])
        restarts = CounterMetricFamily("dstream_receiver_restarts",
                                       "Receiver restarts with backoff, by stream", labels=["stream_id"])
        for sid, info in sorted(snap.receivers.items()):
            errors.add_metric([str(sid), "transient"], info.transient_errors)
            errors.add_metric([str(sid), "fatal"], info.fatal_errors)
            restarts.add_metric([str(sid)], info.restarts)
        yield errors
        yield restarts
        yield from _event_time_metrics(snap)
        if snap.checkpoint is not None:
            yield from _checkpoint_metrics(snap.checkpoint)


def _event_time_metrics(snap: Snapshot) -> Iterator[Metric]:
    """Per event-time windowed operator: watermark, open windows, late records so far."""
    labels = ["operator", "stream"]
    watermark = GaugeMetricFamily("dstream_event_time_watermark_seconds",
                                  "Watermark after the last batch, epoch seconds", labels=labels)
    open_windows = GaugeMetricFamily("dstream_event_time_open_windows",
                                     "Windows or sessions open after the last batch", labels=labels)
    late = CounterMetricFamily("dstream_event_time_late_records",
                               "Records left out of a closed window", labels=labels)
    for op, (report, late_total) in sorted(snap.event_time.items()):
        if report.watermark_ms is not None:
            watermark.add_metric([op, report.events_id], report.watermark_ms / 1000.0)
        open_windows.add_metric([op, report.events_id], report.open_windows)
        late.add_metric([op, report.events_id], late_total)
    yield watermark
    yield open_windows
    yield late


def _checkpoint_metrics(health: dict[str, Any]) -> Iterator[Metric]:
    yield CounterMetricFamily("dstream_checkpoints_written", "Checkpoints written",
                              value=health["written"])
    yield CounterMetricFamily("dstream_checkpoint_failures",
                              "Failed checkpoint attempts (each is retried)", value=health["failures"])
    yield GaugeMetricFamily("dstream_checkpoint_consecutive_failures",
                            "Checkpoint attempts failed in a row since the last success",
                            value=health["consecutive_failures"])
    yield GaugeMetricFamily("dstream_checkpoint_age_seconds",
                            "Seconds since the last metadata checkpoint was written (or the start)",
                            value=health["age_s"])
    yield GaugeMetricFamily("dstream_checkpoint_max_age_seconds",
                            "Checkpoint age above which /readyz answers 503", value=health["max_age_s"])
    if health["last_batch_time_ms"] is not None:
        yield GaugeMetricFamily("dstream_checkpoint_last_batch_time_seconds",
                                "Batch time of the last metadata checkpoint (Unix seconds)",
                                value=health["last_batch_time_ms"] / 1000.0)
    recovery = health.get("recovery")
    if recovery is not None:
        replayed = GaugeMetricFamily("dstream_recovery_logged_blocks",
                                     "Write-ahead log blocks at the last recovery, by fate: back to "
                                     "their batch, already consumed, new data, duplicate record",
                                     labels=["fate"])
        for fate, count in sorted(recovery["replayed"].items()):
            replayed.add_metric([fate], count)
        yield replayed


class StreamingMetrics:
    """A registry of the metrics of ``view``; ``render()`` gives Prometheus text."""

    def __init__(self, view: ContextView) -> None:
        self.registry = CollectorRegistry()
        doc = "{} of completed batches, seconds"
        self.scheduling_delay = Histogram("dstream_batch_scheduling_delay_seconds",
                                          doc.format("Scheduling delay"), buckets=DELAY_BUCKETS,
                                          registry=self.registry)
        self.processing_time = Histogram("dstream_batch_processing_time_seconds",
                                         doc.format("Processing time"), buckets=DELAY_BUCKETS,
                                         registry=self.registry)
        self.total_delay = Histogram("dstream_batch_total_delay_seconds", doc.format("Total delay"),
                                     buckets=DELAY_BUCKETS, registry=self.registry)
        self.registry.register(_FromSnapshot(view.snapshot))
        view.add_listener(_Observer(self))

    def render(self) -> bytes:
        return generate_latest(self.registry)
