"""Queue transitions of a transcription job, each one short gated write transaction.

enqueue → claim → (renew | progress)* → complete_and_claim | fail | cancel | release (shutdown) |
recover.

Claim takes the next `queued` row by the scheduler policy (`FairPolicy`: round-robin across users,
FIFO within a user) and marks it `processing` in the same statement, so two workers never get the same job:
- SQLite: `Database.gated_write()` opens with `BEGIN IMMEDIATE`, which takes the database write
  lock before the `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING …` runs;
- PostgreSQL: the inner select is `FOR UPDATE SKIP LOCKED`, so concurrent claimers skip rows
  another transaction is taking instead of waiting for them.

Renew, progress, complete, fail and release succeed only for the worker named in `claimed_by`
while the row is `processing`; a stale worker gets `False` and must drop its work. Terminal
updates change the job row and its open execution row (`persistence.executions`) in one
transaction. The write discipline (write gate, WAL checkpoints) is `Database.gated_write`; the
worker-process heartbeats live in `persistence.worker_registry`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, Protocol

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    bindparam,
    func,
    insert,
    literal,
    select,
    update,
)

from scriberr.clock import as_utc, utcnow
from scriberr.ids import new_id
from scriberr.jobs import STAGE_PROGRESS, TERMINAL_STATUSES, JobStatus, Stage
from scriberr.logging_setup import log_event
from scriberr.persistence.database import Database
from scriberr.persistence.executions import (
    Attempt,
    AttemptInfo,
    ExecutionRecord,
    close_execution,
    list_executions,
    open_execution,
)
from scriberr.persistence.job_log_repository import Executor, LogLine, insert_lines
from scriberr.persistence.models import AudioFile, Transcription
from scriberr.persistence.signals import CANCEL_CHANNEL, WAKE_CHANNEL, cancel_payload, notify
from scriberr.persistence.worker_registry import (
    IsAlive,
    ProcessRecord,
    process_of,
    process_records,
)

__all__ = [
    "Attempt",
    "AttemptInfo",
    "CancelOutcome",
    "CancelResult",
    "ClaimRequest",
    "ClaimedJob",
    "ExecutionRecord",
    "FifoPolicy",
    "JobState",
    "NewJob",
    "ProcessRecord",
    "QueueRepository",
    "RecoveredJob",
    "SchedulerPolicy",
]

_log = logging.getLogger("scriberr.queue")
LOST_WORKER_NOTE = "interrupted: the worker running this attempt stopped; the job was requeued"

_jobs: Table = Transcription.__table__  # type: ignore[assignment]
_files: Table = AudioFile.__table__  # type: ignore[assignment]


class SchedulerPolicy(Protocol):
    """Decides which queued job is claimed next: the one seam for scheduling rules."""

    def candidate(self, jobs: Table) -> Select[Any]:
        """A SELECT of the id of the next `queued` job (at most one row)."""
        ...


class FifoPolicy:
    """Oldest first by (`queued_at`, `created_at`, `id`) — matches `ix_transcriptions_claim`."""

    def order_by(self, jobs: Table) -> Sequence[ColumnElement[Any]]:
        return (jobs.c.queued_at.asc(), jobs.c.created_at.asc(), jobs.c.id.asc())

    def candidate(self, jobs: Table) -> Select[Any]:
        return (
            select(jobs.c.id)
            .where(jobs.c.status == JobStatus.QUEUED)
            .order_by(*self.order_by(jobs))
            .limit(1)
        )


class FairPolicy:
    """Round-robin across users: the next job belongs to the user with queued work who was
    served longest ago (never served first; ties by who has waited longest), FIFO within that
    user. So one user's hundred uploads do not starve another's single job. "Served" is the
    user's latest claim (`max(started_at)`, indexed by `ix_transcriptions_user_started`); the
    user is chosen once per claim, not per queued row."""

    def candidate(self, jobs: Table) -> Select[Any]:
        waiting = jobs.alias("waiting")
        served = jobs.alias("served")
        last_served = (
            select(func.max(served.c.started_at))
            .where(served.c.user_id == waiting.c.user_id)
            .scalar_subquery()
        )
        never = literal(datetime(1970, 1, 1, tzinfo=UTC), jobs.c.started_at.type)
        next_user = (
            select(waiting.c.user_id)
            .where(waiting.c.status == JobStatus.QUEUED)
            .group_by(waiting.c.user_id)
            .order_by(func.coalesce(last_served, never).asc(), func.min(waiting.c.queued_at))
            .limit(1)
            .scalar_subquery()
        )
        fifo = FifoPolicy()
        return (
            select(jobs.c.id)
            .where(jobs.c.status == JobStatus.QUEUED, jobs.c.user_id == next_user)
            .order_by(*fifo.order_by(jobs))
            .limit(1)
        )


@dataclass(frozen=True)
class NewJob:
    user_id: str
    options: dict[str, Any]
    file_id: str | None = None
    title: str | None = None
    profile_id: str | None = None
    source_transcription_id: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class ClaimRequest:
    """Who claims, for how long, and how to describe the attempt's execution row."""

    worker_id: str
    lease_s: float
    describe: Callable[[dict[str, Any]], AttemptInfo] | None = None


