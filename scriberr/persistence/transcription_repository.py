"""SQL for reading, listing, renaming and deleting transcriptions (not queue transitions).

Queue transitions (enqueue, claim, progress, complete, fail, cancel) live in
`queue_repository`; this module only reads job rows, edits user-facing fields and removes rows
for good. Every query is scoped by `user_id`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Literal, NamedTuple

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from scriberr.clock import utcnow
from scriberr.jobs import Origin, Stage, is_terminal
from scriberr.persistence.database import Database
from scriberr.persistence.models import (
    AudioFile,
    Execution,
    JobLog,
    Transcription,
    TranscriptionSegment,
)
from scriberr.persistence.search_repository import matching_transcriptions, text_match_query

SORTS = ("created_at", "-created_at", "updated_at", "-updated_at", "title", "-title")
Sort = Literal["created_at", "-created_at", "updated_at", "-updated_at", "title", "-title"]


class TranscriptionRecord(NamedTuple):
    """One job row as the services see it (immutable).

    A named tuple rather than a frozen dataclass: a listing builds 100 of these per request, and
    a frozen dataclass of this size costs about ten times as much to construct."""

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
    duration_seconds: float | None = None  # of the source file, when known
    stalled_at: datetime | None = None  # its worker went silent (`jobs.STALLED_KEY`)

    @property
    def stalled(self) -> bool:
        return self.stalled_at is not None

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
    file_id: str | None = None
    statuses: Sequence[str] = ()
    updated_after: datetime | None = None
    sort: Sort = "-created_at"
    after: tuple[Any, str] | None = None  # keyset cursor: (sort value, id)
    limit: int = 50
    origins: Sequence[str] | None = (Origin.LIBRARY,)  # of the source file; None = any


def _record(row: Sequence[Any], options_cache: dict[str, dict[str, Any]]) -> TranscriptionRecord:
    """From a result row of `_RECORD_COLUMNS` (in `TranscriptionRecord` field order).

    Positional: a listing builds 100 of these per request, and reading a row by position costs a
    fraction of reading it by name. Options arrive as JSON text and most jobs share the same
    options, so each distinct text is decoded once per query (`options_cache`)."""
    (
        id_,
        user_id,
        file_id,
        title,
        profile_id,
        source_transcription_id,
        options_text,
        status,
        progress,
        progress_stage,
        language,
        diarization,
        error,
        *times,
        duration_seconds,
        stalled_at,
    ) = row
    options = options_cache.get(options_text) if options_text else {}
    if options is None:
        decoded = json.loads(options_text)
        options = options_cache[options_text] = decoded if isinstance(decoded, dict) else {}
    return TranscriptionRecord._make(
        (
            id_,
            user_id,
            file_id,
            title,
            profile_id,
            source_transcription_id,
            dict(options),
            status,
            float(progress or 0.0),
            progress_stage or Stage.QUEUED,
            language,
            bool(diarization),
            error,
            *times,
            duration_seconds,
            stalled_at,
        )
    )


# The record's columns in field order: options as their stored JSON text (decoded by `_record`),
# and the file's duration from an outer join.
_RECORD_COLUMNS = tuple(
    cast(Transcription.options, Text)
    if field == "options"
    else AudioFile.duration_seconds
    if field == "duration_seconds"
    else getattr(Transcription, field)
    for field in TranscriptionRecord._fields
)


def _select_records() -> Select[Any]:
    return select(*_RECORD_COLUMNS).outerjoin(AudioFile, AudioFile.id == Transcription.file_id)


_RECORD_BY_ID = _select_records().where(
    Transcription.id == bindparam("transcription_id"),
    Transcription.user_id == bindparam("user_id"),
)


def _sort_column(sort: str) -> InstrumentedAttribute[Any] | ColumnElement[Any]:
    name = sort.lstrip("-")
    if name == "title":
        return func.coalesce(Transcription.title, "")
    column: InstrumentedAttribute[Any] = getattr(Transcription, name)
    return column


@cache
def _list_statement(
    sort: str,
    *,
    has_q: bool,
    has_file_id: bool,
    has_statuses: bool,
    has_updated_after: bool,
    has_after: bool,
    has_origins: bool,
    text_search: str | None = None,
) -> Select[Any]:
    """The listing query for one combination of filters (at most 384 of them), with bound
    parameters `user_id`, `limit` and, when used, `pattern`, `file_id`, `statuses`, `updated_after`,
    `after_value`, `after_id`, `origins`. Built once per shape, so SQLAlchemy's compiled-SQL
    cache key is computed once too.

    `origins` filters on the origin of the job's source file (joined for its duration anyway);
    a job without a file counts as `library`.

    `text_search` (`sqlite` or `postgresql`, with `has_q`): `q` also matches transcript text
    through the full-text index (bound parameter `text_query`, see `search_repository`)."""
    column = _sort_column(sort)
    descending = sort.startswith("-")
    conditions: list[ColumnElement[bool]] = [Transcription.user_id == bindparam("user_id")]
    if has_q:
        title = func.lower(func.coalesce(Transcription.title, ""))
        in_title = title.like(bindparam("pattern"), escape="\\")
        if text_search is None:
            conditions.append(in_title)
        else:
            in_text = Transcription.id.in_(matching_transcriptions(text_search == "sqlite"))
            conditions.append(or_(in_title, in_text))
    if has_file_id:
        conditions.append(Transcription.file_id == bindparam("file_id"))
    if has_statuses:
        conditions.append(Transcription.status.in_(bindparam("statuses", expanding=True)))
    if has_updated_after:
        conditions.append(Transcription.updated_at > bindparam("updated_after"))
    if has_origins:
        origin = func.coalesce(AudioFile.origin, Origin.LIBRARY.value)
        conditions.append(origin.in_(bindparam("origins", expanding=True)))
    if has_after:
        value: BindParameter[Any] = bindparam("after_value")
        last_id: BindParameter[str] = bindparam("after_id")
        if descending:
            conditions.append(
                or_(column < value, and_(column == value, Transcription.id < last_id))
            )
        else:
            conditions.append(
                or_(column > value, and_(column == value, Transcription.id > last_id))
            )
    order = (column.desc(), Transcription.id.desc()) if descending else (column, Transcription.id)
    return _select_records().where(*conditions).order_by(*order).limit(bindparam("limit"))


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
            return self._get(session, user_id, transcription_id)

    @staticmethod
    def _get(session: Session, user_id: str, transcription_id: str) -> TranscriptionRecord | None:
        params = {"transcription_id": transcription_id, "user_id": user_id}
        row = session.execute(_RECORD_BY_ID, params).first()
        return _record(row, {}) if row is not None else None

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
        # Transcript text (current revision) matches through the full-text index.
        text_query = text_match_query(self._db.is_sqlite, query.q) if query.q else None
        statement = _list_statement(
            query.sort,
            has_q=bool(query.q),
            has_file_id=bool(query.file_id),
            has_statuses=bool(query.statuses),
            has_updated_after=query.updated_after is not None,
            has_after=query.after is not None,
            has_origins=query.origins is not None,
            text_search=self._db.kind if text_query is not None else None,
        )
        params: dict[str, Any] = {"user_id": query.user_id, "limit": query.limit + 1}
        if query.q:
            params["pattern"] = f"%{_escape_like(query.q.lower())}%"
        if text_query is not None:
            params["text_query"] = text_query
        if query.file_id:
            params["file_id"] = query.file_id
        if query.statuses:
            params["statuses"] = list(query.statuses)
        if query.updated_after is not None:
            params["updated_after"] = query.updated_after
        if query.after is not None:
            params["after_value"], params["after_id"] = query.after
        if query.origins is not None:
            params["origins"] = [str(origin) for origin in query.origins]
        # A Core read of plain columns with a prepared statement: no ORM session, no statement
        # to build and key for the compiled-SQL cache on each request.
        with self._db.read_connection() as connection:
            rows = connection.execute(statement, params).all()
        options_cache: dict[str, dict[str, Any]] = {}
        return [_record(row, options_cache) for row in rows]

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
            return self._get(session, user_id, transcription_id)

    def delete(self, user_id: str, transcription_id: str) -> bool:
        """Remove the job row with its executions and log lines in one transaction."""
        with self._db.write_session() as session:
            owner = session.scalar(
                select(Transcription.user_id).where(Transcription.id == transcription_id)
            )
            if owner != user_id:
                return False
            session.execute(delete(JobLog).where(JobLog.transcription_id == transcription_id))
            session.execute(
                delete(TranscriptionSegment).where(
                    TranscriptionSegment.transcription_id == transcription_id
                )
            )
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
