"""SQL for per-user settings, and the ownership check on a settings' default profile."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from scriberr.persistence.database import Database
from scriberr.persistence.models import Profile, UserSettings


class SettingsRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def get(self, user_id: str) -> UserSettings | None:
        with self._db.session() as session:
            return session.get(UserSettings, user_id)

    def upsert(self, user_id: str, changes: dict[str, Any], now: datetime) -> UserSettings:
        with self._db.write_session() as session:
            row = session.get(UserSettings, user_id)
            if row is None:
                row = UserSettings(
                    user_id=user_id,
                    auto_transcription_enabled=False,
                    default_profile_id=None,
                    local_only=True,
                    max_upload_size_mb=None,
                    auto_rename_enabled=False,
                    updated_at=now,
                )
                session.add(row)
            for name, value in changes.items():
                setattr(row, name, value)
            row.updated_at = now
            if "default_profile_id" in changes:
                _mirror_default(session, user_id, changes["default_profile_id"], now)
            session.flush()
            return row

    def profile_belongs_to(self, user_id: str, profile_id: str) -> bool:
        with self._db.session() as session:
            found = session.scalar(
                select(Profile.id).where(Profile.id == profile_id, Profile.user_id == user_id)
            )
            return found is not None


def _mirror_default(session: Session, user_id: str, profile_id: str | None, now: datetime) -> None:
    """`profiles.is_default` mirrors `settings.default_profile_id` (the source of truth)."""
    session.execute(
        update(Profile)
        .where(Profile.user_id == user_id, Profile.is_default.is_(True))
        .where(Profile.id != profile_id if profile_id else Profile.id.is_not(None))
        .values(is_default=False, updated_at=now)
    )
    if profile_id:
        session.execute(
            update(Profile)
            .where(Profile.user_id == user_id, Profile.id == profile_id)
            .values(is_default=True, updated_at=now)
        )
