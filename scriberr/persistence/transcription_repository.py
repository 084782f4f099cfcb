"""SQL for reading, listing, renaming and deleting transcriptions (not queue transitions).

Queue transitions (enqueue, claim, progress, complete, fail, cancel) live in
`queue_repository`; this module only reads job rows, edits user-facing fields and removes rows
for good. Every query is scoped by `user_id`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from scriberr.clock import utcnow
from scriberr.jobs import Origin, Stage, is_terminal
from scriberr.persistence.database import Database
from scriberr.persistence.models import AudioFile, Execution, JobLog, Transcription

SORTS = ("created_at", "-created_at", "updated_at", "-updated_at", "title", "-title")
Sort = Literal["created_at", "-created_at", "updated_at", "-updated_at", "title", "-title"]


@dataclass(frozen=True)
class TranscriptionRecord:
    id: str
    user_id: str
    file_id: str | None
    title: str | None
    profile_id: str | None
    source_transcription_id: str | None
    options: dict[str, Any]
    status: str
    progress: float
    progress_stage: str
    language: str | None
    diarization: bool
    error: str | None
    queued_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    failed_at: datetime | None
    canceled_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def is_terminal(self) -> bool:
        return is_terminal(self.status)


@dataclass(frozen=True)
class FileRef:
    """What a transcription needs to know about its source file (internal: has the path)."""

    id: str
    user_id: str
    title: str
    status: str
    storage_path: str | None
    mime_type: str | None
    size_bytes: int | None


@dataclass(frozen=True)
class ListQuery:
    user_id: str
    q: str | None = None
    statuses: Sequence[str] = ()
    updated_after: datetime | None = None
    sort: Sort = "-created_at"
    after: tuple[Any, str] | None = None  # keyset cursor: (sort value, id)
    limit: int = 50
    origins: Sequence[str] | None = (Origin.LIBRARY,)  # of the source file; None = any


def _from_origins(user_id: str, origins: Sequence[str]) -> ColumnElement[bool]:
    """Jobs whose source file has one of `origins` (a job without a file counts as library)."""
    if Origin.LIBRARY not in origins:
        chosen = select(AudioFile.id).where(
            AudioFile.user_id == user_id, AudioFile.origin.in_(list(origins))
        )
        return Transcription.file_id.in_(chosen)
    others = select(AudioFile.id).where(
        AudioFile.user_id == user_id, AudioFile.origin.not_in(list(origins))
    )
    return or_(Transcription.file_id.is_(None), Transcription.file_id.not_in(others))


def _record(row: Any) -> TranscriptionRecord:
    """From a `Transcription` entity or a result row of `_RECORD_COLUMNS` (same attribute names)."""
    return TranscriptionRecord(
        id=row.id,
        user_id=row.user_id,
        file_id=row.file_id,
        title=row.title,
        profile_id=row.profile_id,
        source_transcription_id=row.source_transcription_id,
        options=dict(row.options or {}),
        status=row.status,
        progress=float(row.progress or 0.0),
        progress_stage=row.progress_stage or Stage.QUEUED,
        language=row.language,
        diarization=bool(row.diarization),
        error=row.error,
        queued_at=row.queued_at,
        started_at=row.started_at,
        completed_at=row.completed_at,
        failed_at=row.failed_at,
        canceled_at=row.canceled_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


_RECORD_COLUMNS = tuple(getattr(Transcription, field.name) for field in fields(TranscriptionRecord))


def _sort_column(sort: str) -> InstrumentedAttribute[Any] | ColumnElement[Any]:
    name = sort.lstrip("-")
    if name == "title":
        return func.coalesce(Transcription.title, "")
    column: InstrumentedAttribute[Any] = getattr(Transcription, name)
    return column


def sort_value(record: TranscriptionRecord, sort: str) -> Any:
    """The value of the sort key for `record` (what a keyset cursor stores)."""
    name = sort.lstrip("-")
    if name == "title":
        return record.title or ""
    return getattr(record, name)


class TranscriptionRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def get(self, user_id: str, transcription_id: str) -> TranscriptionRecord | None:
        with self._db.session() as session:
            row = session.get(Transcription, transcription_id)
            return _record(row) if row is not None and row.user_id == user_id else None

    def transcript_json(self, user_id: str, transcription_id: str) -> str | None:
        """The stored canonical transcript (raw text as stored), or None."""
        with self._db.session() as session:
            return session.scalar(
                select(Transcription.transcript).where(
                    Transcription.id == transcription_id, Transcription.user_id == user_id
                )
            )

    def list_page(self, query: ListQuery) -> list[TranscriptionRecord]:
        """One page (`limit + 1` rows fetched so the caller can tell whether more exist)."""
        column = _sort_column(query.sort)
        descending = query.sort.startswith("-")
        conditions: list[ColumnElement[bool]] = [Transcription.user_id == query.user_id]
        if query.q:
            pattern = f"%{_escape_like(query.q.lower())}%"
            conditions.append(
                func.lower(func.coalesce(Transcription.title, "")).like(pattern, escape="\\")
            )
        if query.statuses:
            conditions.append(Transcription.status.in_(list(query.statuses)))
        if query.origins is not None:
            conditions.append(_from_origins(query.user_id, query.origins))
        if query.updated_after is not None:
            conditions.append(Transcription.updated_at > query.updated_after)
        if query.after is not None:
            value, last_id = query.after
            if descending:
                conditions.append(
                    or_(column < value, and_(column == value, Transcription.id < last_id))
                )
            else:
                conditions.append(
                    or_(column > value, and_(column == value, Transcription.id > last_id))
                )
        order = (
            (column.desc(), Transcription.id.desc()) if descending else (column, Transcription.id)
        )
        statement = select(*_RECORD_COLUMNS).where(*conditions).order_by(*order)
        with self._db.session() as session:
            # Plain column rows, not entities: a page of 100 costs half the time to load.
            rows = session.execute(statement.limit(query.limit + 1))
            return [_record(row) for row in rows]

    def ids_for_user(self, user_id: str) -> list[str]:
        with self._db.session() as session:
            return list(
                session.scalars(select(Transcription.id).where(Transcription.user_id == user_id))
            )

    def ids_for_file(self, user_id: str, file_id: str) -> list[str]:
        with self._db.session() as session:
            return list(
                session.scalars(
                    select(Transcription.id).where(
                        Transcription.user_id == user_id, Transcription.file_id == file_id
                    )
                )
            )

    def set_title(
        self, user_id: str, transcription_id: str, title: str | None
    ) -> TranscriptionRecord | None:
        with self._db.write_session() as session:
            row = session.get(Transcription, transcription_id)
            if row is None or row.user_id != user_id:
                return None
            row.title = title
            row.updated_at = utcnow()
            session.flush()
            return _record(row)

    def delete(self, user_id: str, transcription_id: str) -> bool:
        """Remove the job row with its executions and log lines in one transaction."""
        with self._db.write_session() as session:
            owner = session.scalar(
                select(Transcription.user_id).where(Transcription.id == transcription_id)
            )
            if owner != user_id:
                return False
            session.execute(delete(JobLog).where(JobLog.transcription_id == transcription_id))
            session.execute(delete(Execution).where(Execution.transcription_id == transcription_id))
            session.execute(delete(Transcription).where(Transcription.id == transcription_id))
            return True

    def file_ref(self, user_id: str, file_id: str) -> FileRef | None:
        with self._db.session() as session:
            row = session.get(AudioFile, file_id)
            if row is None or row.user_id != user_id:
                return None
            return FileRef(
                id=row.id,
                user_id=row.user_id,
                title=row.title,
                status=row.status,
                storage_path=row.storage_path,
                mime_type=row.mime_type,
                size_bytes=row.size_bytes,
            )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
