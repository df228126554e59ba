"""Event-time operators in the REST API and /metrics: watermark, open windows, late records."""

from __future__ import annotations

from typing import Any

from .conftest import START_MS, running_job
from .test_api import metrics

S = START_MS / 1000


def event_counts(ssc: Any) -> None:
    clicks = ssc.queueStream([[("a", S + 0.5), ("b", S + 1.2)], [("c", S + 0.3)], []])
    counts = clicks.withEventTime(lambda kv: kv[1], 0).countByKeyAndEventWindow(1).setName("clicks")
    counts.foreachRDD(lambda rdd: rdd.collect())


def test_watermark_open_windows_and_late_records_are_served(tmp_path: Any) -> None:
    with running_job(tmp_path, extra=event_counts) as r, r.client() as client:
        r.batch()
        r.batch()
        r.view.wait_for_events()
        [report] = client.get("/api/v1/streaming/eventtime").json()
        assert report == {"operatorId": "clicks.state", "streamId": report["streamId"],
                          "watermark": "2023-11-14T22:13:21.200000+00:00",
                          "watermarkMs": START_MS + 1200, "openWindows": 1, "lateRecords": 1,
                          "lastBatchLateRecords": 1}
        assert report["streamId"].endswith(".withEventTime.events")
        m = metrics(client)
        labels = f"operator=clicks.state,stream={report['streamId']}"
        assert m[f"dstream_event_time_watermark_seconds{{{labels}}}"] == S + 1.2
        assert m[f"dstream_event_time_open_windows{{{labels}}}"] == 1
        assert m[f"dstream_event_time_late_records_total{{{labels}}}"] == 1