@dataclass(frozen=True)
class ClaimedJob:
    id: str
    user_id: str
    file_id: str | None
    options: dict[str, Any]
    source_path: str | None  # files.storage_path, relative to the data dir; internal only
    worker_id: str
    claim_expires_at: datetime
    attempt: Attempt | None = None  # opened by the claim when it was given `describe`


class CancelOutcome(StrEnum):
    CANCELED = "canceled"
    NOT_FOUND = "not_found"
    TERMINAL = "terminal"


@dataclass(frozen=True)
class CancelResult:
    outcome: CancelOutcome
    previous_status: str | None = None
    previous_owner: str | None = None
    progress: float = 0.0


@dataclass(frozen=True)
class RecoveredJob:
    id: str
    user_id: str
    previous_owner: str | None
    reason: Literal["owner_gone", "lease_expired"]


@dataclass(frozen=True)
class JobState:
    """The queue-relevant columns of one job row (for the worker service and tests)."""

    id: str
    user_id: str
    status: str
    progress: float
    progress_stage: str
    claimed_by: str | None
    claim_expires_at: datetime | None
    error: str | None


class _Statements:
    """The hot-path statements, built once per repository with bind parameters, so each call
    only binds values (SQLAlchemy caches their compiled form)."""

    def __init__(self, policy: SchedulerPolicy, sqlite: bool) -> None:
        candidate = policy.candidate(_jobs)
        if not sqlite:
            candidate = candidate.with_for_update(skip_locked=True)
        self.claim = (
            update(_jobs)
            .where(_jobs.c.id == candidate.scalar_subquery(), _jobs.c.status == JobStatus.QUEUED)
            .values(
                status=JobStatus.PROCESSING,
                started_at=bindparam("now"),
                progress=STAGE_PROGRESS[Stage.PREPARING].start,
                progress_stage=Stage.PREPARING,
                claimed_by=bindparam("worker"),
                claim_expires_at=bindparam("expires"),
                error=None,
                updated_at=bindparam("now"),
            )
            .returning(
                _jobs.c.id,
                _jobs.c.user_id,
                _jobs.c.file_id,
                _jobs.c.options,
                select(_files.c.storage_path)
                .where(_files.c.id == _jobs.c.file_id)
                .scalar_subquery()
                .label("source_path"),
            )
        )
        owned = (
            _jobs.c.id == bindparam("job_id"),
            _jobs.c.status == JobStatus.PROCESSING,
            _jobs.c.claimed_by == bindparam("worker"),
        )
        self.progress = (
            update(_jobs)
            .where(*owned)
            .values(
                progress=bindparam("progress"),
                progress_stage=bindparam("stage"),
                updated_at=bindparam("now"),
            )
        )
        self.complete = (
            update(_jobs)
            .where(*owned)
            .values(
                status=JobStatus.COMPLETED,
                progress=STAGE_PROGRESS[Stage.COMPLETED].start,
                progress_stage=Stage.COMPLETED,
                transcript=bindparam("transcript"),
                language=bindparam("language"),
                error=None,
                completed_at=bindparam("now"),
                claimed_by=None,
                claim_expires_at=None,
                updated_at=bindparam("now"),
            )
        )


