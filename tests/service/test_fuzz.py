"""Schemathesis fuzzes the app from its own OpenAPI schema (in-process ASGI transport): every
response conforms to the schema (status code, content type, body) and none is a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from .conftest import running_job


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    with running_job(tmp_path_factory.mktemp("fuzz")) as r:
        r.receiver.report_bad_record("undecodable", "not UTF-8")
        for records in (["a", "b"], [], ["c"]):
            r.batch(records)
        yield schemathesis.openapi.from_asgi("/openapi.json", r.app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_app_conforms_to_its_schema(case: schemathesis.Case) -> None:
    response = case.call_and_validate()
    assert response.status_code < 500
