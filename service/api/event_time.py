"""``GET /api/v1/streaming/eventtime``: each event-time windowed operator's watermark, open
windows and late records (beyond Spark's REST API).

>>> from dstream.streaming.listener import EventTimeInfo
>>> operator_report("counts.state", EventTimeInfo("clicks", 61_000, 1, 4), 9).lateRecords
9
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from fastapi import FastAPI
from pydantic import BaseModel, Field

from dstream.streaming.listener import EventTimeInfo

from ..context_view import Snapshot

__all__ = ["EventTimeOperator", "operator_report", "add_event_time_routes"]


class EventTimeOperator(BaseModel):
    """One event-time windowed operator after the last completed batch."""

    operatorId: str = Field(description="the operator's id (its state is saved under it)")
    streamId: str = Field(description="the event-time stream it reads")
    watermark: str | None = Field(None, description="watermark, ISO 8601 UTC (missing before any record)")
    watermarkMs: int | None = Field(None, description="watermark, ms since the epoch")
    openWindows: int = Field(description="windows or sessions open")
    lateRecords: int = Field(description="records left out of closed windows so far")
    lastBatchLateRecords: int = Field(description="late records of the last batch")


def operator_report(op: str, report: EventTimeInfo, late_total: int) -> EventTimeOperator:
    wm = report.watermark_ms
    iso = None if wm is None else dt.datetime.fromtimestamp(wm / 1000, dt.timezone.utc).isoformat()
    return EventTimeOperator(operatorId=op, streamId=report.events_id, watermark=iso,
                             watermarkMs=wm, openWindows=report.open_windows,
                             lateRecords=late_total, lastBatchLateRecords=report.late_records)


def add_event_time_routes(app: FastAPI, snapshot: Callable[[], Snapshot]) -> None:
    common: dict[str, Any] = {"response_model_exclude_none": True, "tags": ["event time"]}

    @app.get("/api/v1/streaming/eventtime", response_model=list[EventTimeOperator], **common)
    def get_event_time() -> list[EventTimeOperator]:
        """Every event-time windowed operator: watermark, open windows, late records."""
        return [operator_report(op, report, late)
                for op, (report, late) in sorted(snapshot().event_time.items())]
