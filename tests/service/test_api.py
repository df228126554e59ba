"""The JSON routes and /metrics over a real StreamingContext stepped on a manual clock."""

from __future__ import annotations

import threading

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dstream.service.api.models import spark_date

from .conftest import START_MS, Running, running_job

# Field names of Spark's status/api/v1/streaming/api.scala
SPARK_STATISTICS = {"startTime", "batchDuration", "numReceivers", "numActiveReceivers",
                    "numInactiveReceivers", "numTotalCompletedBatches", "numRetainedCompletedBatches",
                    "numActiveBatches", "numProcessedRecords", "numReceivedRecords", "avgInputRate",
                    "avgSchedulingDelay", "avgProcessingTime", "avgTotalDelay"}
SPARK_RECEIVER = {"streamId", "streamName", "isActive", "executorId", "executorHost", "lastErrorTime",
                  "lastErrorMessage", "lastError", "avgEventRate", "eventRates"}
SPARK_BATCH = {"batchId", "batchTime", "status", "batchDuration", "inputSize", "schedulingDelay",
               "processingTime", "totalDelay", "numActiveOutputOps", "numCompletedOutputOps",
               "numFailedOutputOps", "numTotalOutputOps", "firstFailureReason"}
SPARK_OPERATION = {"outputOpId", "name", "description", "startTime", "endTime", "duration",
                   "failureReason", "jobIds"}

FEED = [["a", "b", "c"], [], ["d"] * 5, ["e", "f"]]


