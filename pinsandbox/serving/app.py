"""The HTTP API over one sandbox (FastAPI). Every route but /healthz needs the sandbox's bearer token.

    GET  /pins/{pin_id}/similar?k=10        pins nearest in the proprietary embedding
    GET  /pinners/{pinner_id}/homefeed?k=10 the taste graph's blended, diverse homefeed
    POST /events                            {pinner_id, pin_id, action, ts?, board_id?}: logged, then applied
    POST /navigator                         {text, k?, max_price?}: retrieval → ranking → pins + answer
    GET  /healthz                           liveness and what is loaded (no token: for probes)
    GET  /metrics                           Prometheus text: request counts and latency histograms
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Literal

from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from pinsandbox.errors import InvalidInput, NotFound
from pinsandbox.schema import ACTIONS
from pinsandbox.serving.navigator import NavigatorBusy

MAX_BODY_BYTES = 16 * 1024  # an event or a Navigator request is well under 1 KiB
ID = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pinner_id: str = ID
    pin_id: str = ID
    action: Literal[ACTIONS]  # type: ignore[valid-type]  # the schema's actions, expanded by typing
    ts: str | None = Field(default=None, max_length=40, description="ISO-8601; default: when received")
    board_id: str | None = Field(default=None, min_length=1, max_length=128)


class NavigatorRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=500)
    k: int = Field(default=8, ge=1, le=50)
    max_price: float | None = Field(default=None, gt=0)


class BodyLimit:
    """Pure ASGI middleware: refuse bodies over `limit` bytes with 413 — by the declared length, or by counting
    while reading (chunked uploads). Bodies are small, so it buffers one and hands it on whole."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await _too_large(send, self.limit)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                return await _too_large(send, self.limit)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(send, limit):
    body = f'{{"detail":"request body over {limit} bytes: send one event or one request per call"}}'.encode()
    await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def create_app(state, token: str) -> FastAPI:
    """The app over a loaded `ServingState`; `token` is the sandbox's API token."""
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    app = FastAPI(title=f"pinsandbox — {state.sandbox.owner}", version="1")
    registry = CollectorRegistry()
    requests = Counter("pinsandbox_requests", "HTTP requests", ["route", "method", "status"], registry=registry)
    latency = Histogram("pinsandbox_request_seconds", "Request latency in seconds", ["route"], registry=registry,
                        buckets=LATENCY_BUCKETS)
    bearer = HTTPBearer(auto_error=False)

    # async: a sync dependency would cost every request a hop through the thread pool
    async def authorised(cred: HTTPAuthorizationCredentials | None = Depends(bearer)):  # noqa: B008 (FastAPI's idiom)
        if cred is None or not secrets.compare_digest(cred.credentials.encode(), token.encode()):
            raise HTTPException(401, "missing or wrong API token: send `Authorization: Bearer <token>` "
                                     "(the token is api_token in the sandbox's sandbox.toml)",
                                headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(NotFound)
    async def not_found(_request, exc):
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(NavigatorBusy)
    async def busy(_request, exc):
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(InvalidInput)
    async def invalid(_request, exc):
        return JSONResponse({"detail": str(exc)}, status_code=422)

    auth = [Depends(authorised)]

    @app.get("/healthz")
    def healthz():
        return state.health()

    @app.get("/metrics", dependencies=auth, response_class=PlainTextResponse)
    def metrics():
        return PlainTextResponse(generate_latest(registry).decode(), media_type="text/plain; version=0.0.4")

    # The two hot reads answer with ready-made JSON: plain dicts of str/float need no jsonable_encoder pass.
    @app.get("/pins/{pin_id}/similar", dependencies=auth)
    async def similar(pin_id: str, k: int = Query(10, ge=1, le=100)):  # ~1 ms of numpy: no thread hop
        return _json({"pin_id": pin_id, "vectors": state.vectors_id, "pins": state.similar(pin_id, k)})

    @app.get("/pinners/{pinner_id}/homefeed", dependencies=auth)
    async def homefeed(pinner_id: str, k: int = Query(10, ge=1, le=100)):
        pins = state.cached_homefeed(pinner_id, k)
        if pins is None:  # ~10 ms of ranking: in the thread pool, so cached reads never wait behind it
            pins = await run_in_threadpool(state.homefeed, pinner_id, k)
        return _json({"pinner_id": pinner_id, "pins": pins})

    @app.post("/events", dependencies=auth, status_code=201)
    def events(event: Event, background: BackgroundTasks):  # sync: the fsync waits in the thread pool
        seq = state.record_event(event.model_dump())
        # The event dropped the pinner's cached homefeed; recompute it after the answer, not on their next read.
        background.add_task(state.refresh, event.pinner_id)
        return {"seq": seq, "applied": True}

    @app.post("/navigator", dependencies=auth)
    async def navigator(req: NavigatorRequest):  # the CPU is spent in Navigator's worker, not on this loop
        return _json(await state.nav.ask_async(req.text, req.k, req.max_price))

    return BodyLimit(Measure(app, requests, latency), MAX_BODY_BYTES)


def _json(obj) -> Response:
    return Response(json.dumps(obj, separators=(",", ":")), media_type="application/json")


class Measure:
    """Pure ASGI middleware (cheaper than Starlette's BaseHTTPMiddleware): count and time every request by its
    route template — `/pins/{pin_id}/similar`, not the id — so the label values stay few."""

    def __init__(self, app, requests, latency):
        self.app, self.requests, self.latency = app, requests, latency

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, status, answered = time.perf_counter(), 500, None

        async def send_status(message):
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                answered = time.perf_counter()  # background tasks (a homefeed refresh) run after this: not latency

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            name = route.path if route is not None else "unmatched"
            self.latency.labels(name).observe((answered or time.perf_counter()) - started)
            self.requests.labels(name, scope["method"], str(status)).inc()
