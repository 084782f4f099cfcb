"""SQL for accounts: users, refresh tokens (hashed, grouped in rotation families), API keys and
the login throttle's failure records."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from scriberr.clock import as_utc
from scriberr.persistence.database import Database
from scriberr.persistence.models import ApiKey, LoginFailure, RefreshToken, User


@dataclass(frozen=True)
class UserChanges:
    """What an admin changes on an account; None = leave as it is."""

    role: str | None = None
    disabled: bool | None = None
    password_hash: str | None = None


@dataclass(frozen=True)
class ApiKeyOwner:
    """What authenticating with an API key needs: the key's state and its owner."""

    key_id: str
    revoked_at: datetime | None
    last_used_at: datetime | None
    user_id: str
    username: str
    is_active: bool = True
    disabled: bool = False
    role: str = "member"

    @property
    def usable(self) -> bool:
        """The key is active and not revoked, and its owner is not disabled."""
        return bool(self.is_active) and self.revoked_at is None and not self.disabled


_KEY_WITH_OWNER = (
    select(
        ApiKey.id,
        ApiKey.revoked_at,
        ApiKey.last_used_at,
        User.id,
        User.username,
        ApiKey.is_active,
        User.disabled,
        User.role,
    )
    .join(User, User.id == ApiKey.user_id)
    .where(ApiKey.key_hash == bindparam("key_hash"))
)


class UsernameTaken(Exception):
    """Another user already has this username."""


class UserRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def count(self) -> int:
        with self._db.session() as session:
            return int(session.scalar(select(func.count()).select_from(User)) or 0)

    def create_first(self, user: User) -> bool:
        """Insert `user` only if no user exists yet (atomic); False when one already does."""
        with self._db.write_session() as session:
            if session.scalar(select(func.count()).select_from(User)):
                return False
            session.add(user)
        return True

    def get(self, user_id: str) -> User | None:
        with self._db.session() as session:
            return session.get(User, user_id)

    def by_username(self, username: str) -> User | None:
        with self._db.session() as session:
            return session.scalar(select(User).where(func.lower(User.username) == username.lower()))

    def with_session(self, user_id: str, family_id: str | None) -> tuple[User, bool] | None:
        """The user and whether the refresh family `family_id` was revoked, in one query (the
        per-request path of access and stream tokens)."""
        revoked = (
            exists()
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_not(None))
            .correlate(None)
            if family_id
            else None
        )
        with self._db.session() as session:
            if revoked is None:
                user = session.get(User, user_id)
                return (user, False) if user is not None else None
            row = session.execute(select(User, revoked).where(User.id == user_id)).first()
            return (row[0], bool(row[1])) if row is not None else None

    def create(self, user: User) -> User:
        """Insert another account; `UsernameTaken` when the name is in use (any case)."""
        try:
            with self._db.write_session() as session:
                clash = session.scalar(
                    select(User.id).where(func.lower(User.username) == user.username.lower())
                )
                if clash:
                    raise UsernameTaken(user.username)
                session.add(user)
                session.flush()
                return user
        except IntegrityError:
            raise UsernameTaken(user.username) from None

    def list_all(self) -> list[User]:
        with self._db.session() as session:
            return list(session.scalars(select(User).order_by(User.created_at, User.id)))

    def count_active_admins(self) -> int:
        with self._db.session() as session:
            query = select(func.count()).where(User.role == "admin", User.disabled.is_(False))
            return int(session.scalar(query) or 0)

    def change(self, user_id: str, changes: UserChanges, now: datetime) -> User | None:
        """Apply an admin's changes; disabling or a new password also bumps `session_version`
        (every token of the user stops working). None when there is no such user."""
        with self._db.write_session() as session:
            user = session.get(User, user_id)
            if user is None:
                return None
            ends_sessions = changes.password_hash is not None or (
                changes.disabled is True and not user.disabled
            )
            if changes.role is not None:
                user.role = changes.role
            if changes.disabled is not None:
                user.disabled = changes.disabled
            if changes.password_hash is not None:
                user.password_hash = changes.password_hash
            if ends_sessions:
                user.session_version = (user.session_version or 1) + 1
            user.updated_at = now
            session.flush()
            return user

    def bump_session_version(self, user_id: str, now: datetime) -> None:
        with self._db.write_session() as session:
            session.execute(
                update(User)
                .where(User.id == user_id)
                .values(session_version=User.session_version + 1, updated_at=now)
            )

    def delete(self, user_id: str) -> bool:
        with self._db.write_session() as session:
            user = session.get(User, user_id)
            if user is None:
                return False
            session.delete(user)
            return True

    def set_password(self, user_id: str, password_hash: str, now: datetime) -> int:
        """Store a new hash and bump `session_version`; returns the new version."""
        with self._db.write_session() as session:
            user = session.get(User, user_id)
            if user is None:
                raise KeyError(user_id)
            user.password_hash = password_hash
            user.session_version = (user.session_version or 1) + 1
            user.updated_at = now
            return user.session_version

    def set_username(self, user_id: str, username: str, now: datetime) -> User:
        try:
            with self._db.write_session() as session:
                clash = session.scalar(
                    select(User.id).where(
                        func.lower(User.username) == username.lower(), User.id != user_id
                    )
                )
                if clash:
                    raise UsernameTaken(username)
                user = session.get(User, user_id)
                if user is None:
                    raise KeyError(user_id)
                user.username = username
                user.updated_at = now
                session.flush()
                return user
        except IntegrityError:
            raise UsernameTaken(username) from None


class RefreshTokenRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, token: RefreshToken) -> None:
        with self._db.write_session() as session:
            session.add(token)

    def use(self, token_hash: str, now: datetime) -> tuple[str, RefreshToken | None]:
        """Consume a refresh token for rotation, atomically.

        Returns `("ok", token)` and marks it used; `("reused", token)` when it was already used
        or revoked (its whole family is revoked then); `("expired", token)`; `("unknown", None)`.
        """
        with self._db.write_session() as session:
            token = session.scalar(
                select(RefreshToken).where(RefreshToken.token_hash == token_hash)
            )
            if token is None:
                return "unknown", None
            if token.used_at is not None or token.revoked_at is not None:
                session.execute(
                    update(RefreshToken)
                    .where(RefreshToken.family_id == token.family_id)
                    .where(RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
                return "reused", token
            if as_utc(token.expires_at) <= now:
                return "expired", token
            token.used_at = now
            return "ok", token

    def find(self, token_hash: str) -> RefreshToken | None:
        with self._db.session() as session:
            return session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))

    def family_owner(self, token_hash: str) -> tuple[str, str] | None:
        """(family id, user id) of the refresh token with this hash."""
        with self._db.session() as session:
            row = session.execute(
                select(RefreshToken.family_id, RefreshToken.user_id).where(
                    RefreshToken.token_hash == token_hash
                )
            ).first()
            return (row[0], row[1]) if row is not None else None

    def revoke_family(self, family_id: str, now: datetime) -> None:
        with self._db.write_session() as session:
            session.execute(
                update(RefreshToken)
                .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )

    def revoke_all_for_user(self, user_id: str, now: datetime) -> None:
        with self._db.write_session() as session:
            session.execute(
                update(RefreshToken)
                .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )


class ApiKeyRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, key: ApiKey) -> None:
        with self._db.write_session() as session:
            session.add(key)

    def by_hash(self, key_hash: str) -> ApiKey | None:
        with self._db.session() as session:
            return session.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))

    def get(self, key_id: str) -> ApiKey | None:
        with self._db.session() as session:
            return session.get(ApiKey, key_id)

    def with_owner(self, key_hash: str) -> ApiKeyOwner | None:
        """The key with this hash and its user, in one query. This is the per-request auth
        path, so it reads plain columns through a Core connection with a prepared statement,
        which costs a fraction of loading entities through a session."""
        with self._db.read_connection() as connection:
            row = connection.execute(_KEY_WITH_OWNER, {"key_hash": key_hash}).first()
        return ApiKeyOwner(*row) if row is not None else None

    def list_active(self, user_id: str) -> list[ApiKey]:
        with self._db.session() as session:
            rows = session.scalars(
                select(ApiKey)
                .where(ApiKey.user_id == user_id, ApiKey.is_active.is_(True))
                .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
            )
            return list(rows)

    def revoke(self, user_id: str, key_id: str, now: datetime) -> bool:
        """Revoke the caller's own key; False when there is no such active key."""
        with self._db.write_session() as session:
            result = session.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id, ApiKey.user_id == user_id, ApiKey.is_active.is_(True))
                .values(revoked_at=now, is_active=False, updated_at=now)
            )
            return bool(getattr(result, "rowcount", 0))

    def touch(self, key_id: str, now: datetime) -> None:
        with self._db.write_session() as session:
            session.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))


class LoginFailureRepository:
    """Failed password checks per throttle key (`account:<name>`, `client:<address>`)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def recent(self, keys: Sequence[str], since: datetime) -> dict[str, list[datetime]]:
        """The failure times of each key at or after `since`, oldest first."""
        with self._db.session() as session:
            rows = session.execute(
                select(LoginFailure.key, LoginFailure.failed_at)
                .where(LoginFailure.key.in_(list(keys)), LoginFailure.failed_at >= since)
                .order_by(LoginFailure.failed_at)
            ).all()
        found: dict[str, list[datetime]] = {key: [] for key in keys}
        for key, failed_at in rows:
            found[key].append(as_utc(failed_at))
        return found

    def add(self, keys: Sequence[str], now: datetime, prune_before: datetime) -> None:
        """Record one failure for each key, and drop records older than `prune_before`."""
        with self._db.write_session() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.failed_at < prune_before))
            session.execute(insert(LoginFailure), [{"key": k, "failed_at": now} for k in keys])

    def clear(self, key: str) -> None:
        with self._db.write_session() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.key == key))
