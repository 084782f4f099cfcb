"""SQL for uploaded/imported files: insert, owner-scoped get/list/update/delete."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import delete, func, or_, select

from scriberr.jobs import FileStatus, Origin
from scriberr.persistence.database import Database
from scriberr.persistence.keyset import keyset_page
from scriberr.persistence.models import AudioFile

_SORT_COLUMNS = {
    "created_at": AudioFile.created_at,
    "updated_at": AudioFile.updated_at,
    "title": AudioFile.title,
}


class FileRow(NamedTuple):
    """The columns a file listing shows (same names as on `AudioFile`)."""

    id: str
    title: str
    kind: str
    status: str
    mime_type: str | None
    size_bytes: int | None
    duration_seconds: float | None
    error: str | None
    created_at: datetime
    updated_at: datetime


_ROW_COLUMNS = tuple(getattr(AudioFile, name) for name in FileRow._fields)


@dataclass(frozen=True)
class FileQuery:
    user_id: str
    limit: int
    sort_field: str = "created_at"
    descending: bool = True
    after_value: Any = None
    after_id: str | None = None
    q: str | None = None
    kind: str | None = None
    status: str | None = None
    origins: Sequence[str] | None = (Origin.LIBRARY,)  # None = any


class FileRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, row: AudioFile) -> AudioFile:
        with self._db.write_session() as session:
            session.add(row)
        return row

    def get(self, user_id: str, file_id: str) -> AudioFile | None:
        with self._db.session() as session:
            return session.scalar(
                select(AudioFile).where(AudioFile.id == file_id, AudioFile.user_id == user_id)
            )

    def list(self, query: FileQuery) -> list[FileRow]:
        """Up to `limit + 1` rows, so the caller can tell whether there is a next page (plain
        columns through a Core connection: a page of entities costs several times as much)."""
        statement = select(*_ROW_COLUMNS).where(AudioFile.user_id == query.user_id)
        if query.kind:
            statement = statement.where(AudioFile.kind == query.kind)
        if query.status:
            statement = statement.where(AudioFile.status == query.status)
        if query.origins is not None:
            statement = statement.where(AudioFile.origin.in_(list(query.origins)))
        if query.q:
            pattern = "%" + _escape_like(query.q.lower()) + "%"
            statement = statement.where(
                or_(
                    func.lower(AudioFile.title).like(pattern, escape="\\"),
                    func.lower(func.coalesce(AudioFile.original_filename, "")).like(
                        pattern, escape="\\"
                    ),
                )
            )
        statement = keyset_page(
            statement,
            _SORT_COLUMNS[query.sort_field],
            AudioFile.id,
            descending=query.descending,
            after_value=query.after_value,
            after_id=query.after_id,
            limit=query.limit,
        )
        with self._db.read_connection() as connection:
            return [FileRow._make(row) for row in connection.execute(statement)]

    def update(
        self, user_id: str, file_id: str, changes: dict[str, Any], now: datetime
    ) -> AudioFile | None:
        with self._db.write_session() as session:
            row = session.scalar(
                select(AudioFile).where(AudioFile.id == file_id, AudioFile.user_id == user_id)
            )
            if row is None:
                return None
            for name, value in changes.items():
                setattr(row, name, value)
            row.updated_at = now
            session.flush()
            return row

    def update_by_id(
        self, file_id: str, changes: dict[str, Any], now: datetime
    ) -> AudioFile | None:
        with self._db.write_session() as session:
            row = session.get(AudioFile, file_id)
            if row is None:
                return None
            for name, value in changes.items():
                setattr(row, name, value)
            row.updated_at = now
            session.flush()
            return row

    def ids_for_user(self, user_id: str) -> builtins.list[str]:
        with self._db.session() as session:
            return list(session.scalars(select(AudioFile.id).where(AudioFile.user_id == user_id)))

    def fail_processing(
        self, kind: str, error: str, now: datetime
    ) -> builtins.list[tuple[str, str]]:
        """Mark every `processing` file of `kind` failed; returns their (user_id, id)."""
        with self._db.write_session() as session:
            rows = list(
                session.scalars(
                    select(AudioFile).where(
                        AudioFile.kind == kind, AudioFile.status == FileStatus.PROCESSING
                    )
                )
            )
            for row in rows:
                row.status = FileStatus.FAILED
                row.error = error
                row.updated_at = now
            return [(row.user_id, row.id) for row in rows]

    def created_before(
        self, origin: str, before: datetime, limit: int
    ) -> builtins.list[tuple[str, str]]:
        """(user_id, id) of up to `limit` files of `origin` created before `before`, oldest
        first."""
        statement = (
            select(AudioFile.user_id, AudioFile.id)
            .where(AudioFile.origin == origin, AudioFile.created_at < before)
            .order_by(AudioFile.created_at, AudioFile.id)
            .limit(limit)
        )
        with self._db.session() as session:
            return [(user_id, file_id) for user_id, file_id in session.execute(statement)]

    def delete(self, user_id: str, file_id: str) -> bool:
        with self._db.write_session() as session:
            result = session.execute(
                delete(AudioFile).where(AudioFile.id == file_id, AudioFile.user_id == user_id)
            )
            return bool(getattr(result, "rowcount", 0))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