class QueueRepository:
    def __init__(
        self,
        database: Database,
        *,
        policy: SchedulerPolicy | None = None,
        clock: Callable[[], datetime] = utcnow,
        signal_origin: str | None = None,
    ) -> None:
        self.database = database
        # PostgreSQL: NOTIFY other processes (as `signal_origin`) when a job becomes claimable
        # or a running job is canceled, inside the transaction that does it (persistence.signals)
        self._signal_origin = None if database.is_sqlite else signal_origin
        self._policy = policy or FairPolicy()
        self._now = clock
        self._sql = _Statements(self._policy, database.is_sqlite)

    # -- enqueue ---------------------------------------------------------------------------

    def enqueue(
        self,
        job: NewJob,
        *,
        session: Executor | None = None,
        before_commit: Callable[[str], None] | None = None,
    ) -> str:
        """Insert a `queued` job row; pass `session` to make it part of a larger transaction.

        `before_commit(job_id)` runs after the insert, inside the transaction: no worker can
        claim the job before it returns (the claim needs the same write), so what it announces
        comes before anything a worker announces about the job."""
        job_id = job.id or new_id("tr")
        now = self._now()
        values = {
            "id": job_id,
            "user_id": job.user_id,
            "file_id": job.file_id,
            "title": job.title,
            "profile_id": job.profile_id,
            "source_transcription_id": job.source_transcription_id,
            "options": dict(job.options),
            "status": JobStatus.QUEUED,
            "progress": STAGE_PROGRESS[Stage.QUEUED].start,
            "progress_stage": Stage.QUEUED,
            "diarization": bool(job.options.get("diarization")),
            "queued_at": now,
            "created_at": now,
            "updated_at": now,
        }
        transaction: AbstractContextManager[Executor] = (
            nullcontext(session) if session is not None else self.database.gated_write()
        )
        with transaction as active:
            active.execute(insert(_jobs).values(**values))
            self._signal_wake(active)
            if before_commit is not None:
                before_commit(job_id)
        log_event(
            _log,
            "job.enqueued",
            transcription_id=job_id,
            user_id=job.user_id,
            file_id=job.file_id,
            model=job.options.get("model"),
        )
        return job_id

    # -- claim and ownership ----------------------------------------------------------------

    def claim(
        self,
        worker_id: str,
        lease_s: float,
        describe: Callable[[dict[str, Any]], AttemptInfo] | None = None,
    ) -> ClaimedJob | None:
        """Take the next queued job for `worker_id`, or None when the queue is empty.

        With `describe`, the execution row of the attempt is opened in the same transaction
        (one transaction per claim instead of two).
        """
        request = ClaimRequest(worker_id, lease_s, describe)
        execution_id = new_id("exec")  # ids come from os.urandom: draw them outside the lock
        with self.database.gated_write() as session:
            return self._claim_in(session, request, execution_id)

    def _claim_in(
        self, session: Executor, request: ClaimRequest, execution_id: str
    ) -> ClaimedJob | None:
        """The claim itself; `execution_id` names the attempt's execution row if it opens one."""
        now = self._now()
        expires = now + timedelta(seconds=request.lease_s)
        row = session.execute(
            self._sql.claim, {"now": now, "worker": request.worker_id, "expires": expires}
        ).first()
        if row is None:
            return None
        options = dict(row.options or {})
        attempt = None
        if request.describe is not None:
            attempt = Attempt(execution_id, now)
            open_execution(
                session,
                attempt,
                job_id=row.id,
                user_id=row.user_id,
                worker_id=request.worker_id,
                info=request.describe(options),
                request_options=options,
            )
        return ClaimedJob(
            id=row.id,
            user_id=row.user_id,
            file_id=row.file_id,
            options=options,
            source_path=row.source_path,
            worker_id=request.worker_id,
            claim_expires_at=expires,
            attempt=attempt,
        )

    def renew(self, transcription_id: str, worker_id: str, lease_s: float) -> bool:
        """Extend the lease; False when `worker_id` no longer owns the job."""
        expires = self._now() + timedelta(seconds=lease_s)
        with self.database.gated_write() as session:
            result = session.execute(
                update(_jobs)
                .where(*_owned(transcription_id, worker_id))
                .values(claim_expires_at=expires)
            )
        return _changed(result)

    def progress(
        self,
        transcription_id: str,
        worker_id: str,
        progress: float,
        stage: str,
        *,
        execution_id: str | None = None,
        log_lines: Sequence[LogLine] = (),
    ) -> bool:
        """Store progress and stage (and pending public log lines); False when `worker_id` no
        longer owns the job (then nothing is written)."""
        with self.database.gated_write() as session:
            result = session.execute(
                self._sql.progress,
                {
                    "job_id": transcription_id,
                    "worker": worker_id,
                    "progress": progress,
                    "stage": stage,
                    "now": self._now(),
                },
            )
            if not _changed(result):
                return False
            insert_lines(session, transcription_id, execution_id, log_lines)
        return True

    # -- executions ---------------------------------------------------------------------------

    def start_execution(
        self,
        job: ClaimedJob,
        *,
        provider: str | None,
        model: str | None,
        request_options: dict[str, Any],
        log_lines: Sequence[LogLine] = (),
    ) -> Attempt | None:
        """Open the execution row of an attempt whose claim did not (a claim without
        `describe`); None when the worker lost the job already."""
        attempt = Attempt(new_id("exec"), self._now())
        with self.database.gated_write() as session:
            opened = open_execution(
                session,
                attempt,
                job_id=job.id,
                user_id=job.user_id,
                worker_id=job.worker_id,
                info=AttemptInfo(provider, model),
                request_options=request_options,
            )
            if not opened:
                return None
            insert_lines(session, job.id, attempt.id, log_lines)
        return attempt

    def list_executions(
        self,
        transcription_id: str,
        user_id: str,
        *,
        after: tuple[datetime, str] | None = None,
        limit: int | None = None,
    ) -> list[ExecutionRecord]:
        """The attempts of a job, oldest first (scoped by owner); with `limit`, one keyset page
        (up to `limit + 1` rows after `after` = (started_at, id))."""
        with self.database.session() as session:
            return list_executions(session, transcription_id, user_id, after=after, limit=limit)

    # -- terminal transitions ------------------------------------------------------------------

    def complete_and_claim(
        self,
        job: ClaimedJob,
        attempt: Attempt | None,
        *,
        transcript_json: str,
        language: str | None,
        output_path: str | None,
        log_lines: Sequence[LogLine] = (),
        next_claim: ClaimRequest | None = None,
    ) -> tuple[bool, ClaimedJob | None]:
        """Mark the job and its execution completed in one transaction (False if not the
        owner), then — when that succeeded and `next_claim` is given — claim the worker's next
        job in the same transaction: a busy worker pays one transaction per job, not two."""
        now = self._now()
        execution_id = new_id("exec") if next_claim is not None else ""
        with self.database.gated_write() as session:
            result = session.execute(
                self._sql.complete,
                {
                    "job_id": job.id,
                    "worker": job.worker_id,
                    "transcript": transcript_json,
                    "language": language,
                    "now": now,
                },
            )
            ended = _end_attempt(
                session,
                result,
                job,
                attempt,
                JobStatus.COMPLETED,
                now,
                log_lines,
                output_path=output_path,
            )
            if not ended:
                return False, None
            next_job = None
            if next_claim is not None:
                next_job = self._claim_in(session, next_claim, execution_id)
        return True, next_job

    def fail(
        self,
        job: ClaimedJob,
        attempt: Attempt | None,
        error: str,
        log_lines: Sequence[LogLine] = (),
    ) -> bool:
        """Mark job and execution failed with a (sanitised) error; False if not the owner."""
        now = self._now()
        with self.database.gated_write() as session:
            result = session.execute(
                update(_jobs)
                .where(*_owned(job.id, job.worker_id))
                .values(
                    status=JobStatus.FAILED,
                    progress_stage=Stage.FAILED,
                    error=error,
                    failed_at=now,
                    claimed_by=None,
                    claim_expires_at=None,
                    updated_at=now,
                )
            )
            return _end_attempt(
                session, result, job, attempt, JobStatus.FAILED, now, log_lines, error=error
            )

    def release(
        self,
        job: ClaimedJob,
        attempt: Attempt | None,
        note: str,
        log_lines: Sequence[LogLine] = (),
    ) -> bool:
        """Shutdown: put the job back to `queued` (stage `recovered`, keeps its place in line);
        its execution ends `canceled` with `note`. False if not the owner."""
        now = self._now()
        with self.database.gated_write() as session:
            result = session.execute(
                update(_jobs).where(*_owned(job.id, job.worker_id)).values(**_requeued(now))
            )
            if _changed(result):
                self._signal_wake(session)
            return _end_attempt(
                session, result, job, attempt, JobStatus.CANCELED, now, log_lines, error=note
            )

    def cancel(self, transcription_id: str, user_id: str) -> CancelResult:
        """Cancel a queued or processing job of `user_id` (claim cleared, open execution
        canceled) in one transaction. Terminal jobs and other users' jobs are left alone."""
        now = self._now()
        with self.database.gated_write() as session:
            current = session.execute(
                select(_jobs.c.status, _jobs.c.claimed_by, _jobs.c.progress).where(
                    _jobs.c.id == transcription_id, _jobs.c.user_id == user_id
                )
            ).first()
            if current is None:
                return CancelResult(CancelOutcome.NOT_FOUND)
            if current.status in TERMINAL_STATUSES:
                return CancelResult(CancelOutcome.TERMINAL, current.status, current.claimed_by)
            session.execute(
                update(_jobs)
                .where(_jobs.c.id == transcription_id)
                .values(
                    status=JobStatus.CANCELED,
                    progress_stage=Stage.CANCELED,
                    canceled_at=now,
                    claimed_by=None,
                    claim_expires_at=None,
                    updated_at=now,
                )
            )
            close_execution(
                session, transcription_id, None, JobStatus.CANCELED, now, error="canceled"
            )
            if self._signal_origin is not None and current.claimed_by:  # stop it where it runs
                payload = cancel_payload(self._signal_origin, transcription_id, current.claimed_by)
                notify(session, CANCEL_CHANNEL, payload)
        return CancelResult(
            CancelOutcome.CANCELED,
            current.status,
            current.claimed_by,
            float(current.progress or 0.0),
        )

    # -- recovery --------------------------------------------------------------------------------

    def recover(self, is_alive: IsAlive) -> list[RecoveredJob]:
        """Requeue (stage `recovered`) every `processing` row whose lease expired or whose owner
        process is gone (no heartbeat row, or `is_alive` says no). Compare-and-set per row, so a
        job its owner renewed in the meantime is left alone."""
        now = self._now()
        recovered: list[RecoveredJob] = []
        with self.database.gated_write() as session:
            # Rows first, processes second: a claim we can see was made by a registered process.
            rows = session.execute(
                select(
                    _jobs.c.id, _jobs.c.user_id, _jobs.c.claimed_by, _jobs.c.claim_expires_at
                ).where(_jobs.c.status == JobStatus.PROCESSING)
            ).all()
            if not rows:
                return []
            processes = {p.id: p for p in process_records(session)}
            for row in rows:
                reason = _orphan_reason(row, processes, is_alive, now)
                if reason is None:
                    continue
                result = session.execute(
                    update(_jobs)
                    .where(
                        _jobs.c.id == row.id,
                        _jobs.c.status == JobStatus.PROCESSING,
                        _same(_jobs.c.claimed_by, row.claimed_by),
                        _same(_jobs.c.claim_expires_at, row.claim_expires_at),
                    )
                    .values(**_requeued(now))
                )
                if _changed(result):
                    close_execution(
                        session, row.id, None, JobStatus.FAILED, now, error=LOST_WORKER_NOTE
                    )
                    recovered.append(RecoveredJob(row.id, row.user_id, row.claimed_by, reason))
            if recovered:
                self._signal_wake(session)
        return recovered

    def _signal_wake(self, executor: Executor) -> None:
        """PostgreSQL: tell every process a job can be claimed (heard at commit)."""
        if self._signal_origin is not None:
            notify(executor, WAKE_CHANNEL, self._signal_origin)

    # -- reads --------------------------------------------------------------------------------

    def stats(self, user_id: str | None) -> dict[str, int]:
        """Job counts per status for one user, or everyone's for None (all statuses present,
        zero when none)."""
        counts = dict.fromkeys((status.value for status in JobStatus), 0)
        query = select(_jobs.c.status, func.count()).group_by(_jobs.c.status)
        if user_id is not None:
            query = query.where(_jobs.c.user_id == user_id)
        with self.database.session() as session:
            rows = session.execute(query).all()
        for status, count in rows:
            counts[str(status)] = int(count)
        return counts

    def state(self, transcription_id: str) -> JobState | None:
        with self.database.session() as session:
            row = session.execute(
                select(
                    _jobs.c.id,
                    _jobs.c.user_id,
                    _jobs.c.status,
                    _jobs.c.progress,
                    _jobs.c.progress_stage,
                    _jobs.c.claimed_by,
                    _jobs.c.claim_expires_at,
                    _jobs.c.error,
                ).where(_jobs.c.id == transcription_id)
            ).first()
        if row is None:
            return None
        return JobState(
            id=row.id,
            user_id=row.user_id,
            status=row.status,
            progress=float(row.progress or 0.0),
            progress_stage=row.progress_stage,
            claimed_by=row.claimed_by,
            claim_expires_at=(
                as_utc(row.claim_expires_at) if row.claim_expires_at is not None else None
            ),
            error=row.error,
        )


