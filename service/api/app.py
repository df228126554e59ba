"""``create_app(view, token=None)``: the monitoring app of one streaming context.

>>> from fastapi.testclient import TestClient
>>> from dstream import Context, StreamingContext
>>> from dstream.streaming.testing import advance_batch
>>> from dstream.service.context_view import ContextView
>>> with Context("local") as ctx:
...     ssc = StreamingContext(ctx, 1, clock="manual")
...     ssc.queueStream([["a"]]).foreachRDD(lambda rdd: None)
...     app = create_app(ContextView(ssc))
...     ssc.start()
...     _ = advance_batch(ssc), ssc._bus.wait_until_empty()
...     with TestClient(app) as client:
...         stats = client.get("/api/v1/streaming/statistics").json()
...         ready = client.get("/readyz").status_code
...     ssc.stop(stopSparkContext=False)
>>> stats["numTotalCompletedBatches"], stats["batchDuration"], ready
(1, 1000, 200)
"""

from __future__ import annotations

from html import escape
from importlib import resources
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from ..context_view import ContextView
from .auth import TokenAuth
from .docs import render_docs
from .metrics import StreamingMetrics
from .models import ErrorBody, Health, Readiness
from .event_time import add_event_time_routes
from .streaming import add_streaming_routes

__all__ = ["create_app"]

_STATIC = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
_BAD_REQUEST = "a parameter is malformed or out of range"


def _static(name: str) -> str:
    return resources.files("dstream.service").joinpath("static", name).read_text(encoding="utf-8")


def _asset(name: str, media_type: str) -> Callable[[], Response]:
    """A route serving one of the fixed files (a function without parameters: nothing a
    request sends can choose which file)."""
    def serve() -> Response:
        return Response(_static(name), media_type=media_type)
    return serve


def _describe(error: dict[str, Any]) -> str:
    loc = [str(p) for p in error.get("loc", ())]
    where = f"{loc[1]} ({loc[0]})" if len(loc) > 1 else "".join(loc) or "request"
    given = repr(error.get("input"))
    if len(given) > 80:
        given = given[:77] + "..."
    return f"{where}: {error.get('msg', 'invalid')}, got {given}"


