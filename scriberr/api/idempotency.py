"""`Idempotency-Key` replay for create-like requests (uploads, transcription create/submit, imports).

Semantics: the first successful (2xx) response to a request with a given key is stored per
(user, key, route) and replayed, byte for byte with its status, for every later request with the
same key on the same route — whatever its body — with `Idempotency-Replayed: true`. Error
responses are not stored, so a client can fix its request and retry with the same key.
Concurrent requests with one key are serialised in this process, so only one of them runs.

Use from a route:

    return await run_idempotent(request, user, lambda: create_the_thing())

where the callable returns a `Response` with a body (e.g. `JSONResponse`, see `json_response`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Header, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from scriberr.services.auth import Principal
from scriberr.services.errors import InvalidRequest
from scriberr.services.idempotency import IdempotencyService, StoredResponse

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=HEADER,
        description="Replays the first successful response for the same key on this route.",
    ),
]


class IdempotencyStore:
    """Lives on `app.state.idempotency`: the Core's idempotency service plus per-key locks."""

    def __init__(self, service: IdempotencyService) -> None:
        self._service = service
        self._locks: dict[tuple[str, str, str], asyncio.Lock] = {}
        self._users: dict[tuple[str, str, str], int] = {}

    async def run(
        self,
        user_id: str,
        key: str,
        route: str,
        produce: Callable[[], Awaitable[Response]],
    ) -> Response:
        ident = (user_id, key, route)
        lock = self._locks.setdefault(ident, asyncio.Lock())
        self._users[ident] = self._users.get(ident, 0) + 1
        try:
            async with lock:
                stored = await run_in_threadpool(self._service.find, user_id, key, route)
                if stored is not None:
                    return _replay(stored)
                response = await produce()
                body = getattr(response, "body", None)
                if 200 <= response.status_code < 300 and isinstance(body, bytes | bytearray):
                    record = StoredResponse(
                        status_code=response.status_code,
                        body=bytes(body).decode("utf-8"),
                        content_type=response.headers.get("content-type", "application/json"),
                    )
                    saved = await run_in_threadpool(
                        self._service.save_first, user_id, key, route, record
                    )
                    if saved != record:
                        return _replay(saved)
                return response
        finally:
            self._users[ident] -= 1
            if self._users[ident] == 0:
                self._users.pop(ident, None)
                self._locks.pop(ident, None)


def _replay(stored: StoredResponse) -> Response:
    return Response(
        content=stored.body.encode("utf-8"),
        status_code=stored.status_code,
        media_type=stored.content_type,
        headers={"Idempotency-Replayed": "true"},
    )


def route_id(request: Request) -> str:
    """`POST /api/v1/files` — the method and the route template (not the concrete path)."""
    route = request.scope.get("route")
    path = getattr(route, "path", None) or request.url.path
    return f"{request.method} {path}"


def idempotency_key_of(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidRequest(f"{HEADER} must be 1-{MAX_KEY_LENGTH} characters.", field=HEADER)
    return key


async def run_idempotent(
    request: Request,
    principal: Principal,
    produce: Callable[[], Awaitable[Response]],
) -> Response:
    """Run `produce` once per `Idempotency-Key`; without the header, just run it."""
    key = idempotency_key_of(request)
    if key is None:
        return await produce()
    store: IdempotencyStore = request.app.state.idempotency
    return await store.run(principal.user_id, key, route_id(request), produce)


def json_response(content: Any, status_code: int = 200) -> JSONResponse:
    """Render a Pydantic model / dataclass / dict the way FastAPI would, as a `JSONResponse`."""
    return JSONResponse(jsonable_encoder(content), status_code=status_code)
