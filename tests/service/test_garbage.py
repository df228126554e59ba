"""Garbage requests get a 4xx whose message says what was wrong; the app keeps serving."""

from __future__ import annotations

import pytest

from .conftest import START_MS, Running

B = "/api/v1/streaming/batches"
CASES = [
    # (path, status, words the message must hold)
    (f"{B}/abc", 400, ["batchId (path)", "valid integer", "'abc'"]),
    (f"{B}/-1", 400, ["batchId (path)", "greater than or equal to 0", "'-1'"]),
    (f"{B}/1.5", 400, ["batchId (path)", "valid integer", "'1.5'"]),
    (f"{B}/{'9' * 30}", 400, ["batchId (path)", "less than or equal to 9223372036854775807"]),
    (f"{B}/{'9' * 5000}", 400, ["batchId (path)", "..."]),
    (f"{B}?status=DONE", 400, ["status (query)", "'COMPLETED', 'QUEUED' or 'PROCESSING'", "'DONE'"]),
    (f"{B}?status=completed", 400, ["status (query)", "'completed'"]),
    (f"{B}?status=COMPLETED&status=", 400, ["status (query)", "''"]),
    (f"{B}/123", 404, ["unknown batch: 123"]),
    (f"{B}/{START_MS + 1000}/operations/99", 404, ["unknown output operation: 99"]),
    (f"{B}/{START_MS + 1000}/operations/x", 400, ["outputOpId (path)", "'x'"]),
    (f"{B}/{START_MS + 1000}/operations/{1 << 31}", 400, ["outputOpId (path)", "2147483647"]),
    (f"{B}/7/operations", 404, ["unknown batch: 7"]),
    ("/api/v1/streaming/receivers/7", 404, ["unknown receiver: 7"]),
    ("/api/v1/streaming/receivers/%00", 400, ["streamId (path)"]),
    ("/api/v1/streaming/statisticsX", 404, ["Not Found"]),
    ("/api/v2/streaming/statistics", 404, ["Not Found"]),
]


@pytest.mark.parametrize(("path", "status", "words"), CASES, ids=[c[0][:60] for c in CASES])
def test_garbage_gets_a_clear_4xx(running: Running, path: str, status: int, words: list[str]) -> None:
    running.batch(["a"])
    with running.client() as client:
        response = client.get(path)
        assert response.status_code == status, response.text
        detail = response.json()["detail"]
        for word in words:
            assert word in detail, detail
        assert len(detail) < 400            # a huge input is not echoed back whole
        # and the app goes on serving
        assert client.get("/api/v1/streaming/statistics").json()["numTotalCompletedBatches"] == 1


def test_wrong_methods_and_bodies_are_refused(running: Running) -> None:
    running.batch()
    with running.client() as client:
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            response = client.request(method, "/api/v1/streaming/statistics", content=b"\x00" * 10_000)
            assert response.status_code == 405
            assert response.json()["detail"] == "Method Not Allowed"
        assert client.get("/api/v1/streaming/statistics?unknown=%ff%fe&x=" + "y" * 10_000).status_code == 200
        running.batch(["b", "c"])
        stats = client.get("/api/v1/streaming/statistics").json()
        assert (stats["numTotalCompletedBatches"], stats["numReceivedRecords"]) == (2, 2)


def test_asset_routes_take_no_parameters(running: Running) -> None:
    with running.client() as client:
        page = client.get("/static/dashboard.js", params={"name": "../cli.py", "path": "../cli.py"})
        assert page.status_code == 200 and "sparkDate" in page.text
        assert client.get("/static/../cli.py").status_code == 404
        assert client.get("/static/cli.py").status_code == 404
