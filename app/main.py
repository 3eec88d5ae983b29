"""The FastAPI app: `create_app(settings)` builds it with everything it needs, no module state."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.exceptions import HTTPException

from app.config import Settings
from app.db import Database
from app.deps import Services
from app.dispatch import Dispatcher
from app.errors import ServiceError
from app.limits import BodySizeLimit, SecurityHeaders
from app.routes import albums, api, media, pages, share, shared_album
from app.schemas import Health
from app.storage import MediaStore
from app.templating import STATIC_DIR, make_templates
from worker.celery_app import create_celery

log = logging.getLogger(__name__)


async def _reconcile_forever(dispatcher: Dispatcher, interval: float) -> None:
    while True:
        try:
            sent = await run_in_threadpool(dispatcher.reconcile)
            if sent:
                log.info("reconciler re-sent %d clip(s)", sent)
        except Exception:
            log.exception("reconciler pass failed; trying again in %.0f s", interval)
        await asyncio.sleep(interval)


def create_app(settings: Settings | None = None, *, reconcile: bool = True) -> FastAPI:
    settings = settings or Settings()
    settings.ensure_dirs()
    database = Database(settings.sqlalchemy_url)
    services = Services(
        settings=settings,
        database=database,
        store=MediaStore(settings.media_dir),
        dispatcher=Dispatcher(create_celery(settings), database, settings),
    )
    # Uploads cut off by a crash; an hour is far longer than any live upload takes.
    services.store.sweep_incoming(older_than_s=3600)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = (
            asyncio.create_task(_reconcile_forever(services.dispatcher, settings.reconcile_interval_s))
            if reconcile
            else None
        )
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        database.dispose()

    app = FastAPI(title="Vivant", version="0.1.0", lifespan=lifespan)
    app.state.services = services
    app.state.templates = make_templates()

    app.include_router(api.router)
    app.include_router(media.router)
    app.include_router(share.router)
    app.include_router(shared_album.router)
    app.include_router(pages.router)
    app.include_router(albums.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/healthz", tags=["health"])
    def healthz() -> Health:
        with database.session() as session:
            session.execute(text("SELECT 1"))
        return Health(status="ok", database=True)

    app.add_exception_handler(pages.SignInRequired, pages.sign_in_redirect)  # type: ignore[arg-type]

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> Response:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        wants_page = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        if wants_page and not request.url.path.startswith(("/api/", "/media/")):
            return app.state.templates.TemplateResponse(
                request,
                "error.html",
                {"status": exc.status_code, "detail": exc.detail, "user": None},
                status_code=exc.status_code,
            )
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes, limit_name="VIVANT_MAX_UPLOAD_MB")
    app.add_middleware(SecurityHeaders)
    app.openapi = functools.partial(_openapi_with_sentence_errors, app, app.openapi)  # type: ignore[method-assign]
    return app


def _openapi_with_sentence_errors(app: FastAPI, generate: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """FastAPI documents a 422's `detail` as a list of field errors; our own checks (an e-mail that is not
    one, a short password) answer 422 with a sentence. Say so, or clients built from the schema break."""
    schema = generate()
    detail = schema["components"]["schemas"]["HTTPValidationError"]["properties"]["detail"]
    if "anyOf" not in detail:
        listed = {key: detail.pop(key) for key in ("type", "items")}
        detail["anyOf"] = [listed, {"type": "string"}]
    return schema
