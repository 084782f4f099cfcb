"""Accounts and credentials: first-user registration (an admin), login with throttling, rotating
refresh tokens, JWT access and stream tokens, password/username changes, API keys, and the admin's
management of other accounts.

Token design:
- access token: JWT (HS256, `config.resolve_secret_key`) with `sub`, `sv` (the user's
  `session_version`: a password change, logout-all or disabling ends every older session), `sid`
  (the refresh-token family: logging that session out ends it), `typ=access`, 15 minutes. Every
  request checks the user, `sv` and `sid` against the database.
- stream token: the same JWT shape with `typ=stream`, 5 minutes, read-only, carrying the `sid`
  or API key (`kid`) it was minted with; only accepted in the `stream_token` query parameter of
  SSE and audio routes.
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
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from scriberr.clock import as_utc, utcnow
from scriberr.ids import new_id
from scriberr.persistence.auth_repository import (
    ApiKeyRepository,
    LoginFailureRepository,
    RefreshTokenRepository,
    UserChanges,
    UsernameTaken,
    UserRepository,
)
from scriberr.persistence.models import ApiKey, RefreshToken, User
from scriberr.services.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
    Unauthorized,
)

ACCESS_TOKEN_TTL = timedelta(minutes=15)
STREAM_TOKEN_TTL = timedelta(minutes=5)
AUDIO_TOKEN_TTL = timedelta(hours=1)
REFRESH_TOKEN_TTL = timedelta(days=30)
API_KEY_TOUCH_INTERVAL = timedelta(seconds=60)
LOGIN_MAX_FAILURES = 5  # per account, from anywhere
LOGIN_MAX_CLIENT_FAILURES = 20  # per client address, whatever the account
LOGIN_WINDOW = timedelta(minutes=15)
ROLE_ADMIN = "admin"
ROLE_MEMBER = "member"
ROLES = (ROLE_ADMIN, ROLE_MEMBER)

_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{3,150}$")
_MIN_PASSWORD = 8
_MAX_PASSWORD = 1024
_ALGORITHM = "HS256"
_INVALID_CREDENTIALS = "Invalid credentials."
_INVALID_TOKEN = "Invalid or expired token."


@dataclass(frozen=True)
class Principal:
    """Who is calling: resolved from an access token, an API key or a stream token, with what
    `AuthService.still_valid` needs to check again later (open event streams)."""

    user_id: str
    username: str
    via: str  # "access" | "api_key" | "stream"
    read_only: bool = False
    role: str = ROLE_MEMBER
    session_id: str | None = None  # the refresh-token family an access/stream token belongs to
    session_version: int | None = None
    api_key_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN


@dataclass(frozen=True)
class UserView:
    id: str
    username: str
    created_at: datetime
    role: str = ROLE_MEMBER
    disabled: bool = False
    updated_at: datetime | None = None


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
    description: str | None = None
    is_active: bool = True
    updated_at: datetime | None = None


@dataclass(frozen=True)
class CreatedApiKey:
    key: str  # shown once
    view: ApiKeyView


@dataclass(frozen=True)
class UserUpdate:
    """An admin's change to an account (None = unchanged)."""

    role: str | None = None
    disabled: bool | None = None
    password: str | None = None


def normalize_username(username: str) -> str:
    """The one form of a username used for lookups and the login throttle: NFKC, surrounding
    whitespace removed, lower case."""
    return unicodedata.normalize("NFKC", username).strip().lower()


def _throttle_key(kind: str, value: str) -> str:
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:40]}"


