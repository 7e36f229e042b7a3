"""create_app(settings): the FastAPI app behind `mmgan serve`.

    app = create_app(Settings(runs={"digits": "runs/00001-digits"}, store="store/"))
    uvicorn.run(app, host="127.0.0.1", port=8000)

The lifespan loads each run's Pipeline and opens the store once; routes reach them through deps.py.
Middleware, outermost first: metrics, request-body limit, CORS (only when origins are configured), security
headers. Errors: limits -> 4xx naming the limit; validation -> 422 naming the field.
"""
from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from .deps import AppState
from .batching import BatcherClosed
from .generation import ModelRegistry, StoreWriteError
from .keys import KeyRing
from .limits import BadUpload, BodySizeLimit, LimitExceeded, RateLimiter
from .metrics import Metrics, MetricsMiddleware
from .routes import ROUTERS
from .routes.openapi import add_body_schemas
from .schemas import (CaptionForm, CaptionRequest, GenerateForm, GenerateRequest, SearchForm, SearchRequest,
                      TranscribeForm, TranscribeRequest)
from .settings import Settings
from ..pipeline import Pipeline
from .generation import ServedModel
from .items import MemoryItemStore
from .store_adapter import choose_embedder
from .store_adapter import open_item_store
from .. import __version__

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("mmgan.server")

PAGE_CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' data: blob:; connect-src 'self'; "
            "script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def load_models(settings: Settings) -> dict:
    models = {}
    for name, run in settings.runs.items():
        models[name] = ServedModel(name, Pipeline.from_pretrained(run, device=settings.device), run)
        log.info("loaded model %s from %s", name, run)
    return models


def open_store(settings: Settings):
    """The store (None without --store): 'memory' for a dict, else mmgan.store.Store on Milvus."""
    if settings.store == "memory":
        return MemoryItemStore(choose_embedder(settings)[0])
    if settings.store or settings.store_uri:
        return open_item_store(settings)
    return None


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()
    state = AppState(settings=settings, metrics=metrics, keys=KeyRing(settings.keys_file),
                     limiter=RateLimiter(settings.limits.rate_per_minute, settings.limits.rate_burst))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.threads:
            import torch

            torch.set_num_threads(settings.threads)
        # what this lifespan loads it also closes (and forgets, so the app can start again)
        own_models, own_store = state.models is None, state.store is None
        if own_models:
            served = await run_in_threadpool(load_models, settings)
            state.models = ModelRegistry(served, settings.batching.max_batch, settings.batching.max_wait_ms, metrics)
        try:
            await state.models.start()
            if own_store:
                state.store = await run_in_threadpool(open_store, settings)
            if settings.auth and not state.keys.records():
                log.warning("no API keys in %s: every request will get 401. Make one with: mmgan keys create "
                            "--role admin --keys %s", state.keys.path, state.keys.path)
            yield
        finally:
            await state.models.stop()
            if own_models:
                state.models = None
            if own_store and state.store is not None:
                await run_in_threadpool(state.store.close)
                state.store = None


    app = FastAPI(title="mmgan", version=__version__, lifespan=lifespan,
                  description="Generate images from text, audio, images and labels with mmgan GANs; store them with "
                              "provenance and search them. Send an API key as `Authorization: Bearer KEY`.")
    app.state.mmgan = state
    for r in ROUTERS:
        app.include_router(r)
    _add_page(app)
    _add_error_handlers(app, metrics)

    app.add_middleware(SecurityHeaders)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type"])
    app.add_middleware(BodySizeLimit, max_bytes=settings.limits.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    def openapi():
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            app.openapi_schema = add_body_schemas(schema, [GenerateRequest, GenerateForm, CaptionRequest, CaptionForm,
                                                                  TranscribeRequest, TranscribeForm, SearchRequest, SearchForm])
        return app.openapi_schema

    app.openapi = openapi
    return app


class SecurityHeaders:
    """ASGI middleware: nosniff and no-referrer everywhere; a strict CSP and no framing for the page."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]
        extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
        if path == "/" or path.startswith("/static/"):
            extra += [(b"content-security-policy", PAGE_CSP.encode()), (b"x-frame-options", b"DENY")]

        async def send_with_headers(msg):
            if msg["type"] == "http.response.start":
                have = {k.lower() for k, _ in msg.get("headers", [])}
                msg["headers"] = list(msg.get("headers", [])) + [(k, v) for k, v in extra if k not in have]
            await send(msg)

        await self.app(scope, receive, send_with_headers)


def _add_page(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")


def _add_error_handlers(app: FastAPI, metrics: Metrics) -> None:
    @app.exception_handler(LimitExceeded)
    async def limit_exceeded(request: Request, exc: LimitExceeded):
        metrics.rejected.inc(exc.limit)
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StoreWriteError)
    async def store_write_failed(request: Request, exc: StoreWriteError):
        log.error("%s", exc)
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(BatcherClosed)
    async def shutting_down(request: Request, exc: BatcherClosed):
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(BadUpload)
    async def bad_upload(request: Request, exc: BadUpload):
        return JSONResponse({"detail": [{"loc": ["body", exc.field], "msg": exc.message, "type": "value_error"}]},
                            status_code=422)
