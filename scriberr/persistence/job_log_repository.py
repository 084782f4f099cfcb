"""The public, per-job log: sanitised lines appended by the orchestrator, read by the logs route.

Callers sanitise before appending; this module only stores and lists lines in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeAlias

from sqlalchemy import Connection, Table, insert, select
from sqlalchemy.orm import Session

from scriberr.clock import as_utc, utcnow
from scriberr.hosts import this_host
from scriberr.persistence.database import Database
from scriberr.persistence.models import JobLog

_logs: Table = JobLog.__table__  # type: ignore[assignment]

# What a write runs on: an ORM session (callers' larger transactions) or a bare Core connection
# (the queue's hot path, `Database.write_connection`). Both execute Core statements alike.
Executor: TypeAlias = Session | Connection


@dataclass(frozen=True)
class LogLine:
    """A line to append; the queue repository writes these inside its own transitions."""

    message: str
    level: str = "info"
    at: datetime | None = None  # when it happened; None = when it is stored


@dataclass(frozen=True)
class LogSource:
    """Who writes a line: the plain host name of the writing process and, for a line about an
    attempt, the worker that holds it (`<process id>/<n>`)."""

    host: str | None = None
    worker_id: str | None = None


def insert_lines(
    session: Executor,
    transcription_id: str,
    execution_id: str | None,
    lines: Sequence[LogLine],
    source: LogSource | None = None,
) -> None:
    """Append `lines` within the caller's transaction."""
    if not lines:
        return
    source = source or LogSource()
    now = utcnow()
    session.execute(
        insert(_logs),
        [
            {
                "transcription_id": transcription_id,
                "execution_id": execution_id,
                "host": source.host,
                "worker_id": source.worker_id,
                "level": line.level,
                "message": line.message,
                "created_at": line.at or now,
            }
            for line in lines
        ],
    )


@dataclass(frozen=True)
class JobLogLine:
    transcription_id: str
    execution_id: str | None
    level: str
    message: str
    created_at: datetime
    host: str | None = None
    worker_id: str | None = None


class JobLogRepository:
    """Lines appended here are stamped with this process's host (`host`, default: this
    machine's name) and the worker id the caller names."""

    def __init__(self, database: Database, *, host: str | None = None) -> None:
        self._db = database
        self.host = host or this_host()

    def append(
        self,
        transcription_id: str,
        message: str,
        *,
        level: str = "info",
        execution_id: str | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.append_many(
            transcription_id,
            [LogLine(message, level)],
            execution_id=execution_id,
            worker_id=worker_id,
        )

    def append_many(
        self,
        transcription_id: str,
        lines: Sequence[LogLine],
        *,
        execution_id: str | None = None,
        worker_id: str | None = None,
    ) -> None:
        if lines:
            source = LogSource(self.host, worker_id)
            with self._db.write_connection() as connection:
                insert_lines(connection, transcription_id, execution_id, lines, source)

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
                host=row.host,
                worker_id=row.worker_id,
            )
            for row in rows
        ]
