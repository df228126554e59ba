"""Response models: Spark's streaming REST API (``status/api/v1/streaming/api.scala``),
field for field, plus the service's own health and error bodies.

Spark serializes with Jackson set to leave out absent values, so an optional field (a
delay not known yet, a batch with no failure) is missing from the JSON rather than
``null``; the routes do the same (``response_model_exclude_none``). Dates are Spark's
``yyyy-MM-dd'T'HH:mm:ss.SSS'GMT'`` strings.

>>> spark_date(1_700_000_000_123)
'2023-11-14T22:13:20.123GMT'
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, WithJsonSchema

__all__ = ["BatchStatus", "StreamingStatistics", "ReceiverInfo", "BatchInfo",
           "OutputOperationInfo", "ErrorBody", "Health", "Readiness", "CheckpointStatus", "Recovery",
           "spark_date"]

#: Spark's Long and Int bounds, for ids in paths
LONG_MAX = (1 << 63) - 1
INT_MAX = (1 << 31) - 1


def spark_date(ms: int) -> str:
    """Milliseconds since the epoch as Spark's REST API writes a ``java.util.Date``."""
    stamp = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(milliseconds=ms)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}GMT"


class BatchStatus(str, Enum):
    """Spark's ``BatchStatus``."""

    COMPLETED = "COMPLETED"
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"


class StreamingStatistics(BaseModel):
    """``GET /api/v1/streaming/statistics``: Spark's ``StreamingStatistics``."""

    startTime: str | None = Field(None, description="when the streaming context started "
                                  "(missing until the start event was seen)")
    batchDuration: int = Field(description="batch interval, ms")
    numReceivers: int
    numActiveReceivers: int
    numInactiveReceivers: int
    numTotalCompletedBatches: int
    numRetainedCompletedBatches: int
    numActiveBatches: int = Field(description="queued and processing batches")
    numProcessedRecords: int = Field(description="records of all completed batches")
    numReceivedRecords: int = Field(description="records of all batches submitted so far")
    avgInputRate: float | None = Field(None, description="records/s over the retained batches")
    avgSchedulingDelay: int | None = Field(None, description="ms, over the retained batches")
    avgProcessingTime: int | None = Field(None, description="ms, over the retained batches")
    avgTotalDelay: int | None = Field(None, description="ms, over the retained batches")


class ReceiverInfo(BaseModel):
    """``GET /api/v1/streaming/receivers``: Spark's ``ReceiverInfo``."""

    streamId: int
    streamName: str
    isActive: bool | None = None
    executorId: str | None = None
    executorHost: str | None = None
    lastErrorTime: str | None = None
    lastErrorMessage: str | None = None
    lastError: str | None = None
    lastErrorKind: Literal["transient", "fatal"] | None = Field(
        None, description="transient: the receiver goes on or restarts with backoff; "
                          "fatal: a configuration that can never work, the context stopped")
    avgEventRate: float | None = Field(None, description="records/s over the retained batches")
    #: Spark's Seq[(Long, Double)], which Jackson writes as two-element arrays. Described
    #: without prefixItems, which some OpenAPI tools still reject.
    eventRates: Annotated[list[tuple[int, float]], WithJsonSchema({
        "type": "array", "description": "[batch time (ms), records/s] for each retained batch",
        "items": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}})]


class BatchInfo(BaseModel):
    """``GET /api/v1/streaming/batches``: Spark's ``BatchInfo``; ``batchId`` is the batch
    time in ms."""

    batchId: int
    batchTime: str
    status: BatchStatus
    batchDuration: int = Field(description="batch interval, ms")
    inputSize: int = Field(description="records in the batch")
    schedulingDelay: int | None = Field(None, description="ms from submission to start")
    processingTime: int | None = Field(None, description="ms from start to end")
    totalDelay: int | None = Field(None, description="scheduling delay + processing time (ms), as Spark")
    numActiveOutputOps: int
    numCompletedOutputOps: int
    numFailedOutputOps: int
    numTotalOutputOps: int
    firstFailureReason: str | None = None
    offsetRanges: list[dict[str, Any]] | None = Field(
        None,
        description="Kafka direct streams: the offset ranges the batch read "
                    "(topic, partition, fromOffset, untilOffset), as in the batch's metadata "
                    "checkpoint; absent when the job has no direct stream (Spark's shape)")


class OutputOperationInfo(BaseModel):
    """``GET /api/v1/streaming/batches/{batchId}/operations``: Spark's
    ``OutputOperationInfo``. ``jobIds`` is always empty: output operations here do not
    map onto numbered Spark jobs."""

    outputOpId: int
    name: str
    description: str
    startTime: str | None = None
    endTime: str | None = None
    duration: int | None = Field(None, description="ms")
    failureReason: str | None = None
    jobIds: list[int]


class ErrorBody(BaseModel):
    """A request the service refused, and why."""

    detail: str


class Health(BaseModel):
    status: str = Field(description="'ok' while the process serves requests")
    state: str = Field(description="the StreamingContext's state: INITIALIZED, ACTIVE or STOPPED")


class Readiness(BaseModel):
    ready: bool
    reason: str = Field(description="why the service is (not) ready")
    state: str
    numTotalCompletedBatches: int
    lagMs: int = Field(description="age of the oldest unfinished batch, ms")
    maxLagMs: int = Field(description="the bound on lagMs above which the service is not ready")
    checkpointAgeS: float | None = Field(None, description="seconds since the last metadata "
                                         "checkpoint (None without checkpoints)")
    maxCheckpointAgeS: float | None = Field(None, description="the bound on checkpointAgeS above "
                                            "which the service is not ready")


class Recovery(BaseModel):
    """How the context started from a checkpoint."""

    checkpointBatchTime: int = Field(description="batch time (ms) of the checkpoint recovered from")
    stateRestored: bool = Field(description="False after a fresh start (discardState)")
    replayedBlocks: dict[str, int] = Field(description="write-ahead log blocks by fate: batch (back "
                                           "to their batch), settled (already consumed), new, duplicate")


class CheckpointStatus(BaseModel):
    """``GET /api/v1/streaming/checkpoint``: the checkpoints of the context (beyond Spark)."""

    enabled: bool
    location: str | None = None
    written: int = Field(default=0, description="checkpoints written")
    failures: int = Field(default=0, description="failed attempts in all (each is retried)")
    consecutiveFailures: int = Field(default=0, description="failed attempts since the last success")
    lastError: str | None = Field(default=None, description="error of the current failing streak")
    lastErrorTime: str | None = None
    lastBatchTime: int | None = Field(default=None, description="batch time (ms) of the last metadata checkpoint")
    lastSuccessTime: str | None = None
    ageSeconds: float | None = Field(default=None, description="since the last metadata checkpoint (or the start)")
    maxAgeSeconds: float | None = Field(default=None, description="above it /readyz answers 503")
    stopAfterSeconds: float | None = Field(default=None, description="failing this long, the daemon stops the job")
    healthy: bool = True
    recovery: Recovery | None = None