def _end_attempt(
    session: Executor,
    result: Any,
    job: ClaimedJob,
    attempt: Attempt | None,
    status: JobStatus,
    now: datetime,
    log_lines: Sequence[LogLine],
    *,
    error: str | None = None,
    output_path: str | None = None,
) -> bool:
    """After the owner-only update of the job row (`result`): close the attempt's execution and
    store its log lines in the same transaction. False, writing nothing more, when that update
    matched no row this worker owns."""
    if not _changed(result):
        return False
    close_execution(session, job.id, attempt, status, now, error=error, output_path=output_path)
    insert_lines(session, job.id, attempt.id if attempt else None, log_lines)
    return True


def _owned(transcription_id: str, worker_id: str) -> tuple[ColumnElement[bool], ...]:
    return (
        _jobs.c.id == transcription_id,
        _jobs.c.status == JobStatus.PROCESSING,
        _jobs.c.claimed_by == worker_id,
    )


def _same(column: Any, value: Any) -> ColumnElement[bool]:
    result: ColumnElement[bool] = column.is_(None) if value is None else column == value
    return result


def _changed(result: Any) -> bool:
    return bool(result.rowcount == 1)


def _requeued(now: datetime) -> dict[str, Any]:
    return {
        "status": JobStatus.QUEUED,
        "progress": STAGE_PROGRESS[Stage.RECOVERED].start,
        "progress_stage": Stage.RECOVERED,
        "started_at": None,
        "claimed_by": None,
        "claim_expires_at": None,
        "updated_at": now,
    }


def _orphan_reason(
    row: Any,
    processes: dict[str, ProcessRecord],
    is_alive: IsAlive,
    now: datetime,
) -> Literal["owner_gone", "lease_expired"] | None:
    owner = processes.get(process_of(row.claimed_by) or "")
    if owner is None or not is_alive(owner):
        return "owner_gone"
    if row.claim_expires_at is None or as_utc(row.claim_expires_at) <= now:
        return "lease_expired"
    return None
