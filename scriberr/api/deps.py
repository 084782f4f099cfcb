"""FastAPI dependencies shared by every route: the Core, its services, and the caller.

- `CoreDep`: the `bootstrap.Core` stored on `app.state.core` by `create_app`.
- `CurrentUser`: a `Principal` from `Authorization: Bearer <access token | API key>` or
  `X-API-Key: <API key>`; 401 otherwise.
- `StreamReader`: the same, or a short-lived read-only stream token in the `stream_token` query
  parameter (for EventSource and <audio> elements, which cannot set headers). Use it only on
  GET routes (SSE, audio).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from scriberr.bootstrap import Core
from scriberr.services.auth import AuthService, Principal
from scriberr.services.errors import Unauthorized

__all__ = [
    "CoreDep",
    "CurrentUser",
    "Principal",
    "StreamReader",
    "client_address",
    "get_core",
]

_bearer = HTTPBearer(auto_error=False, description="An access token or an API key (`sk_…`).")
_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key (`sk_…`)."
)


# The trivial dependencies are `async def`: a plain `def` dependency runs in the thread pool,
# and that hop costs more than the lookup itself.
async def get_core(request: Request) -> Core:
    core: Core = request.app.state.core
    return core


CoreDep = Annotated[Core, Depends(get_core)]


async def get_auth(request: Request) -> AuthService:
    auth: AuthService = request.app.state.core.auth
    return auth


AuthDep = Annotated[AuthService, Depends(get_auth)]


def _from_headers(
    auth: AuthService,
    bearer: HTTPAuthorizationCredentials | None,
    api_key: str | None,
) -> Principal | None:
    if bearer is not None and bearer.credentials:
        return auth.authenticate_bearer(bearer.credentials.strip())
    if api_key:
        return auth.authenticate_api_key(api_key.strip())
    return None


def current_user(
    auth: AuthDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key_header)],
) -> Principal:
    principal = _from_headers(auth, bearer, api_key)
    if principal is None:
        raise Unauthorized("Authentication required.")
    return principal


def stream_reader(
    auth: AuthDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key_header)],
    stream_token: Annotated[
        str | None,
        Query(
            description="Short-lived read-only token from `POST /api/v1/auth/stream-token`, "
            "for clients that cannot set headers (EventSource, <audio>).",
        ),
    ] = None,
) -> Principal:
    principal = _from_headers(auth, bearer, api_key)
    if principal is not None:
        return principal
    if stream_token:
        return auth.authenticate_stream_token(stream_token)
    raise Unauthorized("Authentication required.")


CurrentUser = Annotated[Principal, Depends(current_user)]
StreamReader = Annotated[Principal, Depends(stream_reader)]


def client_address(request: Request) -> str:
    """The peer address (used to key login throttling)."""
    return request.client.host if request.client else "unknown"