def metrics(client) -> dict[str, float]:
    """Sample name (with labels) -> value."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return out


def test_routes_report_the_fed_records_and_batches(running: Running) -> None:
    times = [running.batch(records) for records in FEED]
    assert times == [START_MS + 1000 * i for i in range(1, 5)]
    with running.client() as client:
        stats = client.get("/api/v1/streaming/statistics").json()
        assert set(stats) == SPARK_STATISTICS
        assert stats == {
            "startTime": spark_date(START_MS), "batchDuration": 1000,
            "numReceivers": 1, "numActiveReceivers": 1, "numInactiveReceivers": 0,
            "numTotalCompletedBatches": 4, "numRetainedCompletedBatches": 4, "numActiveBatches": 0,
            "numProcessedRecords": 10, "numReceivedRecords": 10,
            "avgInputRate": 2.5,   # (3 + 0 + 5 + 2) records / 4 batches of 1 s
            "avgSchedulingDelay": 0, "avgProcessingTime": 0, "avgTotalDelay": 0,  # manual clock
        }
        assert stats["startTime"] == "2023-11-14T22:13:20.000GMT"

        batches = client.get("/api/v1/streaming/batches").json()
        assert [b["batchId"] for b in batches] == list(reversed(times))
        assert [b["inputSize"] for b in batches] == [2, 5, 0, 3]
        for b in batches:
            assert set(b) == SPARK_BATCH - {"firstFailureReason"}
            assert b["status"] == "COMPLETED" and b["batchDuration"] == 1000
            assert b["batchTime"] == spark_date(b["batchId"])
            assert (b["numTotalOutputOps"], b["numCompletedOutputOps"]) == (3, 3)
            assert (b["numActiveOutputOps"], b["numFailedOutputOps"]) == (0, 0)
        assert client.get("/api/v1/streaming/batches", params={"status": "COMPLETED"}).json() == batches
        assert client.get("/api/v1/streaming/batches",
                          params=[("status", "QUEUED"), ("status", "PROCESSING")]).json() == []
        assert client.get(f"/api/v1/streaming/batches/{times[2]}").json() == batches[1]

        ops = client.get(f"/api/v1/streaming/batches/{times[0]}/operations").json()
        assert [op["outputOpId"] for op in ops] == [0, 1, 2]
        for op in ops:
            assert set(op) == SPARK_OPERATION - {"failureReason"}
            assert op["name"] == "foreachRDD" and op["jobIds"] == [] and op["duration"] == 0
            assert op["startTime"] == op["endTime"] == spark_date(times[0])
        assert client.get(f"/api/v1/streaming/batches/{times[0]}/operations/1").json() == ops[1]

        receivers = client.get("/api/v1/streaming/receivers").json()
        sid = running.receiver_stream_id
        assert len(receivers) == 1
        receiver = receivers[0]
        assert set(receiver) == SPARK_RECEIVER - {"lastErrorTime", "lastErrorMessage", "lastError"}
        assert receiver["streamId"] == sid and receiver["isActive"] is True
        assert receiver["streamName"] == f"PushReceiver-{sid}"
        assert receiver["eventRates"] == [[t, float(n)] for t, n in zip(times, running.fed)]
        assert receiver["avgEventRate"] == 2.5
        assert client.get(f"/api/v1/streaming/receivers/{sid}").json() == receiver

        m = metrics(client)
    assert m["dstream_input_records_total"] == m["dstream_processed_records_total"] == 10
    assert m["dstream_batches_completed_total"] == 4
    assert m["dstream_batches_failed_total"] == 0
    for name in ("scheduling_delay", "processing_time", "total_delay"):
        assert m[f"dstream_batch_{name}_seconds_count"] == 4
        assert m[f"dstream_batch_{name}_seconds_sum"] == 0
    assert m[f"dstream_receiver_up{{name=PushReceiver-{sid},stream_id={sid}}}"] == 1
    assert m["dstream_batches_active{status=QUEUED}"] == 0


def test_readiness_follows_the_batches(tmp_path) -> None:
    """Not ready before the first batch; ready after it; not ready while a batch holds the
    stream back by more than the bound; ready again once it caught up."""
    entered, release = threading.Event(), threading.Event()

    def block_second_batch(ssc) -> None:
        def hold(time, rdd) -> None:
            if time.timestamp() * 1000 == START_MS + 2000:
                entered.set()
                release.wait(30)
        ssc.queueStream([]).foreachRDD(hold)

    with running_job(tmp_path, ready_max_lag_batches=1.5, extra=block_second_batch) as r, \
            r.client() as client:
        not_yet = client.get("/readyz")
        assert not_yet.status_code == 503
        assert not_yet.json()["reason"] == "no batch has completed yet"
        r.batch(["x"])
        ready = client.get("/readyz").json()
        # the checkpoint of the batch is written off the batch thread: 0 s, or 1 s before it
        assert ready.pop("checkpointAgeS") in (0.0, 1.0)
        assert ready == {
            "ready": True, "reason": "ready", "state": "ACTIVE", "numTotalCompletedBatches": 1,
            "lagMs": 0, "maxLagMs": 1500, "maxCheckpointAgeS": 60.0}

        r.clock.set_time(START_MS + 2000)           # batch 2 starts and blocks in `hold`
        assert entered.wait(30)
        r.events.wait("started", START_MS + 2000)
        r.clock.set_time(START_MS + 3000)           # batch 3 queues behind it
        r.events.wait("submitted", START_MS + 3000)
        r.view.wait_for_events()
        assert client.get("/readyz").status_code == 200           # 1000 ms behind: within 1500
        statuses = {b["batchId"]: b["status"] for b in client.get("/api/v1/streaming/batches").json()}
        assert statuses == {START_MS + 1000: "COMPLETED", START_MS + 2000: "PROCESSING",
                            START_MS + 3000: "QUEUED"}
        processing = client.get("/api/v1/streaming/batches", params={"status": "PROCESSING"}).json()
        assert [b["batchId"] for b in processing] == [START_MS + 2000]
        assert "processingTime" not in processing[0] and processing[0]["schedulingDelay"] == 0
        assert client.get("/api/v1/streaming/statistics").json()["numActiveBatches"] == 2

        r.clock.set_time(START_MS + 4000)           # batch 4 queues: 2000 ms behind
        r.events.wait("submitted", START_MS + 4000)
        r.view.wait_for_events()
        behind = client.get("/readyz")
        assert behind.status_code == 503
        assert behind.json()["reason"].startswith("falling behind: the oldest unfinished batch is 2000 ms old")
        m = metrics(client)
        assert m["dstream_batches_active{status=QUEUED}"] == 2
        assert m["dstream_batches_active{status=PROCESSING}"] == 1
        assert m["dstream_batch_lag_seconds"] == 2.0

        release.set()
        assert r.ssc._scheduler.wait_for_batch(START_MS + 4000, 30)
        r.view.wait_for_events()
        assert client.get("/readyz").status_code == 200
        stats = client.get("/api/v1/streaming/statistics").json()
        assert stats["numTotalCompletedBatches"] == 4 and stats["numActiveBatches"] == 0
        # batch 3 was submitted at 3000 and started when batch 2 ended (clock at 4000)
        assert client.get(f"/api/v1/streaming/batches/{START_MS + 3000}").json()["schedulingDelay"] == 1000


def test_bad_records_and_failed_batches_are_counted(tmp_path) -> None:
    def fail_on_boom(ssc) -> None:
        def check(rdd) -> None:
            if "boom" in rdd.collect():
                raise RuntimeError("boom in the batch")
        ssc.queueStream([[], ["boom"]]).foreachRDD(check)

    with running_job(tmp_path, extra=fail_on_boom) as r, r.client() as client:
        r.receiver.report_bad_record("undecodable", "bytes that are not UTF-8", offset=7)
        r.batch(["ok"])
        r.receiver.report_bad_record("too_long", "a line past the limit")
        r.batch()
        failed = client.get(f"/api/v1/streaming/batches/{START_MS + 2000}").json()
        assert failed["numFailedOutputOps"] == 1 and failed["numCompletedOutputOps"] == 3
        assert "boom in the batch" in failed["firstFailureReason"]
        op = client.get(f"/api/v1/streaming/batches/{START_MS + 2000}/operations/3").json()
        assert "RuntimeError: boom in the batch" in op["failureReason"]
        m = metrics(client)
        sid = r.receiver_stream_id
        assert m["dstream_batches_failed_total"] == 1
        assert m["dstream_batches_completed_total"] == 2
        assert m[f"dstream_receiver_bad_records_total{{reason=undecodable,stream_id={sid}}}"] == 1
        assert m[f"dstream_receiver_bad_records_total{{reason=too_long,stream_id={sid}}}"] == 1


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json", "/docs", "/", "/static/dashboard.js"])
def test_operational_routes_answer(running: Running, path: str) -> None:
    with running.client() as client:
        assert client.get(path).status_code == 200