class LoginThrottle:
    """Failed password checks per account and per client address, counted in the database (so
    the limit holds across restarts, processes and hosts) over a sliding window."""

    def __init__(
        self,
        failures: LoginFailureRepository,
        *,
        account_limit: int = LOGIN_MAX_FAILURES,
        client_limit: int = LOGIN_MAX_CLIENT_FAILURES,
        window: timedelta = LOGIN_WINDOW,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._failures = failures
        self._limits = {"account": account_limit, "client": client_limit}
        self._window = window
        self._now = clock

    def _keys(self, account: str, client: str) -> dict[str, str]:
        return {
            "account": _throttle_key("account", account),
            "client": _throttle_key("client", client),
        }

    def check(self, account: str, client: str) -> None:
        """Raise `RateLimited` (with `retry_after`) while the account or the client is locked."""
        keys = self._keys(account, client)
        now = self._now()
        recent = self._failures.recent(list(keys.values()), now - self._window)
        for kind, key in keys.items():
            times = recent.get(key, [])
            limit = self._limits[kind]
            if len(times) >= limit:
                free_at = times[-limit] + self._window
                raise RateLimited(
                    "Too many failed attempts; try again later.",
                    retry_after_s=max(1, int((free_at - now).total_seconds()) + 1),
                )

    def failed(self, account: str, client: str) -> None:
        now = self._now()
        keys = self._keys(account, client)
        self._failures.add(list(keys.values()), now, prune_before=now - self._window)

    def succeeded(self, account: str) -> None:
        self._failures.clear(_throttle_key("account", account))


def audio_resource(kind: str, resource_id: str) -> str:
    """The scope of an audio token: `file:<id>` or `transcription:<id>`."""
    return f"{kind}:{resource_id}"


def credential_hash(raw: str) -> str:
    """How a key or refresh token is stored and looked up: its SHA-256, hex."""
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class MintedKey:
    raw: str  # shown to its owner once, never stored
    key_hash: str
    preview: str


def mint_key(prefix: str) -> MintedKey:
    """A new random key or refresh token (`prefix` + 32 random bytes), its stored hash and its
    preview (`prefix...abcd`)."""
    raw = prefix + secrets.token_urlsafe(32)
    return MintedKey(raw=raw, key_hash=credential_hash(raw), preview=f"{prefix}...{raw[-4:]}")


def _user_view(user: User) -> UserView:
    return UserView(
        id=user.id,
        username=user.username,
        created_at=user.created_at,
        role=user.role or ROLE_MEMBER,
        disabled=bool(user.disabled),
        updated_at=user.updated_at,
    )


def _key_view(key: ApiKey) -> ApiKeyView:
    return ApiKeyView(
        id=key.id,
        name=key.name,
        preview=key.preview,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
        description=key.description,
        is_active=bool(key.is_active) and key.revoked_at is None,
        updated_at=key.updated_at or key.created_at,
    )


def validate_username(username: str) -> str:
    name = unicodedata.normalize("NFKC", username).strip()
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


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidRequest("role must be admin or member.", field="role")
    return role


class AuthService:
    def __init__(
        self,
        users: UserRepository,
        refresh_tokens: RefreshTokenRepository,
        api_keys: ApiKeyRepository,
        secret_key: str,
        *,
        throttle: LoginThrottle,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._users = users
        self._refresh = refresh_tokens
        self._keys = api_keys
        self._secret = secret_key
        self._hasher = hasher or PasswordHasher()
        self.throttle = throttle
        self._now = clock
        self._decoy_hash: str | None = None

    # -- registration and sessions ---------------------------------------------------------

    def registration_enabled(self) -> bool:
        return self._users.count() == 0

    def register(self, username: str, password: str, confirm_password: str) -> TokenPair:
        """The first account, which administers the server; 409 once any account exists."""
        if not self.registration_enabled():
            raise Conflict("Registration is closed: a user already exists.")
        name = validate_username(username)
        validate_password(password)
        if password != confirm_password:
            raise InvalidRequest("Passwords do not match.", field="confirm_password")
        user = self._new_user(name, password, ROLE_ADMIN)
        if not self._users.create_first(user):
            raise Conflict("Registration is closed: a user already exists.")
        return self._issue(user, family_id=None)

    def login(self, username: str, password: str, client: str) -> TokenPair:
        """Throttled per account and per client; an unknown name costs the same hash work."""
        account = normalize_username(username)
        self.throttle.check(account, client)
        user = self._users.by_username(account) if _USERNAME.match(account) else None
        matched = self._verify(user.password_hash if user else self._decoy(), password)
        if user is None or not matched:
            self.throttle.failed(account, client)
            raise Unauthorized(_INVALID_CREDENTIALS)
        self.throttle.succeeded(account)
        if user.disabled:
            raise Forbidden("This account is disabled.")
        return self._issue(user, family_id=None)

    def refresh(self, refresh_token: str) -> TokenPair:
        outcome, token = self._refresh.use(credential_hash(refresh_token), self._now())
        if outcome != "ok" or token is None:
            raise Unauthorized("Refresh token is invalid, expired or already used.")
        user = self._users.get(token.user_id)
        if user is None or user.disabled:
            raise Unauthorized("Refresh token is invalid, expired or already used.")
        return self._issue(user, family_id=token.family_id)

    def logout(self, principal: Principal | None, refresh_token: str | None) -> None:
        """End one session: the given refresh token's (its holder may log out without an access
        token), else the caller's own. Its access and stream tokens stop working at once."""
        now = self._now()
        if refresh_token:
            found = self._refresh.family_owner(credential_hash(refresh_token))
            if found is not None and (principal is None or found[1] == principal.user_id):
                self._refresh.revoke_family(found[0], now)
            return
        if principal is None:
            raise Unauthorized("Authentication required.")
        if principal.session_id:
            self._refresh.revoke_family(principal.session_id, now)

    def logout_all(self, principal: Principal) -> None:
        """End every session of the caller: refresh tokens revoked, access and stream tokens
        invalid at once (API keys are separate credentials and stay)."""
        now = self._now()
        self._refresh.revoke_all_for_user(principal.user_id, now)
        self._users.bump_session_version(principal.user_id, now)

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
        *,
        confirm_password: str | None = None,
        client: str = "unknown",
    ) -> TokenPair:
        """Set a new password; every session ends, the caller gets fresh tokens."""
        user = self._check_password(principal, current_password, client, "current_password")
        validate_password(new_password, field="new_password")
        if confirm_password is not None and confirm_password != new_password:
            raise InvalidRequest("Passwords do not match.", field="confirm_password")
        now = self._now()
        self._users.set_password(user.id, self._hasher.hash(new_password), now)
        self._refresh.revoke_all_for_user(user.id, now)
        refreshed = self._users.get(user.id)
        assert refreshed is not None
        return self._issue(refreshed, family_id=None)

    def change_username(
        self, principal: Principal, new_username: str, password: str, *, client: str = "unknown"
    ) -> UserView:
        self._check_password(principal, password, client, "password")
        name = validate_username(new_username)
        try:
            user = self._users.set_username(principal.user_id, name, self._now())
        except UsernameTaken:
            raise Conflict("That username is taken.", field="new_username") from None
        except KeyError:
            raise Unauthorized("Authentication required.") from None
        return _user_view(user)

    # -- administration --------------------------------------------------------------------

    def list_users(self) -> list[UserView]:
        return [_user_view(user) for user in self._users.list_all()]

    def get_user(self, user_id: str) -> UserView:
        user = self._users.get(user_id)
        if user is None:
            raise NotFound("User not found.")
        return _user_view(user)

    def create_user(self, username: str, password: str, role: str = ROLE_MEMBER) -> UserView:
        name = validate_username(username)
        validate_password(password)
        user = self._new_user(name, password, validate_role(role))
        try:
            return _user_view(self._users.create(user))
        except UsernameTaken:
            raise Conflict("That username is taken.", field="username") from None

    def update_user(self, user_id: str, update: UserUpdate) -> UserView:
        """Change role, disable/enable, or reset the password. Disabling or a reset ends every
        session of the user at once. The last active admin cannot be demoted or disabled."""
        user = self._users.get(user_id)
        if user is None:
            raise NotFound("User not found.")
        role = validate_role(update.role) if update.role is not None else None
        loses_admin = role == ROLE_MEMBER or update.disabled is True
        if loses_admin and self._is_last_admin(user):
            raise Conflict("The last admin cannot be demoted or disabled.")
        password_hash = None
        if update.password is not None:
            validate_password(update.password)
            password_hash = self._hasher.hash(update.password)
        now = self._now()
        changed = self._users.change(
            user_id,
            UserChanges(role=role, disabled=update.disabled, password_hash=password_hash),
            now,
        )
        if changed is None:
            raise NotFound("User not found.")
        if password_hash is not None or update.disabled:
            self._refresh.revoke_all_for_user(user_id, now)
        if password_hash is not None:
            self.throttle.succeeded(normalize_username(changed.username))
        return _user_view(changed)

    def check_deletable(self, user_id: str) -> None:
        user = self._users.get(user_id)
        if user is None:
            raise NotFound("User not found.")
        if self._is_last_admin(user):
            raise Conflict("The last admin cannot be deleted.")

    def delete_user(self, user_id: str) -> None:
        """Remove the account row (its refresh tokens, API keys, profiles and settings go with
        it); the caller removes the user's files and jobs first."""
        self.check_deletable(user_id)
        if not self._users.delete(user_id):
            raise NotFound("User not found.")

    def _is_last_admin(self, user: User) -> bool:
        return (
            user.role == ROLE_ADMIN and not user.disabled and self._users.count_active_admins() <= 1
        )

    # -- credential checks -----------------------------------------------------------------

    def authenticate_bearer(self, credential: str) -> Principal:
        """An access token or an API key (OpenAI clients send their key as a Bearer token)."""
        if credential.startswith("sk_"):
            return self.authenticate_api_key(credential)
        return self._authenticate_jwt(credential, "access")

    def authenticate_api_key(self, raw_key: str) -> Principal:
        found = self._keys.with_owner(credential_hash(raw_key))
        if found is None or not found.usable:
            raise Unauthorized("Invalid or revoked API key.")
        now = self._now()
        last = found.last_used_at
        if last is None or now - as_utc(last) >= API_KEY_TOUCH_INTERVAL:
            self._keys.touch(found.key_id, now)
        return Principal(
            user_id=found.user_id,
            username=found.username,
            via="api_key",
            role=found.role or ROLE_MEMBER,
            api_key_id=found.key_id,
        )

    def authenticate_stream_token(self, token: str, resource: str | None = None) -> Principal:
        """A stream token for this route. `resource` names what the route serves
        (`audio_resource(...)`); a token scoped to one resource is valid only there."""
        return self._authenticate_jwt(token, "stream", resource=resource)

    def still_valid(self, principal: Principal) -> bool:
        """Whether the credential behind `principal` still works (user enabled, session not
        ended, API key not revoked): open event streams ask this while they run."""
        if principal.via == "api_key":
            key = self._keys.get(principal.api_key_id or "")
            user = self._users.get(principal.user_id)
            return key is not None and _key_usable(key) and user is not None and not user.disabled
        state = self._users.with_session(principal.user_id, principal.session_id)
        if state is None:
            return False
        user, revoked = state
        if user.disabled or revoked or user.session_version != principal.session_version:
            return False
        if principal.api_key_id:
            key = self._keys.get(principal.api_key_id)
            return key is not None and _key_usable(key)
        return True

    def issue_stream_token(self, principal: Principal, resource: str | None = None) -> StreamToken:
        """A read-only token for `?stream_token=`: general (SSE and audio routes, 5 minutes) or,
        with `resource`, only for that one resource's audio (1 hour)."""
        user = self._users.get(principal.user_id)
        if user is None or user.disabled:
            raise Unauthorized("Authentication required.")
        if resource is None:
            token, expires = self._jwt(
                user,
                "stream",
                STREAM_TOKEN_TTL,
                session_id=principal.session_id,
                api_key_id=principal.api_key_id,
            )
        else:
            token, expires = self._jwt(
                user,
                "stream",
                AUDIO_TOKEN_TTL,
                session_id=principal.session_id,
                api_key_id=principal.api_key_id,
                resource=resource,
            )
        return StreamToken(token=token, expires_at=expires)

    # -- API keys --------------------------------------------------------------------------

    def create_api_key(
        self, principal: Principal, name: str, description: str | None = None
    ) -> CreatedApiKey:
        label = name.strip()
        if not label or len(label) > 200:
            raise InvalidRequest("name must be 1-200 characters.", field="name")
        detail = description.strip() if description else None
        if detail is not None and len(detail) > 1000:
            raise InvalidRequest(
                "description must be at most 1000 characters.", field="description"
            )
        minted = mint_key("sk_")
        now = self._now()
        key = ApiKey(
            id=new_id("key"),
            user_id=principal.user_id,
            name=label,
            description=detail or None,
            key_hash=minted.key_hash,
            preview=minted.preview,
            is_active=True,
            last_used_at=None,
            revoked_at=None,
            created_at=now,
            updated_at=now,
        )
        self._keys.add(key)
        return CreatedApiKey(key=minted.raw, view=_key_view(key))

    def list_api_keys(self, principal: Principal) -> list[ApiKeyView]:
        return [_key_view(k) for k in self._keys.list_active(principal.user_id)]

    def delete_api_key(self, principal: Principal, key_id: str) -> None:
        if not self._keys.revoke(principal.user_id, key_id, self._now()):
            raise NotFound("API key not found.")

    # -- internals -------------------------------------------------------------------------

    def _new_user(self, name: str, password: str, role: str) -> User:
        now = self._now()
        return User(
            id=new_id("user"),
            username=name,
            password_hash=self._hasher.hash(password),
            session_version=1,
            role=role,
            disabled=False,
            created_at=now,
            updated_at=now,
        )

    def _check_password(self, principal: Principal, password: str, client: str, field: str) -> User:
        """The caller's user after a throttled check of their current password."""
        user = self._users.get(principal.user_id)
        if user is None:
            raise Unauthorized("Authentication required.")
        account = normalize_username(user.username)
        self.throttle.check(account, client)
        if not self._verify(user.password_hash, password):
            self.throttle.failed(account, client)
            raise InvalidRequest("Current password is incorrect.", field=field)
        return user

    def _decoy(self) -> str:
        """A hash with the hasher's parameters, verified against for unknown usernames so that
        they cost the same work as known ones."""
        if self._decoy_hash is None:
            self._decoy_hash = self._hasher.hash(secrets.token_urlsafe(24))
        return self._decoy_hash

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return bool(self._hasher.verify(password_hash, password))
        except (VerificationError, InvalidHashError):
            return False

    def _jwt(
        self,
        user: User,
        kind: str,
        ttl: timedelta,
        *,
        session_id: str | None = None,
        api_key_id: str | None = None,
        resource: str | None = None,
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
        if session_id:
            claims["sid"] = session_id
        if api_key_id:
            claims["kid"] = api_key_id
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
            raise Unauthorized(_INVALID_TOKEN) from None
        if claims.get("typ") != kind:
            raise Unauthorized(_INVALID_TOKEN)
        scope = claims.get("res")
        if scope is not None and scope != resource:
            raise Unauthorized("This token is for another resource.")
        session_id = claims.get("sid")
        api_key_id = claims.get("kid")
        principal = Principal(
            user_id=str(claims["sub"]),
            username="",
            via="stream" if kind == "stream" else "access",
            read_only=kind == "stream",
            session_id=session_id if isinstance(session_id, str) else None,
            session_version=claims.get("sv") if isinstance(claims.get("sv"), int) else None,
            api_key_id=api_key_id if isinstance(api_key_id, str) else None,
        )
        state = self._users.with_session(principal.user_id, principal.session_id)
        if state is None:
            raise Unauthorized(_INVALID_TOKEN)
        user, revoked = state
        if user.disabled or revoked or user.session_version != principal.session_version:
            raise Unauthorized(_INVALID_TOKEN)
        if principal.api_key_id is not None:
            key = self._keys.get(principal.api_key_id)
            if key is None or not _key_usable(key):
                raise Unauthorized(_INVALID_TOKEN)
        return replace(principal, username=user.username, role=user.role or ROLE_MEMBER)

    def _issue(self, user: User, family_id: str | None) -> TokenPair:
        family = family_id or new_id("rt")
        access, _expires = self._jwt(user, "access", ACCESS_TOKEN_TTL, session_id=family)
        refresh = mint_key("rt_")
        now = self._now()
        self._refresh.add(
            RefreshToken(
                id=new_id("rt"),
                user_id=user.id,
                token_hash=refresh.key_hash,
                family_id=family,
                expires_at=now + REFRESH_TOKEN_TTL,
                used_at=None,
                revoked_at=None,
                created_at=now,
            )
        )
        return TokenPair(
            access_token=access,
            refresh_token=refresh.raw,
            expires_in=int(ACCESS_TOKEN_TTL.total_seconds()),
            user=_user_view(user),
        )


def _key_usable(key: ApiKey) -> bool:
    return bool(key.is_active) and key.revoked_at is None
