"""``/api/v1/streaming/...``: Spark's streaming REST routes over a ``ContextView``.

The computations follow Spark's resources (``StreamingStatisticsResource``,
``AllBatchesResource``, ``AllReceiversResource``, ``AllOutputOperationsResource``):
averages over the retained batches, integer milliseconds for averaged delays, batches
newest first, receivers and operations by id.
"""

from __future__ import annotations

from typing import Annotated, Any, Callable, Literal, cast

from fastapi import FastAPI, HTTPException, Path, Query

from dstream.streaming.listener import BatchInfo as EngineBatch
from dstream.streaming.listener import OutputOperationInfo as EngineOp

from ..context_view import Snapshot
from .models import (INT_MAX, LONG_MAX, BatchInfo, BatchStatus, CheckpointStatus, ErrorBody,
                     OutputOperationInfo, ReceiverInfo, Recovery, StreamingStatistics, spark_date)

__all__ = ["add_streaming_routes", "statistics", "batches", "receivers", "checkpoint_status"]

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no such batch, receiver or operation"}}

BatchId = Annotated[int, Path(ge=0, le=LONG_MAX, description="the batch time in ms (Spark's batchId)")]
StreamId = Annotated[int, Path(ge=0, le=INT_MAX, description="the input stream's id")]
OutputOpId = Annotated[int, Path(ge=0, le=INT_MAX, description="the output operation's id")]


def _avg_ms(values: list[int]) -> int | None:
    return sum(values) // len(values) if values else None


def statistics(snap: Snapshot) -> StreamingStatistics:
    retained = snap.retained
    batch_ms = snap.batch_duration_ms
    active_receivers = sum(1 for r in snap.receivers.values() if r.active)
    return StreamingStatistics(
        startTime=spark_date(snap.start_time_ms) if snap.start_time_ms is not None else None,
        batchDuration=batch_ms,
        numReceivers=len(snap.receivers),
        numActiveReceivers=active_receivers,
        numInactiveReceivers=len(snap.receivers) - active_receivers,
        numTotalCompletedBatches=snap.total_completed,
        numRetainedCompletedBatches=len(snap.completed),
        numActiveBatches=len(snap.active),
        numProcessedRecords=snap.total_records,
        numReceivedRecords=snap.received_records,
        avgInputRate=(sum(b.num_records * 1000.0 / batch_ms for b in retained) / len(retained)
                      if retained else None),
        avgSchedulingDelay=_avg_ms([d for b in retained if (d := b.schedulingDelay()) is not None]),
        avgProcessingTime=_avg_ms([d for b in retained if (d := b.processingDelay()) is not None]),
        avgTotalDelay=_avg_ms([d for b in retained if (d := b.totalDelay()) is not None]),
    )


def _date_s(seconds: float | None) -> str | None:
    return None if seconds is None else spark_date(int(seconds * 1000))


def checkpoint_status(snap: Snapshot) -> CheckpointStatus:
    """The checkpoint figures of ``snap`` (``enabled`` False without a checkpoint location)."""
    health = snap.checkpoint
    if health is None:
        return CheckpointStatus(enabled=False)
    recovery = health.get("recovery")
    return CheckpointStatus(
        enabled=True, location=health["location"], written=health["written"],
        failures=health["failures"], consecutiveFailures=health["consecutive_failures"],
        lastError=health["last_error"], lastErrorTime=_date_s(health["last_error_time_s"]),
        lastBatchTime=health["last_batch_time_ms"], lastSuccessTime=_date_s(health["last_success_time_s"]),
        ageSeconds=round(health["age_s"], 3), maxAgeSeconds=health["max_age_s"],
        stopAfterSeconds=health["stop_after_s"], healthy=health["healthy"],
        recovery=None if recovery is None else Recovery(
            checkpointBatchTime=recovery["time_ms"], stateRestored=recovery["state_restored"],
            replayedBlocks=recovery["replayed"]))


def _batch(info: EngineBatch, status: BatchStatus, batch_ms: int) -> BatchInfo:
    ops = [info.output_operations[k] for k in sorted(info.output_operations)]
    failures = [op.failure_reason for op in ops if op.failure_reason]
    return BatchInfo(
        batchId=info.batch_time_ms, batchTime=spark_date(info.batch_time_ms), status=status,
        batchDuration=batch_ms, inputSize=info.num_records,
        schedulingDelay=info.schedulingDelay(), processingTime=info.processingDelay(),
        totalDelay=info.totalDelay(),
        numActiveOutputOps=sum(1 for op in ops if op.end_time_ms is None),
        numCompletedOutputOps=sum(1 for op in ops if op.end_time_ms is not None and not op.failure_reason),
        numFailedOutputOps=len(failures), numTotalOutputOps=len(ops),
        firstFailureReason=failures[0] if failures else None,
        offsetRanges=_offset_ranges(info))


def _offset_ranges(info: EngineBatch) -> list[dict[str, Any]] | None:
    """The offset ranges of the batch's Kafka direct streams; None when it has none."""
    metas = [m for m in getattr(info, "input_metadata", {}).values() if "offsetRanges" in m]
    if not metas:
        return None
    return [dict(r) for m in metas for r in m["offsetRanges"]]


def batches(snap: Snapshot, statuses: set[BatchStatus] | None = None) -> list[BatchInfo]:
    """Batches of the given statuses (all by default), newest first."""
    out = [_batch(b, BatchStatus.COMPLETED, snap.batch_duration_ms) for b in snap.completed]
    for b in snap.active:
        status = BatchStatus.QUEUED if b.processing_start_time_ms is None else BatchStatus.PROCESSING
        out.append(_batch(b, status, snap.batch_duration_ms))
    if statuses:
        out = [b for b in out if b.status in statuses]
    return sorted(out, key=lambda b: -b.batchId)


