"""Pure ASGI middleware at the HTTP edge: bounded request bodies, security headers and relative
trailing-slash redirects. Pure ASGI (not `BaseHTTPMiddleware`) so streamed bodies pass unbuffered.

- `BodyLimitMiddleware`: a body that is not a multipart upload to an upload route is read (at
  most `json_limit` bytes, counted as they arrive, before anything parses it) and replayed to the
  app; more → 413 at once. Multipart bodies of upload routes stream through, counted against
  `upload_limit` (the upload route itself bounds the file and the form fields). Every body read
  waits at most `stall_timeout_s` for the next chunk; then the request fails with 408 and the
  upload route removes what it staged.
- `SecurityHeadersMiddleware`: `X-Content-Type-Options`, `Referrer-Policy`, a CSP allowing only
  the server's own origin with `frame-ancestors 'none'`, `X-Frame-Options`, and `Cache-Control:
  no-store` on API responses (they may carry tokens) unless the route set its own.
- `SlashRedirectMiddleware`: `/api/v1/files/` → 307 to `/api/v1/files` with a relative
  `Location` (never built from the `Host` header); Starlette's own slash redirect is disabled.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, Route, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scriberr.api.errors import error_body
from scriberr.services.errors import PayloadTooLarge, RequestTimeout

JSON_LIMIT_BYTES = 1024 * 1024
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_NO_STORE_PREFIXES = ("/api/", "/v1/", "/openapi.json")


@dataclass(frozen=True)
class BodyLimits:
    json_limit: int
    upload_limit: int
    stall_timeout_s: float


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value)
    return None


def _error_response(scope: Scope, status: int, code: str, message: str) -> list[Message]:
    request_id = scope.get("state", {}).get("request_id")
    body = json.dumps(error_body(code, message, request_id=request_id)).encode()
    return [
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        },
        {"type": "http.response.body", "body": body},
    ]


@dataclass(frozen=True)
class _Endpoint:
    pattern: re.Pattern[str]
    methods: frozenset[str]
    streams_upload: bool

    def matches(self, path: str, method: str | None = None) -> bool:
        if self.pattern.match(path) is None:
            return False
        return (
            method is None or method in self.methods or (method == "HEAD" and "GET" in self.methods)
        )


def _endpoints(routes: Sequence[BaseRoute]) -> list[_Endpoint]:
    """Every plain route of the app (however routers are nested) with its effective path."""
    found = []
    for context in iter_route_contexts(routes):
        if not isinstance(context.route, Route) or not context.path:
            continue
        extra = getattr(context.route, "openapi_extra", None) or {}
        content = extra.get("requestBody", {}).get("content", {})
        pattern, _format, _convertors = compile_path(context.path)
        found.append(
            _Endpoint(
                pattern=pattern,
                methods=frozenset(context.methods or ()),
                streams_upload="multipart/form-data" in content,
            )
        )
    return found


def upload_route_matcher(routes: Sequence[BaseRoute]) -> Callable[[Scope], bool]:
    """True for a request to a route that streams a multipart upload itself (it declares a
    multipart request body in `openapi_extra`, see `schemas.multipart_upload_body`)."""
    uploads = [endpoint for endpoint in _endpoints(routes) if endpoint.streams_upload]

    def matches(scope: Scope) -> bool:
        path, method = str(scope.get("path", "")), str(scope.get("method", ""))
        return any(endpoint.matches(path, method) for endpoint in uploads)

    return matches


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limits: BodyLimits, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.limits = limits
        self._is_upload = upload_route_matcher(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is None and _header(scope, b"transfer-encoding") is None:
            await self.app(scope, receive, send)  # no body (RFC 9112 §6.3): nothing to bound
            return
        content_type = (_header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
        streaming = content_type == b"multipart/form-data" and self._is_upload(scope)
        limit = self.limits.upload_limit if streaming else self.limits.json_limit
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            for message in _too_large(scope, streaming):
                await send(message)
            return
        if streaming:
            await self.app(scope, self._counting(receive, limit), send)
            return
        try:
            first = await self._read_bounded(receive, limit)
        except RequestTimeout as stalled:
            for message in _error_response(scope, 408, stalled.code, stalled.message):
                await send(message)
            return
        if first is None:
            for message in _too_large(scope, streaming):
                await send(message)
            return
        if first["type"] == "http.disconnect":
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return first
            return await receive()

        await self.app(scope, replay, send)

    async def _read_bounded(self, receive: Receive, limit: int) -> Message | None:
        """The whole body as one message; None when it is larger than `limit`. Raises
        `RequestTimeout` when the client stalls."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self._next(receive)
            if message["type"] == "http.disconnect":
                return message
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

    def _counting(self, receive: Receive, limit: int) -> Receive:
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await self._next(receive)
            received += len(message.get("body", b""))
            if received > limit:
                raise PayloadTooLarge("The request body is larger than the upload limit.")
            return message

        return counted

    async def _next(self, receive: Receive) -> Message:
        try:
            return await asyncio.wait_for(receive(), self.limits.stall_timeout_s)
        except TimeoutError:
            raise RequestTimeout("The request body stalled; send it again.") from None


