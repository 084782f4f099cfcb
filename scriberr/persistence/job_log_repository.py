"""The public, per-job log: sanitised lines appended by the orchestrator, read by the logs route.

Callers sanitise before appending; this module only stores and lists lines in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, insert, select

from scriberr.clock import as_utc, utcnow
from scriberr.persistence.database import Database
from scriberr.persistence.models import JobLog

_logs: Table = JobLog.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class JobLogLine:
    transcription_id: str
    execution_id: str | None
    level: str
    message: str
    created_at: datetime


class JobLogRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def append(
        self,
        transcription_id: str,
        message: str,
        *,
        level: str = "info",
        execution_id: str | None = None,
    ) -> None:
        with self._db.write_session() as session:
            session.execute(
                insert(_logs).values(
                    transcription_id=transcription_id,
                    execution_id=execution_id,
                    level=level,
                    message=message,
                    created_at=utcnow(),
                )
            )

    def list_for(self, transcription_id: str) -> list[JobLogLine]:
        """Every line of every attempt, oldest first."""
        with self._db.session() as session:
            rows = session.execute(
                select(_logs)
                .where(_logs.c.transcription_id == transcription_id)
                .order_by(_logs.c.id)
            ).all()
        return [
            JobLogLine(
                transcription_id=row.transcription_id,
                execution_id=row.execution_id,
                level=row.level,
                message=row.message,
                created_at=as_utc(row.created_at),
            )
            for row in rows
        ]