def receivers(snap: Snapshot) -> list[ReceiverInfo]:
    """One entry per receiver input stream (and any receiver that reported), by stream id."""
    retained = snap.retained
    out = []
    for sid in sorted(set(snap.receiver_streams) | set(snap.receivers)):
        info = snap.receivers.get(sid)
        rates = [(b.batch_time_ms, b.input_records.get(sid, 0) * 1000.0 / snap.batch_duration_ms)
                 for b in retained]
        name = info.name if info is not None and info.name else snap.receiver_streams.get(sid, f"Stream-{sid}")
        out.append(ReceiverInfo(
            streamId=sid, streamName=name,
            isActive=info.active if info is not None else None,
            executorId="driver" if info is not None else None,
            executorHost=info.location if info is not None else None,
            lastErrorTime=(spark_date(info.last_error_time_ms)
                           if info is not None and info.last_error_time_ms is not None else None),
            lastErrorMessage=(info.last_error_message or None) if info is not None else None,
            lastError=(info.last_error or None) if info is not None else None,
            # the receiver's error events say "transient" or "fatal"
            lastErrorKind=(cast('Literal["transient", "fatal"] | None', info.last_error_kind or None)
                           if info is not None else None),
            avgEventRate=sum(r for _, r in rates) / len(rates) if rates else None,
            eventRates=rates))
    return out


def _operations(snap: Snapshot, batch_id: int) -> list[OutputOperationInfo]:
    for info in snap.retained:
        if info.batch_time_ms == batch_id:
            return [_operation(info.output_operations[k]) for k in sorted(info.output_operations)]
    raise HTTPException(404, f"unknown batch: {batch_id}")


def _operation(op: EngineOp) -> OutputOperationInfo:
    return OutputOperationInfo(
        outputOpId=op.id, name=op.name, description=op.description,
        startTime=spark_date(op.start_time_ms) if op.start_time_ms is not None else None,
        endTime=spark_date(op.end_time_ms) if op.end_time_ms is not None else None,
        duration=op.duration(), failureReason=op.failure_reason, jobIds=[])


def add_streaming_routes(app: FastAPI, snapshot: Callable[[], Snapshot]) -> None:
    """The routes, each reading a fresh snapshot. Added to the app itself (not through an
    included router) so that ``app.routes`` lists every one of them."""
    prefix = "/api/v1/streaming"
    common: dict[str, Any] = {"response_model_exclude_none": True,
                              "tags": ["streaming (Spark's REST API)"]}

    @app.get(prefix + "/statistics", response_model=StreamingStatistics, **common)
    def get_statistics() -> StreamingStatistics:
        """Totals and averages over the retained batches (Spark's StreamingStatistics)."""
        return statistics(snapshot())

    @app.get(prefix + "/checkpoint", response_model=CheckpointStatus, **common)
    def get_checkpoint() -> CheckpointStatus:
        """Checkpoints written and failed, the last error, the age of the last checkpoint and
        its bounds, and the recovery the context started with (beyond Spark's API)."""
        return checkpoint_status(snapshot())

    @app.get(prefix + "/receivers", response_model=list[ReceiverInfo], **common)
    def get_receivers() -> list[ReceiverInfo]:
        """Every receiver input stream, by stream id."""
        return receivers(snapshot())

    @app.get(prefix + "/receivers/{streamId}", response_model=ReceiverInfo, responses=_NOT_FOUND, **common)
    def get_receiver(streamId: StreamId) -> ReceiverInfo:  # noqa: N803 - Spark's name
        """One receiver input stream."""
        for r in receivers(snapshot()):
            if r.streamId == streamId:
                return r
        raise HTTPException(404, f"unknown receiver: {streamId}")

    @app.get(prefix + "/batches", response_model=list[BatchInfo], **common)
    def get_batches(status: Annotated[list[BatchStatus] | None, Query(
            description="only batches of these statuses (repeat the parameter for several)")] = None,
                    ) -> list[BatchInfo]:
        """Retained completed, processing and queued batches, newest first."""
        return batches(snapshot(), set(status) if status else None)

    @app.get(prefix + "/batches/{batchId}", response_model=BatchInfo, responses=_NOT_FOUND, **common)
    def get_batch(batchId: BatchId) -> BatchInfo:  # noqa: N803
        """One retained batch."""
        for b in batches(snapshot()):
            if b.batchId == batchId:
                return b
        raise HTTPException(404, f"unknown batch: {batchId}")

    @app.get(prefix + "/batches/{batchId}/operations", response_model=list[OutputOperationInfo],
            responses=_NOT_FOUND, **common)
    def get_operations(batchId: BatchId) -> list[OutputOperationInfo]:  # noqa: N803
        """The output operations of one retained batch, by id."""
        return _operations(snapshot(), batchId)

    @app.get(prefix + "/batches/{batchId}/operations/{outputOpId}", response_model=OutputOperationInfo,
            responses=_NOT_FOUND, **common)
    def get_operation(batchId: BatchId, outputOpId: OutputOpId) -> OutputOperationInfo:  # noqa: N803
        """One output operation of one retained batch."""
        for op in _operations(snapshot(), batchId):
            if op.outputOpId == outputOpId:
                return op
        raise HTTPException(404, f"unknown output operation: {outputOpId}")