def create_app(view: ContextView, token: str | None = None, *,
               ready_max_lag_batches: float = 10.0, refresh_ms: int = 1000) -> FastAPI:
    """The FastAPI app over ``view``; with ``token``, every route needs it.

    ``/readyz`` answers 200 once a batch has completed, and 503 before, after the context
    stopped, while the oldest unfinished batch is more than ``ready_max_lag_batches``
    batch intervals old (the stream is falling behind), or while the last metadata
    checkpoint is older than ``dstream.streaming.checkpoint.maxAge`` (checkpoints stopped).

    >>> from fastapi.testclient import TestClient
    >>> from dstream import Context, StreamingContext
    >>> from dstream.service import ContextView
    >>> from dstream.streaming.testing import advance_batch
    >>> with Context("local") as ctx:
    ...     ssc = StreamingContext(ctx, 1, clock="manual")
    ...     ssc.queueStream([["a", "b"]]).foreachRDD(lambda rdd: None)
    ...     view = ContextView(ssc)
    ...     app = create_app(view, token="s3cret")
    ...     ssc.start()
    ...     _ = advance_batch(ssc), view.wait_for_events()
    ...     with TestClient(app) as client:
    ...         refused = client.get("/readyz").status_code
    ...         ready = client.get("/readyz", headers={"Authorization": "Bearer s3cret"}).status_code
    ...         metrics = client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).text
    ...     ssc.stop(stopSparkContext=False)
    >>> refused, ready
    (401, 200)
    >>> [line for line in metrics.splitlines() if line.startswith("dstream_batches_completed_total")]
    ['dstream_batches_completed_total 1.0']
    """
    if token is not None and (not isinstance(token, str) or not token):
        raise ValueError("create_app needs a non-empty token (or None for no token)")
    if ready_max_lag_batches <= 0:
        raise ValueError(f"ready_max_lag_batches must be positive, got {ready_max_lag_batches!r}")
    app = FastAPI(title=f"dstream: {view.app_name}", version="1",
                  description="Monitoring of one dstream streaming context: Spark's streaming "
                              "REST API, Prometheus metrics, health and a live dashboard.",
                  docs_url=None, redoc_url=None)
    app.state.view = view

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": "; ".join(_describe(e) for e in exc.errors())}, status_code=400)

    add_streaming_routes(app, view.snapshot)
    add_event_time_routes(app, view.snapshot)
    _add_operations_routes(app, view, int(ready_max_lag_batches * view.batch_duration_ms))
    _add_pages(app, view, refresh_ms)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            _document_errors(schema, token is not None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    if token is not None:
        app.add_middleware(TokenAuth, token=token)
    return app


def _add_operations_routes(app: FastAPI, view: ContextView, max_lag_ms: int) -> None:
    """/metrics, /healthz, /readyz."""
    metrics = StreamingMetrics(view)
    app.state.metrics = metrics

    @app.get("/metrics", response_class=Response, tags=["operations"], responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}},
              "description": "Prometheus text exposition format"}})
    def get_metrics() -> Response:
        """Prometheus metrics: delay histograms, record and batch counters, receivers up."""
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", response_model=Health, tags=["operations"])
    def healthz() -> Health:
        """Liveness: 200 while the process serves requests (draining included)."""
        return Health(status="ok", state=view.state())

    @app.get("/readyz", response_model=Readiness, tags=["operations"],
             responses={503: {"model": Readiness, "description": "not ready, with the reason"}})
    def readyz() -> JSONResponse:
        """Readiness: a batch has completed, the stream is not falling behind and its
        checkpoints are being written."""
        snap = view.snapshot()
        lag = snap.lag_ms()
        checkpoint = snap.checkpoint
        if snap.state != "ACTIVE":
            ready, reason = False, f"the streaming context is {snap.state}"
        elif snap.total_completed == 0:
            ready, reason = False, "no batch has completed yet"
        elif lag > max_lag_ms:
            ready, reason = False, (f"falling behind: the oldest unfinished batch is {lag} ms old "
                                    f"(bound {max_lag_ms} ms)")
        elif checkpoint is not None and not checkpoint["healthy"]:
            error = checkpoint["last_error"]
            ready, reason = False, (
                f"checkpoints stopped: the last one was written {checkpoint['age_s']:.0f} s ago "
                f"(bound {checkpoint['max_age_s']:g} s)"
                + (f"; {checkpoint['consecutive_failures']} attempts failed in a row, last: {error}"
                   if error else ""))
        else:
            ready, reason = True, "ready"
        body = Readiness(ready=ready, reason=reason, state=snap.state,
                         numTotalCompletedBatches=snap.total_completed, lagMs=lag, maxLagMs=max_lag_ms,
                         checkpointAgeS=None if checkpoint is None else round(checkpoint["age_s"], 3),
                         maxCheckpointAgeS=None if checkpoint is None else checkpoint["max_age_s"])
        return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


def _add_pages(app: FastAPI, view: ContextView, refresh_ms: int) -> None:
    """The dashboard, its two assets and the API reference."""

    @app.get("/", response_class=HTMLResponse, tags=["dashboard"], responses={
        200: {"content": {"text/html": {"schema": {"type": "string"}}}, "description": "the page"}})
    def dashboard() -> HTMLResponse:
        """The dashboard: Spark's Streaming tab (charts and batch tables), updating live."""
        page = (_static("dashboard.html").replace("{{APP_NAME}}", escape(view.app_name))
                .replace("{{REFRESH_MS}}", str(int(refresh_ms))))
        return HTMLResponse(page)

    for name, media_type in _STATIC.items():
        app.add_api_route(f"/static/{name}", _asset(name, media_type), methods=["GET"],
                          include_in_schema=False)

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs() -> HTMLResponse:
        """The reference of these routes, rendered from the OpenAPI schema (``/openapi.json``)."""
        return HTMLResponse(render_docs(app.openapi()))


def _document_errors(schema: dict[str, Any], with_token: bool) -> None:
    """Validation errors are 400 here (not FastAPI's 422); with a token, every route may
    answer 401, and the schema declares the bearer scheme."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    components.setdefault("ErrorBody", ErrorBody.model_json_schema())
    ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    for methods in schema.get("paths", {}).values():
        for op in methods.values():
            responses = op.setdefault("responses", {})
            if responses.pop("422", None) is not None or op.get("parameters"):
                responses["400"] = {"description": _BAD_REQUEST, **ref}
            if with_token:
                responses["401"] = {"description": "missing or invalid bearer token", **ref}
                op["security"] = [{"bearer": []}]
    if with_token:
        schema["components"].setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