def _too_large(scope: Scope, streaming: bool) -> list[Message]:
    message = (
        "The request body is larger than the upload limit."
        if streaming
        else f"The request body is larger than {JSON_LIMIT_BYTES // 1024} KiB."
    )
    return _error_response(scope, 413, "PAYLOAD_TOO_LARGE", message)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = str(scope.get("path", "")).startswith(_NO_STORE_PREFIXES)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {bytes(name).lower() for name, _ in headers}
                headers += [(k, v) for k, v in _SECURITY_HEADERS if k not in present]
                if no_store and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


class SlashRedirectMiddleware:
    """A path that matches no route but does with the trailing slash removed gets a 307 to that
    path, as a relative `Location`."""

    def __init__(self, app: ASGIApp, *, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self.app = app
        self._routes = routes
        self._known: list[_Endpoint] | None = None

    def _matches(self, scope: Scope, path: str) -> bool:
        if self._known is None:
            self._known = _endpoints(self._routes())
        return any(endpoint.matches(path) for endpoint in self._known)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        # Only paths with a trailing slash are candidates (no route is declared with one), so
        # every other request passes without a lookup.
        if scope["type"] != "http" or path == "/" or not path.endswith("/"):
            await self.app(scope, receive, send)
            return
        other = path.rstrip("/")
        if not other or self._matches(scope, path) or not self._matches(scope, other):
            await self.app(scope, receive, send)
            return
        location = "/" + other.lstrip("/")  # never `//host`: that would leave the server
        query = scope.get("query_string", b"")
        if query:
            location += "?" + bytes(query).decode("latin-1")
        await send(
            {
                "type": "http.response.start",
                "status": 307,
                "headers": [(b"location", location.encode()), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})


def install_edge(
    app: Any, limits: BodyLimits, cors_origins: Sequence[str], api_routes: Sequence[BaseRoute]
) -> None:
    """Add the edge middleware to a FastAPI app (innermost first). `api_routes`: the routes of
    the API's routers as declared (full paths), where the body limit looks for upload routes.
    They are read as declared because walking `app.routes` makes FastAPI build every included
    route's request handling at once (about 0.2 s per app, at its first request with a body)."""
    from starlette.middleware.cors import CORSMiddleware

    app.router.redirect_slashes = False
    app.add_middleware(BodyLimitMiddleware, limits=limits, routes=api_routes)
    app.add_middleware(SlashRedirectMiddleware, routes=lambda: app.router.routes)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-API-Key",
                "Idempotency-Key",
                "X-Request-ID",
                "Range",
                "If-Match",
            ],
            expose_headers=[
                "X-Request-ID",
                "Content-Range",
                "Content-Disposition",
                "Content-Length",
                "ETag",
                "Retry-After",
                "Idempotency-Replayed",
            ],
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware)
