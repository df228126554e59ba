"""With a token, every route of the app refuses requests without it and serves them with it."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route

from dstream.service.api import create_app

from .conftest import START_MS, running_job

TOKEN = "s3cret-token"


def concrete_paths(app, stream_id: int) -> list[str]:
    """Every route of the app, its path parameters filled with values that exist."""
    values = {"batchId": str(START_MS + 1000), "outputOpId": "0", "streamId": str(stream_id)}
    paths = []
    for route in app.routes:
        if not isinstance(route, (APIRoute, Route)) or "GET" not in (route.methods or ()):
            continue
        paths.append(re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values[m.group(1)], route.path))
    return paths


def test_every_route_needs_the_token(tmp_path) -> None:
    with running_job(tmp_path, token=TOKEN) as r, r.client() as client:
        r.batch(["a", "b"])
        paths = concrete_paths(r.app, r.receiver_stream_id)
        # the enumeration covers the API, operations, schema, docs, dashboard and its assets
        for expected in ("/api/v1/streaming/statistics", "/metrics", "/healthz", "/readyz",
                         "/openapi.json", "/docs", "/", "/static/dashboard.js",
                         f"/api/v1/streaming/batches/{START_MS + 1000}/operations/0"):
            assert expected in paths
        assert len(paths) == len(set(paths)) >= 15
        for path in paths:
            missing = client.get(path)
            assert missing.status_code == 401, path
            assert missing.headers["www-authenticate"].startswith("Bearer")
            assert "missing bearer token" in missing.json()["detail"]
            wrong = client.get(path, headers={"Authorization": "Bearer not-the-token"})
            assert wrong.status_code == 401 and wrong.json()["detail"] == "invalid bearer token", path
            basic = client.get(path, headers={"Authorization": "Basic dXNlcjpwYXNz"})
            assert basic.status_code == 401, path
            ok = client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert ok.status_code == 200, (path, ok.text)
        # unknown paths are refused before routing too: nothing is revealed without the token
        assert client.get("/nope").status_code == 401
        assert client.get("/nope", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_dashboard_login_sets_a_cookie_that_opens_every_route(tmp_path) -> None:
    with running_job(tmp_path, token=TOKEN) as r, r.client(follow_redirects=False) as client:
        r.batch()
        assert client.get("/?token=wrong").status_code == 401
        login = client.get(f"/?token={TOKEN}")
        assert login.status_code == 303 and login.headers["location"] == "/"
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
        # the client keeps the cookie: the page and its API calls now pass
        for path in concrete_paths(r.app, r.receiver_stream_id):
            assert client.get(path).status_code == 200, path
        client.cookies.clear()
        client.cookies.set("dstream_session", "forged")
        assert client.get("/api/v1/streaming/statistics").status_code == 401


def test_schema_declares_the_bearer_scheme(tmp_path) -> None:
    with running_job(tmp_path, token=TOKEN) as r, r.client() as client:
        schema = client.get("/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert schema["components"]["securitySchemes"] == {"bearer": {"type": "http", "scheme": "bearer"}}
    for methods in schema["paths"].values():
        for op in methods.values():
            assert op["security"] == [{"bearer": []}]
            assert "401" in op["responses"]


def test_an_empty_token_is_refused(running) -> None:
    with pytest.raises(ValueError, match="non-empty token"):
        create_app(running.view, "")
