"""The HTTP API over one sandbox (FastAPI). Every route but /healthz needs the sandbox's bearer token.

    GET  /pins/{pin_id}/similar?k=10        pins nearest in the proprietary embedding
    GET  /pinners/{pinner_id}/homefeed?k=10 the taste graph's blended, diverse homefeed
    POST /events                            {pinner_id, pin_id, action, ts?, board_id?}: logged, then applied
    POST /navigator                         {text, k?, max_price?}: retrieval → ranking → pins + answer
    POST /navigator/voice?k=8&speak=true    a spoken request (WAV, FLAC or OGG body): transcript, pins, answer, the
                                            answer spoken (WAV, base64)
    GET  /healthz                           liveness and what is loaded (no token: for probes)
    GET  /metrics                           Prometheus text: request counts and latency histograms
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import time
from typing import Literal

from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from pinsandbox.errors import InvalidInput, NotFound
from pinsandbox.schema import ACTIONS
from pinsandbox.serving.navigator import NavigatorBusy
from pinsandbox.voice import audio as voice_audio
from pinsandbox.voice.numbers import budget

MAX_BODY_BYTES = 16 * 1024  # an event or a Navigator request is well under 1 KiB
VOICE_PATH = "/navigator/voice"
# A spoken request is audio: it gets its own, larger body limit, and the refusal names the limit that matters.
BODY_LIMITS = {VOICE_PATH: (voice_audio.MAX_BYTES, f"audio over {voice_audio.MAX_BYTES // 2**20} MiB: send at most "
                                                    f"{voice_audio.MAX_SECONDS:g} s of speech as WAV, FLAC or OGG")}
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
    """Pure ASGI middleware: refuse bodies over `limit` bytes (or a path's own limit in `per_path`: (bytes, what to
    send instead)) with 413 — by the declared length, or by counting while reading (chunked uploads). Bodies are
    small (a spoken request at most a few MiB), so it buffers one and hands it on whole."""

    def __init__(self, app, limit: int, per_path: dict | None = None):
        self.app, self.limit, self.per_path = app, limit, per_path or {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        limit, advice = self.per_path.get(scope["path"], (self.limit, None))
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await _too_large(send, limit, advice)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > limit:
                return await _too_large(send, limit, advice)
        body = b"".join(chunks)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(send, limit, advice=None):
    detail = advice or f"request body over {limit} bytes: send one event or one request per call"
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def create_app(state, token: str) -> FastAPI:
    """The app over a loaded `ServingState`; `token` is the sandbox's API token."""
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    voice = {}  # the VoiceWorker process, started by the first spoken request (most servers never get one)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        if "worker" in voice:
            voice.pop("worker").close()

    app = FastAPI(title=f"pinsandbox — {state.sandbox.owner}", version="1", lifespan=lifespan)
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

    @app.exception_handler(voice_audio.BadAudio)  # empty 400, unsupported format 415, too long 413, else 422
    async def bad_audio(_request, exc):
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

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
        champion = state.champion  # one champion for the whole answer, even if a swap lands meanwhile
        return _json({"pin_id": pin_id, "vectors": champion.vectors_id, "pins": state.similar(pin_id, k, champion)})

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
        # a budget typed into the request ("under $100") constrains it like max_price does, as a spoken one does
        max_price = req.max_price if req.max_price is not None else budget(req.text)
        return _json({**await state.nav.ask_async(req.text, req.k, max_price), "max_price": max_price})

    @app.post(VOICE_PATH, dependencies=auth)
    async def navigator_voice(request: Request, k: int = Query(8, ge=1, le=50), speak: bool = True):
        """A spoken request as the body (WAV, FLAC or OGG, at most MAX_SECONDS): recognised in the voice worker,
        answered by Navigator, the answer spoken back. Audio that cannot be used is refused before Navigator runs,
        so a failed recognition leaves no trace beyond its 4xx."""
        from pinsandbox.voice import VoiceWorker

        audio = await request.body()
        voice_audio.sniff(audio)  # empty / not audio / unsupported: refused before the worker is even started
        if "worker" not in voice:
            voice["worker"] = VoiceWorker(state.sandbox)
        heard = await voice["worker"].hear(audio)
        started = time.perf_counter()
        answer = await state.nav.ask_async(heard["request"], k, heard["max_price"])
        out = {**heard, **answer, "navigator_ms": round((time.perf_counter() - started) * 1000, 1)}
        if speak:
            wav, took = await voice["worker"].speak(answer["answer"])
            out |= {"reply_audio": base64.b64encode(wav).decode(), "reply_audio_type": "audio/wav",
                    "synthesis_ms": round(took * 1000, 1)}
        return _json(out)

    return BodyLimit(Measure(app, requests, latency), MAX_BODY_BYTES, BODY_LIMITS)


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
