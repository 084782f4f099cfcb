"""Account routes under `/api/v1/auth`: registration, login, refresh, logout (one session or all),
me, password and username changes, and stream tokens for SSE/audio routes.

Every response that issues tokens also sets the refresh token as an httpOnly, `SameSite=Strict`
cookie scoped to this prefix, so the web app never holds it in script-readable storage:
`refresh` takes the token from the body or, when the body has none, from that cookie; `logout`
ends the body's or else the cookie's session (or, with neither, the caller's own) and clears it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from scriberr.api.deps import AuthDep, CurrentUser, OptionalUser, client_address
from scriberr.api.errors import error_response
from scriberr.api.schemas import ERROR_RESPONSES, ErrorEnvelope, StrictModel, UtcDateTime
from scriberr.services.auth import REFRESH_TOKEN_TTL, TokenPair, UserView
from scriberr.services.errors import Unauthorized

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=ERROR_RESPONSES)

_Password = Annotated[str, Field(min_length=1, max_length=4096)]
_Username = Annotated[str, Field(min_length=1, max_length=300)]


class RegistrationStatusOut(BaseModel):
    registration_enabled: bool


class RegisterIn(StrictModel):
    username: _Username
    password: _Password
    confirm_password: _Password


class LoginIn(StrictModel):
    username: _Username
    password: _Password


class RefreshIn(StrictModel):
    refresh_token: Annotated[str | None, Field(min_length=1, max_length=512)] = None


class LogoutIn(StrictModel):
    refresh_token: Annotated[str | None, Field(max_length=512)] = None


class ChangePasswordIn(StrictModel):
    current_password: _Password
    new_password: _Password
    confirm_password: _Password | None = Field(
        default=None, description="When given, must repeat `new_password`."
    )


class ChangeUsernameIn(StrictModel):
    new_username: _Username
    password: _Password


class OkOut(BaseModel):
    ok: bool = True


class UserOut(BaseModel):
    id: str
    username: str
    role: str = Field(description="`admin` or `member`.")
    is_admin: bool
    created_at: UtcDateTime

    @classmethod
    def of(cls, user: UserView) -> UserOut:
        return cls(
            id=user.id,
            username=user.username,
            role=user.role,
            is_admin=user.role == "admin",
            created_at=user.created_at,
        )


class TokensOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int = Field(description="Access token lifetime in seconds.")
    user: UserOut

    @classmethod
    def of(cls, pair: TokenPair) -> TokensOut:
        return cls(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            token_type=pair.token_type,
            expires_in=pair.expires_in,
            user=UserOut.of(pair.user),
        )


class StreamTokenOut(BaseModel):
    token: str = Field(description="Pass as `?stream_token=` on SSE and audio routes.")
    expires_at: UtcDateTime


REFRESH_COOKIE = "scriberr_refresh"
REFRESH_COOKIE_PATH = "/api/v1/auth"
REFRESH_COOKIE_MAX_AGE = int(REFRESH_TOKEN_TTL.total_seconds())
# A script-readable flag (no secret in it) telling the web app that a refresh cookie exists, so
# it tries a silent refresh on load only when there is something to refresh.
SESSION_HINT_COOKIE = "scriberr_session"


def set_refresh_cookie(request: Request, response: Response, pair: TokenPair) -> None:
    """The refresh token as an httpOnly, SameSite=Strict cookie (Secure over HTTPS)."""
    response.set_cookie(
        REFRESH_COOKIE,
        pair.refresh_token,
        max_age=REFRESH_COOKIE_MAX_AGE,
        path=REFRESH_COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.set_cookie(
        SESSION_HINT_COOKIE,
        "1",
        max_age=REFRESH_COOKIE_MAX_AGE,
        path="/",
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def clear_refresh_cookie(response: Response) -> None:
    response.delete_cookie(
        REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, httponly=True, samesite="strict"
    )
    response.delete_cookie(SESSION_HINT_COOKIE, path="/", samesite="strict")


_RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorEnvelope, "description": "Too many failed logins"}
}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorEnvelope, "description": "Conflict"}
}


@router.get("/registration-status", response_model=RegistrationStatusOut)
async def registration_status(auth: AuthDep) -> RegistrationStatusOut:
    enabled = await run_in_threadpool(auth.registration_enabled)
    return RegistrationStatusOut(registration_enabled=enabled)


@router.post("/register", response_model=TokensOut, status_code=201, responses=_CONFLICT)
async def register(
    body: RegisterIn, auth: AuthDep, request: Request, response: Response
) -> TokensOut:
    """Create the first (and only) account; 409 once a user exists."""
    pair = await run_in_threadpool(
        auth.register, body.username, body.password, body.confirm_password
    )
    set_refresh_cookie(request, response, pair)
    return TokensOut.of(pair)


@router.post("/login", response_model=TokensOut, responses=_RATE_LIMITED)
async def login(
    body: LoginIn,
    auth: AuthDep,
    client: Annotated[str, Depends(client_address)],
    request: Request,
    response: Response,
) -> TokensOut:
    """Exchange username and password for tokens; repeated failures → 429."""
    pair = await run_in_threadpool(auth.login, body.username, body.password, client)
    set_refresh_cookie(request, response, pair)
    return TokensOut.of(pair)


@router.post("/refresh", response_model=TokensOut)
async def refresh(
    auth: AuthDep, request: Request, response: Response, body: RefreshIn | None = None
) -> Any:
    """Rotate a refresh token, given in the body or (for browsers) in the httpOnly refresh
    cookie. Each one works once; reusing one revokes its whole family. A rejected cookie is
    cleared, so the browser stops offering it."""
    from_body = body.refresh_token if body else None
    token = from_body or request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise Unauthorized("A refresh token is required.")
    try:
        pair = await run_in_threadpool(auth.refresh, token)
    except Unauthorized as exc:
        if from_body:
            raise
        rejected = error_response(
            request, 401, exc.code, exc.message, headers={"WWW-Authenticate": "Bearer"}
        )
        clear_refresh_cookie(rejected)
        return rejected
    set_refresh_cookie(request, response, pair)
    return TokensOut.of(pair)


@router.post("/logout", response_model=OkOut)
async def logout(
    user: OptionalUser,
    auth: AuthDep,
    request: Request,
    response: Response,
    body: LogoutIn | None = None,
) -> OkOut:
    """End one session: the one of `refresh_token` (the body's, else the refresh cookie's; no
    access token needed), else the caller's own. Its access and stream tokens stop working at
    once; the refresh cookie is cleared."""
    token = (body.refresh_token if body else None) or request.cookies.get(REFRESH_COOKIE)
    await run_in_threadpool(auth.logout, user, token)
    clear_refresh_cookie(response)
    return OkOut()


@router.post("/logout-all", response_model=OkOut)
async def logout_all(user: CurrentUser, auth: AuthDep, response: Response) -> OkOut:
    """End every session of the caller (all access, refresh and stream tokens)."""
    await run_in_threadpool(auth.logout_all, user)
    clear_refresh_cookie(response)
    return OkOut()


@router.get("/me", response_model=UserOut)
async def me(user: CurrentUser, auth: AuthDep) -> UserOut:
    return UserOut.of(await run_in_threadpool(auth.me, user))


@router.post("/change-password", response_model=TokensOut, responses=_RATE_LIMITED)
async def change_password(
    body: ChangePasswordIn,
    user: CurrentUser,
    auth: AuthDep,
    client: Annotated[str, Depends(client_address)],
    request: Request,
    response: Response,
) -> TokensOut:
    """Set a new password (`confirm_password`, when sent, must match). Every existing session
    and access token stops working; the response carries fresh tokens for this client. Wrong
    current passwords count towards the login throttle."""
    pair = await run_in_threadpool(
        lambda: auth.change_password(
            user,
            body.current_password,
            body.new_password,
            confirm_password=body.confirm_password,
            client=client,
        )
    )
    set_refresh_cookie(request, response, pair)
    return TokensOut.of(pair)


@router.post("/change-username", response_model=UserOut, responses={**_CONFLICT, **_RATE_LIMITED})
async def change_username(
    body: ChangeUsernameIn,
    user: CurrentUser,
    auth: AuthDep,
    client: Annotated[str, Depends(client_address)],
) -> UserOut:
    """Rename the account; needs the current `password`."""
    view = await run_in_threadpool(
        lambda: auth.change_username(user, body.new_username, body.password, client=client)
    )
    return UserOut.of(view)


@router.post("/stream-token", response_model=StreamTokenOut, status_code=201)
async def stream_token(user: CurrentUser, auth: AuthDep) -> StreamTokenOut:
    """Mint a short-lived (5 minute), read-only token for `?stream_token=` on SSE and audio
    routes, where browsers cannot send an `Authorization` header."""
    token = await run_in_threadpool(auth.issue_stream_token, user)
    return StreamTokenOut(token=token.token, expires_at=token.expires_at)
