"""Partial segments of running attempts (live transcripts): appended by the orchestrator as the
engine decodes them, read by the per-job event stream (also in other processes than the one
running the job), and cleared when the attempt ends or the job is deleted. A completed attempt's
segments are kept for a short grace period (`clear_finished`), so streams in other processes,
which poll, can still deliver the last ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, insert, select

from scriberr.jobs import TERMINAL_EVENTS
from scriberr.persistence.database import Database
from scriberr.persistence.models import Transcription, TranscriptionSegment

_segments: Table = TranscriptionSegment.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class StoredSegment:
    execution_id: str
    index: int
    data: dict[str, Any]


class SegmentRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def append(
        self, transcription_id: str, execution_id: str, index: int, data: dict[str, Any]
    ) -> None:
        with self._db.write_connection() as connection:
            connection.execute(
                insert(_segments).values(
                    transcription_id=transcription_id,
                    execution_id=execution_id,
                    index=index,
                    data=data,
                )
            )

    def list_from(self, transcription_id: str, start: int = 0) -> list[StoredSegment]:
        """The stored segments with index >= `start`, in order."""
        with self._db.session() as session:
            rows = session.execute(
                select(_segments.c.execution_id, _segments.c.index, _segments.c.data)
                .where(_segments.c.transcription_id == transcription_id)
                .where(_segments.c.index >= start)
                .order_by(_segments.c.index)
            ).all()
        return [StoredSegment(execution, index, dict(data)) for execution, index, data in rows]

    def clear_finished(self, ended_before: datetime) -> int:
        """Remove the segments of jobs that reached a terminal state before `ended_before`."""
        finished = select(Transcription.id).where(
            Transcription.status.in_([str(status) for status in TERMINAL_EVENTS]),
            Transcription.updated_at < ended_before,
        )
        with self._db.write_connection() as connection:
            result = connection.execute(
                delete(_segments).where(_segments.c.transcription_id.in_(finished))
            )
        return int(result.rowcount or 0)

    def clear(self, transcription_id: str) -> None:
        with self._db.write_connection() as connection:
            connection.execute(
                delete(_segments).where(_segments.c.transcription_id == transcription_id)
            )
