"""The browser side of the server: the built single-page app at `/` and Swagger UI at `/docs`,
every byte served from this origin.

The app is built by `scripts/install` (Vite) into `web/dist/`. A GET or HEAD that no API route
matched is answered from there: an existing file as itself (hashed `assets/` are cacheable for a
year), anything else with `index.html`, so client routes survive a reload. Paths under `/api`,
`/v1`, `/docs`, `/health` and `/openapi.json` keep their JSON 404. Without a build, `/` answers
one line saying how to build the app, and the API works as before.

Swagger UI's files come from the `swagger-ui-dist` npm package, copied into
`web/dist/docs-assets/` by the build; `/docs` is a static page plus a same-origin init script,
so it works under a `script-src 'self'` Content-Security-Policy.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

DEFAULT_WEB_DIR = Path(__file__).resolve().parents[2] / "web" / "dist"
RESERVED_PREFIXES = frozenset({"api", "v1", "docs", "health", "openapi.json"})
NOT_BUILT = (
    "The Scriberr web app is not built: install Node.js 20+ and npm, then run scripts/install "
    "(the API at /api/v1 and its docs at /openapi.json work without it).\n"
)
DOCS_NOT_BUILT = (
    "Swagger UI is not built: install Node.js 20+ and npm, then run scripts/install "
    "(the schema is at /openapi.json).\n"
)
_IMMUTABLE = "public, max-age=31536000, immutable"
_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Scriberr API</title>
<link rel="stylesheet" href="/docs-assets/swagger-ui.css">
<link rel="icon" href="/docs-assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs-assets/swagger-ui-bundle.js"></script>
<script src="/docs-assets/swagger-init.js"></script>
</body>
</html>
"""

Handler = Callable[[Request, Exception], Awaitable[Response]]

mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("image/svg+xml", ".svg")
mimetypes.add_type("font/woff2", ".woff2")


def is_reserved(path: str) -> bool:
    """True for paths whose meaning belongs to the API (they never fall back to the app)."""
    first = path.lstrip("/").split("/", 1)[0]
    return first in RESERVED_PREFIXES


def resolve_static(web_dir: Path, path: str) -> Path | None:
    """The file under `web_dir` that `path` names, or None (never anything outside `web_dir`)."""
    relative = path.lstrip("/")
    if not relative or "\x00" in relative:
        return None
    root = web_dir.resolve()
    try:
        candidate = (root / relative).resolve()
    except (OSError, ValueError):
        return None
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def install_web_app(app: FastAPI, web_dir: Path, http_error: Handler) -> None:
    """Serve the built app for unmatched GET/HEAD requests and Swagger UI at `/docs`.

    `http_error` is the JSON error handler for Starlette HTTP errors; it still answers every
    error this does not turn into a page."""

    async def spa_or_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        path = request.url.path
        if exc.status_code != 404 or request.method not in ("GET", "HEAD") or is_reserved(path):
            return await http_error(request, exc)
        index = web_dir / "index.html"
        if not index.is_file():
            return PlainTextResponse(NOT_BUILT, headers={"Cache-Control": "no-store"})
        found = resolve_static(web_dir, path)
        if found is not None:
            cache = _IMMUTABLE if path.startswith("/assets/") else "no-cache"
            return FileResponse(found, headers={"Cache-Control": cache})
        if path.startswith("/assets/"):  # a stale hashed asset: a real 404, not the page
            return await http_error(request, exc)
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})

    app.add_exception_handler(StarletteHTTPException, spa_or_error)

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> Response:
        if not (web_dir / "docs-assets" / "swagger-ui-bundle.js").is_file():
            return PlainTextResponse(DOCS_NOT_BUILT)
        return HTMLResponse(_DOCS_PAGE, headers={"Cache-Control": "no-cache"})
