"""SQL for worker keys (stored as SHA-256 hashes) and for the one thing a worker key opens: the
audio of a job that is being processed right now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, select, update

from scriberr.jobs import JobStatus
from scriberr.persistence.database import Database
from scriberr.persistence.models import AudioFile, Transcription, WorkerKey

_jobs: Table = Transcription.__table__  # type: ignore[assignment]
_files: Table = AudioFile.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class JobAudio:
    """Where a processing job's audio lives (internal: the path is relative to the data dir)."""

    storage_path: str
    mime_type: str | None
    size_bytes: int | None


class WorkerKeyRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, key: WorkerKey) -> None:
        with self._db.write_session() as session:
            session.add(key)

    def by_hash(self, key_hash: str) -> WorkerKey | None:
        with self._db.session() as session:
            return session.scalar(select(WorkerKey).where(WorkerKey.key_hash == key_hash))

    def all(self) -> list[WorkerKey]:
        """Every key, revoked ones included, newest first."""
        with self._db.session() as session:
            rows = session.scalars(
                select(WorkerKey).order_by(WorkerKey.created_at.desc(), WorkerKey.id.desc())
            )
            return list(rows)

    def revoke(self, key_id: str, now: datetime) -> bool:
        """False when there is no such key that is still active."""
        with self._db.write_session() as session:
            result = session.execute(
                update(WorkerKey)
                .where(WorkerKey.id == key_id, WorkerKey.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            return bool(getattr(result, "rowcount", 0))

    def touch(self, key_id: str, now: datetime) -> None:
        with self._db.write_session() as session:
            session.execute(
                update(WorkerKey).where(WorkerKey.id == key_id).values(last_used_at=now)
            )


class JobAudioRepository:
    """The source audio of jobs, as workers see it."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def _query(self, transcription_id: str, processing_only: bool) -> JobAudio | None:
        query = (
            select(_files.c.storage_path, _files.c.mime_type, _files.c.size_bytes)
            .select_from(_jobs.join(_files, _files.c.id == _jobs.c.file_id))
            .where(_jobs.c.id == transcription_id)
        )
        if processing_only:
            query = query.where(_jobs.c.status == JobStatus.PROCESSING)
        with self._db.read_connection() as connection:
            row = connection.execute(query).first()
        if row is None or not row.storage_path:
            return None
        size = int(row.size_bytes) if row.size_bytes is not None else None
        return JobAudio(row.storage_path, row.mime_type, size)

    def processing(self, transcription_id: str) -> JobAudio | None:
        """The audio of this job while it is `processing` (claimed by some worker); None for an
        unknown job, one in any other state, or one without stored audio."""
        return self._query(transcription_id, processing_only=True)

    def stored_size(self, transcription_id: str) -> int | None:
        """The size recorded for the job's audio when it was stored (None when unknown)."""
        found = self._query(transcription_id, processing_only=False)
        return found.size_bytes if found is not None else None
