"""Execution rows: one per processing attempt of a job (SPEC §3).

One path opens an execution (`open_execution`: only while the worker still owns the job) and one
closes it (`close_execution`: the attempt's own row, or whatever attempt of the job is still
open), both inside the caller's transaction so the job row and its execution change together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, literal, select, update

from scriberr.clock import as_utc
from scriberr.jobs import JobStatus
from scriberr.persistence.job_log_repository import Executor
from scriberr.persistence.keyset import keyset_page
from scriberr.persistence.models import Execution, Transcription

_jobs: Table = Transcription.__table__  # type: ignore[assignment]
_executions: Table = Execution.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Attempt:
    """The execution row of one processing attempt."""

    id: str
    started_at: datetime


@dataclass(frozen=True)
class AttemptInfo:
    """What the execution row of a new attempt records, decided from the job's options."""

    provider: str | None
    model: str | None


@dataclass(frozen=True)
class ExecutionRecord:
    id: str
    transcription_id: str
    user_id: str
    status: str
    worker_id: str | None
    host: str | None  # the plain host name of the worker that ran the attempt
    provider: str | None
    model: str | None
    request_options: dict[str, Any]
    started_at: datetime
    completed_at: datetime | None
    failed_at: datetime | None
    canceled_at: datetime | None
    processing_duration_ms: int | None
    error: str | None
    output_path: str | None  # internal only


_OPEN = insert(_executions).from_select(
    [
        "id",
        "transcription_id",
        "user_id",
        "status",
        "worker_id",
        "host",
        "provider",
        "model",
        "request_options",
        "started_at",
    ],
    select(
        bindparam("execution_id", type_=_executions.c.id.type),
        bindparam("job_id", type_=_jobs.c.id.type),
        bindparam("user_id", type_=_executions.c.user_id.type),
        literal(JobStatus.PROCESSING.value, _executions.c.status.type),
        bindparam("worker", type_=_executions.c.worker_id.type),
        bindparam("host", type_=_executions.c.host.type),
        bindparam("provider", type_=_executions.c.provider.type),
        bindparam("model", type_=_executions.c.model.type),
        bindparam("request_options", type_=_executions.c.request_options.type),
        bindparam("now", type_=_executions.c.started_at.type),
    ).where(
        select(literal(1))
        .where(
            _jobs.c.id == bindparam("job_id"),
            _jobs.c.status == JobStatus.PROCESSING,
            _jobs.c.claimed_by == bindparam("worker"),
        )
        .exists()
    ),
)

_CLOSE_ONE = (
    update(_executions)
    .where(
        _executions.c.id == bindparam("execution_id"),
        _executions.c.status == JobStatus.PROCESSING,
    )
    .values(
        status=bindparam("status"),
        completed_at=bindparam("completed_at"),
        failed_at=bindparam("failed_at"),
        canceled_at=bindparam("canceled_at"),
        processing_duration_ms=bindparam("duration_ms"),
        error=bindparam("error"),
        output_path=bindparam("output_path"),
    )
)


def open_execution(
    session: Executor,
    attempt: Attempt,
    *,
    job_id: str,
    user_id: str,
    worker_id: str,
    host: str | None,
    info: AttemptInfo,
    request_options: Mapping[str, Any],
) -> bool:
    """Insert the attempt's `processing` execution row, naming the worker and its `host` —
    only while `worker_id` owns the job (False, nothing written, otherwise)."""
    result: Any = session.execute(
        _OPEN,
        {
            "execution_id": attempt.id,
            "job_id": job_id,
            "user_id": user_id,
            "worker": worker_id,
            "host": host,
            "provider": info.provider,
            "model": info.model,
            "request_options": dict(request_options),
            "now": attempt.started_at,
        },
    )
    return bool(result.rowcount == 1)


def close_execution(
    session: Executor,
    transcription_id: str,
    attempt: Attempt | None,
    status: JobStatus,
    now: datetime,
    *,
    error: str | None = None,
    output_path: str | None = None,
) -> None:
    """End the attempt's open execution as `status` (completed, failed or canceled) with its
    duration; with `attempt=None`, every execution of the job that is still open."""
    if attempt is not None:
        opened = [(attempt.id, attempt.started_at)]
    else:
        opened = [
            (row.id, as_utc(row.started_at))
            for row in session.execute(
                select(_executions.c.id, _executions.c.started_at).where(
                    _executions.c.transcription_id == transcription_id,
                    _executions.c.status == JobStatus.PROCESSING,
                )
            )
        ]
    for execution_id, started_at in opened:
        session.execute(
            _CLOSE_ONE,
            {
                "execution_id": execution_id,
                "status": status,
                "completed_at": now if status == JobStatus.COMPLETED else None,
                "failed_at": now if status == JobStatus.FAILED else None,
                "canceled_at": now if status == JobStatus.CANCELED else None,
                "duration_ms": max(0, int((now - started_at).total_seconds() * 1000)),
                "error": error,
                "output_path": output_path,
            },
        )


def list_executions(
    session: Executor,
    transcription_id: str,
    user_id: str,
    *,
    after: tuple[datetime, str] | None = None,
    limit: int | None = None,
) -> list[ExecutionRecord]:
    """The attempts of a job (scoped by owner), oldest first; with `limit`, one keyset page:
    up to `limit + 1` rows after the cursor `after` = (started_at, id)."""
    statement = select(_executions).where(
        _executions.c.transcription_id == transcription_id,
        _executions.c.user_id == user_id,
    )
    if limit is None:
        statement = statement.order_by(_executions.c.started_at, _executions.c.id)
    else:
        statement = keyset_page(
            statement,
            Execution.started_at,
            Execution.id,
            descending=False,
            after_value=after[0] if after else None,
            after_id=after[1] if after else None,
            limit=limit,
        )
    return [_record(row._mapping) for row in session.execute(statement).all()]


def _opt_utc(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment is not None else None


def _record(row: Any) -> ExecutionRecord:
    return ExecutionRecord(
        id=row["id"],
        transcription_id=row["transcription_id"],
        user_id=row["user_id"],
        status=row["status"],
        worker_id=row["worker_id"],
        host=row["host"],
        provider=row["provider"],
        model=row["model"],
        request_options=dict(row["request_options"] or {}),
        started_at=as_utc(row["started_at"]),
        completed_at=_opt_utc(row["completed_at"]),
        failed_at=_opt_utc(row["failed_at"]),
        canceled_at=_opt_utc(row["canceled_at"]),
        processing_duration_ms=row["processing_duration_ms"],
        error=row["error"],
        output_path=row["output_path"],
    )
