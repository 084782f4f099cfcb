"""The FastAPI application: middleware, the error envelope, and every router.

`create_app(core)` takes the `bootstrap.Core` (everything but HTTP) and keeps it on
`app.state.core`; it starts nothing — `scriberr serve` (or a test) owns the Core's lifecycle.
Route modules live in `scriberr/api/routes/`, each exposing `router: APIRouter`; add a new module
to `_ROUTE_MODULES`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from scriberr import __version__
from scriberr.api.edge import JSON_LIMIT_BYTES, BodyLimits, install_edge
from scriberr.api.errors import ERROR_SCHEMA, http_error_handler, install_error_handlers
from scriberr.api.idempotency import IdempotencyStore
from scriberr.api.listing_lane import install_listing_lane
from scriberr.api.middleware import RequestContextMiddleware
from scriberr.api.routes import (
    admin,
    api_keys,
    auth,
    events,
    files,
    health,
    models,
    openai_compat,
    profiles,
    search,
    settings,
    transcriptions,
    transcripts,
    worker_audio,
    worker_keys,
)
from scriberr.api.webapp import DEFAULT_WEB_DIR, install_web_app

if TYPE_CHECKING:
    from scriberr.bootstrap import Core

# Routes are matched in this order, one by one, so the hot ones come first: the health probe and
# the transcription routes (the listing a client polls). No path of one module matches a route of
# another (`tests/api/test_route_order.py`), so the order changes nothing else.
_ROUTE_MODULES = (
    *(health, transcriptions, auth, api_keys, files, settings),
    *(transcripts, search, profiles, models, events, admin, openai_compat),
    *(worker_keys, worker_audio),
)

# Multipart framing and the non-file form fields on top of the file itself.
UPLOAD_OVERHEAD_BYTES = 1024 * 1024

_DESCRIPTION = """\
Self-hosted, privacy-first transcription server.

Authenticate with `Authorization: Bearer <access token | API key>` or `X-API-Key: <API key>`.
SSE and audio routes also accept `?stream_token=` from `POST /api/v1/auth/stream-token`.
Every error is `{"error": {"code", "message", "field", "request_id"}}`.
"""


def create_app(core: Core, web_dir: Path | None = None) -> FastAPI:
    """The app for `core`; the built web app is read from `web_dir` (default `web/dist`)."""
    app = FastAPI(
        title="Scriberr",
        version=__version__,
        description=_DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.core = core
    app.state.idempotency = IdempotencyStore(core.idempotency)
    install_listing_lane(app)
    install_error_handlers(app)
    install_web_app(app, web_dir or DEFAULT_WEB_DIR, http_error_handler)
    config = core.config
    limits = BodyLimits(
        json_limit=JSON_LIMIT_BYTES,
        upload_limit=config.max_upload_bytes + UPLOAD_OVERHEAD_BYTES,
        stall_timeout_s=config.upload_stall_timeout_s,
    )
    api_routes = [route for module in _ROUTE_MODULES for route in module.router.routes]
    install_edge(app, limits, config.cors_origins, api_routes)
    app.add_middleware(RequestContextMiddleware)
    for module in _ROUTE_MODULES:
        app.include_router(module.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated schema, with FastAPI's validation-error shape replaced by the envelope."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["HTTPValidationError"] = {"title": "ErrorEnvelope", **ERROR_SCHEMA}
    components.pop("ValidationError", None)
    app.openapi_schema = schema
    return schema
