"""Accounts and credentials: first-user registration, login with throttling, rotating refresh
tokens, JWT access and stream tokens, password/username changes, and API keys.

Token design:
- access token: JWT (HS256, `config.resolve_secret_key`) with `sub`, `sv` (the user's
  `session_version`, so a password change ends every older session), `typ=access`, 15 minutes.
- stream token: the same JWT shape with `typ=stream`, 5 minutes, read-only; only accepted in the
  `stream_token` query parameter of SSE and audio routes.
- audio token: a stream token with `res` naming one resource (`file:<id>` or
  `transcription:<id>`), 1 hour (a player keeps seeking with it); accepted only on that
  resource's audio route.
- refresh token: `rt_<random>`, stored as a SHA-256 hash in a rotation family; each use issues a
  new one; presenting a used (or revoked) one revokes its whole family.
- API key: `sk_<random>`, stored as a SHA-256 hash with a `sk_...abcd` preview.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from scriberr.clock import as_utc, utcnow
from scriberr.ids import new_id
from scriberr.persistence.auth_repository import (
    ApiKeyRepository,
    RefreshTokenRepository,
    UsernameTaken,
    UserRepository,
)
from scriberr.persistence.models import ApiKey, RefreshToken, User
from scriberr.services.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    RateLimited,
    Unauthorized,
    Unprocessable,
)

ACCESS_TOKEN_TTL = timedelta(minutes=15)
STREAM_TOKEN_TTL = timedelta(minutes=5)
AUDIO_TOKEN_TTL = timedelta(hours=1)
REFRESH_TOKEN_TTL = timedelta(days=30)
API_KEY_TOUCH_INTERVAL = timedelta(seconds=60)
LOGIN_MAX_FAILURES = 5
LOGIN_WINDOW_S = 15 * 60.0

_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{3,150}$")
_MIN_PASSWORD = 8
_MAX_PASSWORD = 1024
_ALGORITHM = "HS256"
_INVALID_CREDENTIALS = "Invalid credentials."


@dataclass(frozen=True)
class Principal:
    """Who is calling: resolved from an access token, an API key or a stream token."""

    user_id: str
    username: str
    via: str  # "access" | "api_key" | "stream"
    read_only: bool = False


@dataclass(frozen=True)
class UserView:
    id: str
    username: str
    created_at: datetime


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    user: UserView
    token_type: str = "Bearer"


@dataclass(frozen=True)
class StreamToken:
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class ApiKeyView:
    id: str
    name: str
    preview: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class CreatedApiKey:
    key: str  # shown once
    view: ApiKeyView


class LoginThrottle:
    """Counts failed logins per (username, client) in a sliding window; thread-safe."""

    def __init__(
        self,
        max_failures: int = LOGIN_MAX_FAILURES,
        window_s: float = LOGIN_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max = max_failures
        self._window = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], list[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        recent = [t for t in self._failures.get(key, []) if now - t < self._window]
        if recent:
            self._failures[key] = recent
        else:
            self._failures.pop(key, None)
        return recent

    def check(self, username: str, client: str) -> None:
        """Raise `RateLimited` while this pair is locked out."""
        key = (username.lower(), client)
        with self._lock:
            now = self._clock()
            recent = self._recent(key, now)
            if len(recent) >= self._max:
                retry = max(1, int(self._window - (now - recent[0])) + 1)
                raise RateLimited(
                    "Too many failed login attempts; try again later.", retry_after_s=retry
                )

    def failed(self, username: str, client: str) -> None:
        key = (username.lower(), client)
        with self._lock:
            now = self._clock()
            self._recent(key, now)
            self._failures.setdefault(key, []).append(now)
            if len(self._failures) > 10_000:  # bound memory under a username-spraying attack
                oldest = min(self._failures, key=lambda k: self._failures[k][-1])
                self._failures.pop(oldest, None)

    def succeeded(self, username: str, client: str) -> None:
        with self._lock:
            self._failures.pop((username.lower(), client), None)


def audio_resource(kind: str, resource_id: str) -> str:
    """The scope of an audio token: `file:<id>` or `transcription:<id>`."""
    return f"{kind}:{resource_id}"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _user_view(user: User) -> UserView:
    return UserView(id=user.id, username=user.username, created_at=user.created_at)


def _key_view(key: ApiKey) -> ApiKeyView:
    return ApiKeyView(
        id=key.id,
        name=key.name,
        preview=key.preview,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
    )


def validate_username(username: str) -> str:
    name = username.strip()
    if not _USERNAME.match(name):
        raise InvalidRequest(
            "username must be 3-150 characters: letters, digits, and _ . @ -", field="username"
        )
    return name


def validate_password(password: str, field: str = "password") -> None:
    if len(password) < _MIN_PASSWORD:
        raise InvalidRequest(f"password must be at least {_MIN_PASSWORD} characters.", field=field)
    if len(password) > _MAX_PASSWORD:
        raise InvalidRequest(f"password must be at most {_MAX_PASSWORD} characters.", field=field)


class AuthService:
    def __init__(
        self,
        users: UserRepository,
        refresh_tokens: RefreshTokenRepository,
        api_keys: ApiKeyRepository,
        secret_key: str,
        *,
        hasher: PasswordHasher | None = None,
        throttle: LoginThrottle | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._users = users
        self._refresh = refresh_tokens
        self._keys = api_keys
        self._secret = secret_key
        self._hasher = hasher or PasswordHasher()
        self.throttle = throttle or LoginThrottle()
        self._now = clock

    # -- registration and sessions ---------------------------------------------------------

    def registration_enabled(self) -> bool:
        return self._users.count() == 0

    def register(self, username: str, password: str, confirm_password: str) -> TokenPair:
        if not self.registration_enabled():
            raise Conflict("Registration is closed: a user already exists.")
        name = validate_username(username)
        validate_password(password)
        if password != confirm_password:
            raise InvalidRequest("Passwords do not match.", field="confirm_password")
        now = self._now()
        user = User(
            id=new_id("user"),
            username=name,
            password_hash=self._hasher.hash(password),
            session_version=1,
            created_at=now,
            updated_at=now,
        )
        if not self._users.create_first(user):
            raise Conflict("Registration is closed: a user already exists.")
        return self._issue(user, family_id=None)

    def login(self, username: str, password: str, client: str) -> TokenPair:
        self.throttle.check(username, client)
        user = self._users.by_username(username.strip())
        if user is None or not self._verify(user.password_hash, password):
            self.throttle.failed(username, client)
            raise Unauthorized(_INVALID_CREDENTIALS)
        self.throttle.succeeded(username, client)
        return self._issue(user, family_id=None)

    def refresh(self, refresh_token: str) -> TokenPair:
        outcome, token = self._refresh.use(_sha256(refresh_token), self._now())
        if outcome != "ok" or token is None:
            raise Unauthorized("Refresh token is invalid, expired or already used.")
        user = self._users.get(token.user_id)
        if user is None:
            raise Unauthorized("Refresh token is invalid, expired or already used.")
        return self._issue(user, family_id=token.family_id)

    def logout(self, principal: Principal | None, refresh_token: str | None) -> None:
        """Revoke the given refresh token's family (holding the token is enough: browsers log
        out with it alone), or, without one, every session of the authenticated user.

        An unknown or already revoked token is not an error (logging out twice is fine); a token
        of another user than the authenticated one is left alone."""
        now = self._now()
        if refresh_token:
            token = self._refresh.find(_sha256(refresh_token))
            if token is None:
                return
            if principal is None or token.user_id == principal.user_id:
                self._refresh.revoke_family(token.family_id, now)
            return
        if principal is None:
            raise Unauthorized("Authentication required.")
        self._refresh.revoke_all_for_user(principal.user_id, now)

    def me(self, principal: Principal) -> UserView:
        user = self._users.get(principal.user_id)
        if user is None:
            raise Unauthorized("Authentication required.")
        return _user_view(user)

    def change_password(
        self,
        principal: Principal,
        current_password: str,
        new_password: str,
        confirm_password: str | None = None,
    ) -> TokenPair:
        """Set a new password; every other session ends, the caller gets fresh tokens.
        `confirm_password`, when given, must repeat `new_password`."""
        user = self._users.get(principal.user_id)
        if user is None:
            raise Unauthorized("Authentication required.")
        if not self._verify(user.password_hash, current_password):
            raise InvalidRequest("Current password is incorrect.", field="current_password")
        validate_password(new_password, field="new_password")
        if confirm_password is not None and confirm_password != new_password:
            raise Unprocessable("Passwords do not match.", field="confirm_password")
        now = self._now()
        self._users.set_password(user.id, self._hasher.hash(new_password), now)
        self._refresh.revoke_all_for_user(user.id, now)
        refreshed = self._users.get(user.id)
        assert refreshed is not None
        return self._issue(refreshed, family_id=None)

    def change_username(self, principal: Principal, new_username: str) -> UserView:
        name = validate_username(new_username)
        try:
            user = self._users.set_username(principal.user_id, name, self._now())
        except UsernameTaken:
            raise Conflict("That username is taken.", field="new_username") from None
        except KeyError:
            raise Unauthorized("Authentication required.") from None
        return _user_view(user)

    # -- credential checks -----------------------------------------------------------------

    def authenticate_bearer(self, credential: str) -> Principal:
        """An access token or an API key (OpenAI clients send their key as a Bearer token)."""
        if credential.startswith("sk_"):
            return self.authenticate_api_key(credential)
        return self._authenticate_jwt(credential, "access")

    def authenticate_api_key(self, raw_key: str) -> Principal:
        found = self._keys.with_owner(_sha256(raw_key))
        if found is None or found.revoked_at is not None:
            raise Unauthorized("Invalid or revoked API key.")
        now = self._now()
        last = found.last_used_at
        if last is None or now - as_utc(last) >= API_KEY_TOUCH_INTERVAL:
            self._keys.touch(found.key_id, now)
        return Principal(user_id=found.user_id, username=found.username, via="api_key")

    def authenticate_stream_token(self, token: str, resource: str | None = None) -> Principal:
        """A stream token for this route. `resource` names what the route serves
        (`audio_resource(...)`); a token scoped to one resource is valid only there."""
        return self._authenticate_jwt(token, "stream", resource=resource)

    def issue_stream_token(self, principal: Principal, resource: str | None = None) -> StreamToken:
        """A read-only token for `?stream_token=`: general (SSE and audio routes, 5 minutes) or,
        with `resource`, only for that one resource's audio (1 hour)."""
        user = self._users.get(principal.user_id)
        if user is None:
            raise Unauthorized("Authentication required.")
        if resource is None:
            token, expires = self._jwt(user, "stream", STREAM_TOKEN_TTL)
        else:
            token, expires = self._jwt(user, "stream", AUDIO_TOKEN_TTL, resource=resource)
        return StreamToken(token=token, expires_at=expires)

    # -- API keys --------------------------------------------------------------------------

    def create_api_key(self, principal: Principal, name: str) -> CreatedApiKey:
        label = name.strip()
        if not label or len(label) > 200:
            raise InvalidRequest("name must be 1-200 characters.", field="name")
        raw = "sk_" + secrets.token_urlsafe(32)
        key = ApiKey(
            id=new_id("key"),
            user_id=principal.user_id,
            name=label,
            key_hash=_sha256(raw),
            preview=f"sk_...{raw[-4:]}",
            last_used_at=None,
            revoked_at=None,
            created_at=self._now(),
        )
        self._keys.add(key)
        return CreatedApiKey(key=raw, view=_key_view(key))

    def list_api_keys(self, principal: Principal) -> list[ApiKeyView]:
        return [_key_view(k) for k in self._keys.list_active(principal.user_id)]

    def delete_api_key(self, principal: Principal, key_id: str) -> None:
        if not self._keys.revoke(principal.user_id, key_id, self._now()):
            raise NotFound("API key not found.")

    # -- internals -------------------------------------------------------------------------

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return bool(self._hasher.verify(password_hash, password))
        except (VerificationError, InvalidHashError):
            return False

    def _jwt(
        self, user: User, kind: str, ttl: timedelta, *, resource: str | None = None
    ) -> tuple[str, datetime]:
        now = self._now()
        expires = now + ttl
        claims: dict[str, object] = {
            "sub": user.id,
            "sv": user.session_version,
            "typ": kind,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": secrets.token_hex(8),
        }
        if resource is not None:
            claims["res"] = resource
        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM), expires

    def _authenticate_jwt(self, token: str, kind: str, *, resource: str | None = None) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALGORITHM],
                options={"require": ["sub", "exp", "typ", "sv"]},
            )
        except jwt.PyJWTError:
            raise Unauthorized("Invalid or expired token.") from None
        if claims.get("typ") != kind:
            raise Unauthorized("Invalid or expired token.")
        scope = claims.get("res")
        if scope is not None and scope != resource:
            raise Unauthorized("This token is for another resource.")
        user = self._users.get(str(claims["sub"]))
        if user is None or user.session_version != claims.get("sv"):
            raise Unauthorized("Invalid or expired token.")
        return Principal(
            user_id=user.id,
            username=user.username,
            via="stream" if kind == "stream" else "access",
            read_only=kind == "stream",
        )

    def _issue(self, user: User, family_id: str | None) -> TokenPair:
        access, _expires = self._jwt(user, "access", ACCESS_TOKEN_TTL)
        raw_refresh = "rt_" + secrets.token_urlsafe(32)
        now = self._now()
        self._refresh.add(
            RefreshToken(
                id=new_id("rt"),
                user_id=user.id,
                token_hash=_sha256(raw_refresh),
                family_id=family_id or new_id("rt"),
                expires_at=now + REFRESH_TOKEN_TTL,
                used_at=None,
                revoked_at=None,
                created_at=now,
            )
        )
        return TokenPair(
            access_token=access,
            refresh_token=raw_refresh,
            expires_in=int(ACCESS_TOKEN_TTL.total_seconds()),
            user=_user_view(user),
        )
