"""FastAPI dependencies shared by every route: the Core, its services, and the caller.

- `CoreDep`: the `bootstrap.Core` stored on `app.state.core` by `create_app`.
- `CurrentUser`: a `Principal` from `Authorization: Bearer <access token | API key>` or
  `X-API-Key: <API key>`; 401 otherwise.
- `Caller`: the `Credentials` sent (401 when none), checked later by the route itself with
  `credentials.authenticate(auth)` inside the thread-pool call that also runs its query (one hop
  instead of two; the listings use it).
- `AdminUser`: a `CurrentUser` with the admin role (`is_admin`); 403 otherwise.
- `StreamReader`: the same, or a short-lived read-only stream token in the `stream_token` query
  parameter (for EventSource and <audio> elements, which cannot set headers). Use it only on
  GET routes (SSE, audio).
- `FileAudioReader` / `TranscriptionAudioReader`: `StreamReader` for one resource's audio route;
  they also accept an audio token scoped to exactly that file or transcription (from
  `POST …/{id}/audio-token`), which every other route refuses.
- `OptionalUser`: the caller when credentials are sent, else None (logout with a refresh token).
- `client_address`: the peer address, or the `X-Forwarded-For` client when the peer is a proxy
  listed in `SCRIBERR_FORWARDED_ALLOW_IPS`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from scriberr.bootstrap import Core
from scriberr.services.auth import AuthService, Principal, audio_resource
from scriberr.services.errors import Forbidden, Unauthorized

__all__ = [
    "AdminUser",
    "Caller",
    "CoreDep",
    "Credentials",
    "CurrentUser",
    "FileAudioReader",
    "OptionalUser",
    "Principal",
    "StreamReader",
    "TranscriptionAudioReader",
    "client_address",
    "get_core",
    "is_admin",
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


@dataclass(frozen=True, slots=True)
class Credentials:
    """The credential a request presented (`Authorization: Bearer …` or `X-API-Key`), not yet
    checked. `authenticate` checks it against the database on every call (nothing is cached,
    so a revoked key, an ended session or a disabled account is refused at once)."""

    bearer: HTTPAuthorizationCredentials | None
    api_key: str | None

    def authenticate(self, auth: AuthService) -> Principal:
        """The caller, or `Unauthorized`. Blocking (one query): call it from the thread pool."""
        principal = _from_headers(auth, self.bearer, self.api_key)
        if principal is None:
            raise Unauthorized("Authentication required.")
        return principal


async def caller_credentials(
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key_header)],
) -> Credentials:
    """The presented credential, unchecked; 401 at once when there is none."""
    credentials = Credentials(bearer, api_key)
    if not (bearer is not None and bearer.credentials) and not api_key:
        raise Unauthorized("Authentication required.")
    return credentials


def current_user(
    auth: AuthDep, credentials: Annotated[Credentials, Depends(caller_credentials)]
) -> Principal:
    return credentials.authenticate(auth)


def optional_user(
    auth: AuthDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key_header)],
) -> Principal | None:
    """The caller when credentials were sent (bad ones are still a 401), else None."""
    return _from_headers(auth, bearer, api_key)


_StreamTokenQuery = Annotated[
    str | None,
    Query(
        description="Short-lived read-only token from `POST /api/v1/auth/stream-token` (or, on "
        "audio routes, from `POST …/audio-token`), for clients that cannot set headers "
        "(EventSource, <audio>).",
    ),
]


def _stream_principal(
    auth: AuthService,
    bearer: HTTPAuthorizationCredentials | None,
    api_key: str | None,
    stream_token: str | None,
    resource: str | None,
) -> Principal:
    principal = _from_headers(auth, bearer, api_key)
    if principal is not None:
        return principal
    if stream_token:
        return auth.authenticate_stream_token(stream_token, resource)
    raise Unauthorized("Authentication required.")


def admin_user(user: Annotated[Principal, Depends(current_user)]) -> Principal:
    if not is_admin(user):
        raise Forbidden("Only an admin can do this.")
    return user


def stream_reader(
    auth: AuthDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key_header)],
    stream_token: _StreamTokenQuery = None,
) -> Principal:
    return _stream_principal(auth, bearer, api_key, stream_token, None)


def _audio_reader(kind: str, path_param: str) -> Callable[..., Principal]:
    def reader(
        request: Request,
        auth: AuthDep,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        api_key: Annotated[str | None, Depends(_api_key_header)],
        stream_token: _StreamTokenQuery = None,
    ) -> Principal:
        resource = audio_resource(kind, str(request.path_params.get(path_param, "")))
        return _stream_principal(auth, bearer, api_key, stream_token, resource)

    return reader


CurrentUser = Annotated[Principal, Depends(current_user)]
# For hot routes (the listings): the route authenticates inside its own thread-pool call, in the
# same hop as its query (`credentials.authenticate(core.auth)` first, before touching any data).
# A `def` dependency such as `current_user` costs a thread-pool hop of its own.
Caller = Annotated[Credentials, Depends(caller_credentials)]
OptionalUser = Annotated[Principal | None, Depends(optional_user)]
StreamReader = Annotated[Principal, Depends(stream_reader)]
AdminUser = Annotated[Principal, Depends(admin_user)]
FileAudioReader = Annotated[Principal, Depends(_audio_reader("file", "file_id"))]
TranscriptionAudioReader = Annotated[
    Principal, Depends(_audio_reader("transcription", "transcription_id"))
]


def _trusted(
    address: str, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: Request) -> str:
    """The client's address (keys the login throttle). `X-Forwarded-For` counts only when the
    peer is a trusted proxy; then the right-most entry that is not itself trusted is the
    client."""
    peer = request.client.host if request.client else "unknown"
    trusted = request.app.state.core.config.forwarded_allow_ips
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop[:64]
    return peer


def is_admin(principal: Principal) -> bool:
    """Whether the caller may run admin-only routes: the admin role, never a read-only token."""
    return principal.is_admin and not principal.read_only
