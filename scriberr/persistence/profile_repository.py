"""SQL for transcription profiles (named option presets) and the per-user default profile.

At most one profile per user is the default. `settings.default_profile_id` is the source of truth
(so the settings route and the profiles route can never disagree); `profiles.is_default` mirrors it
in the same transaction when the default is changed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scriberr.clock import utcnow
from scriberr.ids import new_id
from scriberr.persistence.database import Database
from scriberr.persistence.models import Profile, UserSettings


@dataclass(frozen=True)
class ProfileRecord:
    id: str
    user_id: str
    name: str
    description: str | None
    options: dict[str, Any]
    is_default: bool
    created_at: datetime
    updated_at: datetime


class DuplicateProfileName(Exception):
    """Another profile of the same user already has this name."""


def _record(row: Profile, default_id: str | None) -> ProfileRecord:
    return ProfileRecord(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        description=row.description,
        options=dict(row.options or {}),
        is_default=row.id == default_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class ProfileRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def list_for_user(self, user_id: str) -> list[ProfileRecord]:
        with self._db.session() as session:
            default_id = _default_id(session, user_id)
            rows = session.scalars(
                select(Profile)
                .where(Profile.user_id == user_id)
                .order_by(Profile.created_at, Profile.id)
            )
            return [_record(row, default_id) for row in rows]

    def get(self, user_id: str, profile_id: str) -> ProfileRecord | None:
        with self._db.session() as session:
            row = session.get(Profile, profile_id)
            if row is None or row.user_id != user_id:
                return None
            return _record(row, _default_id(session, user_id))

    def get_default(self, user_id: str) -> ProfileRecord | None:
        with self._db.session() as session:
            default_id = _default_id(session, user_id)
            row = session.get(Profile, default_id) if default_id else None
            if row is None or row.user_id != user_id:
                return None
            return _record(row, default_id)

    def create(
        self,
        user_id: str,
        *,
        name: str,
        description: str | None,
        options: dict[str, Any],
        is_default: bool,
    ) -> ProfileRecord:
        try:
            with self._db.write_session() as session:
                now = utcnow()
                row = Profile(
                    id=new_id("profile"),
                    user_id=user_id,
                    name=name,
                    description=description,
                    options=options,
                    is_default=False,
                    created_at=now,
                    updated_at=now,
                )
                session.add(row)
                session.flush()
                if is_default:
                    _make_default(session, user_id, row.id)
                session.flush()
                session.refresh(row)
                return _record(row, _default_id(session, user_id))
        except IntegrityError as error:
            raise DuplicateProfileName(name) from error

    def update(
        self, user_id: str, profile_id: str, changes: dict[str, Any]
    ) -> ProfileRecord | None:
        """Apply `name`/`description`/`options`/`is_default` changes; None when not found."""
        try:
            with self._db.write_session() as session:
                row = session.get(Profile, profile_id)
                if row is None or row.user_id != user_id:
                    return None
                for key in ("name", "description", "options"):
                    if key in changes:
                        setattr(row, key, changes[key])
                if changes.get("is_default") is True:
                    _make_default(session, user_id, row.id)
                elif changes.get("is_default") is False and _default_id(session, user_id) == row.id:
                    _clear_default(session, user_id)
                row.updated_at = utcnow()
                session.flush()
                session.refresh(row)
                return _record(row, _default_id(session, user_id))
        except IntegrityError as error:
            raise DuplicateProfileName(str(changes.get("name"))) from error

    def set_default(self, user_id: str, profile_id: str) -> ProfileRecord | None:
        with self._db.write_session() as session:
            row = session.get(Profile, profile_id)
            if row is None or row.user_id != user_id:
                return None
            _make_default(session, user_id, row.id)
            session.flush()
            session.refresh(row)
            return _record(row, _default_id(session, user_id))

    def delete(self, user_id: str, profile_id: str) -> bool:
        with self._db.write_session() as session:
            row = session.get(Profile, profile_id)
            if row is None or row.user_id != user_id:
                return False
            if _default_id(session, user_id) == row.id:
                _clear_default(session, user_id)
            session.delete(row)
            return True


def _default_id(session: Session, user_id: str) -> str | None:
    return session.scalar(
        select(UserSettings.default_profile_id).where(UserSettings.user_id == user_id)
    )


def _make_default(session: Session, user_id: str, profile_id: str) -> None:
    now = utcnow()
    session.execute(
        update(Profile)
        .where(Profile.user_id == user_id, Profile.id != profile_id, Profile.is_default.is_(True))
        .values(is_default=False, updated_at=now)
    )
    session.execute(
        update(Profile).where(Profile.id == profile_id).values(is_default=True, updated_at=now)
    )
    _mirror_setting(session, user_id, profile_id)


def _clear_default(session: Session, user_id: str) -> None:
    session.execute(
        update(Profile)
        .where(Profile.user_id == user_id, Profile.is_default.is_(True))
        .values(is_default=False, updated_at=utcnow())
    )
    _mirror_setting(session, user_id, None)


def _mirror_setting(session: Session, user_id: str, profile_id: str | None) -> None:
    settings = session.get(UserSettings, user_id)
    if settings is None:
        if profile_id is None:
            return
        session.add(UserSettings(user_id=user_id, default_profile_id=profile_id))
    else:
        settings.default_profile_id = profile_id
        settings.updated_at = utcnow()
