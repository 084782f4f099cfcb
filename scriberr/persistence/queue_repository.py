"""All queue transitions of a transcription job, each one short transaction.

enqueue → claim → (renew | progress)* → complete | fail | cancel | release (shutdown) | recover.

Claim takes the next `queued` row by the scheduler policy (`FairPolicy`: round-robin across users,
FIFO within a user) and marks it `processing` in the same statement, so two workers never get the same job:
- SQLite: `Database.write_session()` opens with `BEGIN IMMEDIATE`, which takes the database write
  lock before the `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING …` runs;
- PostgreSQL: the inner select is `FOR UPDATE SKIP LOCKED`, so concurrent claimers skip rows
  another transaction is taking instead of waiting for them.

Renew, progress, complete, fail and release succeed only for the worker named in `claimed_by`
while the row is `processing`; a stale worker gets `False` and must drop its work. Terminal
updates change the job row and its open execution row in one transaction.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Protocol

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.engine import make_url

from scriberr.clock import as_utc, utcnow
from scriberr.ids import new_id
from scriberr.jobs import STAGE_PROGRESS, TERMINAL_STATUSES, JobStatus, Stage
from scriberr.logging_setup import log_event
from scriberr.persistence.database import Database
from scriberr.persistence.job_log_repository import Executor, LogLine, insert_lines
from scriberr.persistence.models import AudioFile, Execution, Transcription, WorkerProcess

_log = logging.getLogger("scriberr.queue")
WORKER_SEPARATOR = "/"
LOST_WORKER_NOTE = "interrupted: the worker running this attempt stopped; the job was requeued"
# SQLite: checkpoint the WAL (outside the write gate) after this many write transactions of this
# repository. A busy job costs ~13 WAL pages, so this keeps the WAL under ~1000 pages and
# SQLite's own checkpoint — which would run inside a commit, holding the write lock for the
# copy and two fsyncs while every other worker waits — has no reason to run.
CHECKPOINT_EVERY = 64

_jobs: Table = Transcription.__table__  # type: ignore[assignment]
_executions: Table = Execution.__table__  # type: ignore[assignment]
_files: Table = AudioFile.__table__  # type: ignore[assignment]
_processes: Table = WorkerProcess.__table__  # type: ignore[assignment]


def process_of(worker_id: str | None) -> str | None:
    """The worker process a worker id (`<process id>/<n>`) belongs to."""
    return worker_id.split(WORKER_SEPARATOR, 1)[0] if worker_id else None


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
class ProcessRecord:
    id: str
    hostname: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime


@dataclass(frozen=True)
class ExecutionRecord:
    id: str
    transcription_id: str
    user_id: str
    status: str
    worker_id: str | None
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


def _opt_utc(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment is not None else None


class _Statements:
    """The hot-path statements, built once per repository with bind parameters, so each call
    only binds values (SQLAlchemy caches their compiled form)."""

    def __init__(self, policy: SchedulerPolicy, sqlite: bool) -> None:
        candidate = policy.candidate(_jobs)
        if not sqlite:
            candidate = candidate.with_for_update(skip_locked=True)
        self.insert_execution = insert(_executions)
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
        self.owned = owned
        self.progress = (
            update(_jobs)
            .where(*owned)
            .values(
                progress=bindparam("progress"),
                progress_stage=bindparam("stage"),
                updated_at=bindparam("now"),
            )
        )
        is_owner = select(literal(1)).where(*owned).exists()
        self.start_execution = insert(_executions).from_select(
            [
                "id",
                "transcription_id",
                "user_id",
                "status",
                "worker_id",
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
                bindparam("provider", type_=_executions.c.provider.type),
                bindparam("model", type_=_executions.c.model.type),
                bindparam("request_options", type_=_executions.c.request_options.type),
                bindparam("now", type_=_executions.c.started_at.type),
            ).where(is_owner),
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
        self.close_execution = (
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


class _WriteGate:
    """SQLite only: queue this repository's write transactions (across threads and processes)
    on a kernel file lock next to the database, so a waiting writer wakes the moment the lock is
    free instead of sleeping in SQLite's busy handler (1, 2, 5, 10 … ms steps). Correctness does
    not depend on it — `BEGIN IMMEDIATE` does that, and other writers simply use the busy
    timeout; it only removes idle gaps when several workers contend."""

    def __init__(self, database_path: Path | None) -> None:
        self._threads = threading.Lock()
        self._fd: int | None = None
        if database_path is not None and fcntl is not None:
            self._fd = os.open(f"{database_path}.queue-lock", os.O_RDWR | os.O_CREAT, 0o600)

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._threads:
            if self._fd is None or fcntl is None:
                yield
                return
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


class _CheckpointSchedule:
    """SQLite only: a passive WAL checkpoint after every `every` write transactions, run by the
    thread that completed the last of them once it has left the write gate — so copying the WAL
    into the database never holds up other writers."""

    def __init__(self, database: Database, every: int) -> None:
        self._database = database
        self._every = every if database.is_sqlite else 0
        self._lock = threading.Lock()
        self._count = 0

    def tick(self) -> None:
        if not self._every:
            return
        with self._lock:
            self._count += 1
            due = self._count % self._every == 0
        if due:
            try:
                self._database.checkpoint()
            except Exception:  # housekeeping only: the next one (or SQLite's backstop) catches up
                _log.warning("WAL checkpoint failed", exc_info=True)


def _sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    return Path(database) if database and database != ":memory:" else None


class QueueRepository:
    def __init__(
        self,
        database: Database,
        *,
        policy: SchedulerPolicy | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = database
        self._policy = policy or FairPolicy()
        self._now = clock
        self._sql = _Statements(self._policy, database.is_sqlite)
        self._gate = _WriteGate(_sqlite_path(database.url) if database.is_sqlite else None)
        self._checkpoints = _CheckpointSchedule(database, CHECKPOINT_EVERY)

    # -- enqueue ---------------------------------------------------------------------------

    def enqueue(self, job: NewJob, *, session: Executor | None = None) -> str:
        """Insert a `queued` job row; pass `session` to make it part of a larger transaction."""
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
        with self._transaction(session) as active:
            active.execute(insert(_jobs).values(**values))
        log_event(
            _log,
            "job.enqueued",
            transcription_id=job_id,
            user_id=job.user_id,
            file_id=job.file_id,
            model=job.options.get("model"),
        )
        return job_id

    def requeue(self, transcription_id: str, user_id: str) -> bool:
        """Put a terminal job back to `queued` (same row, new attempt); False unless terminal."""
        now = self._now()
        with self._write() as session:
            result = session.execute(
                update(_jobs)
                .where(
                    _jobs.c.id == transcription_id,
                    _jobs.c.user_id == user_id,
                    _jobs.c.status.in_(TERMINAL_STATUSES),
                )
                .values(
                    status=JobStatus.QUEUED,
                    progress=0.0,
                    progress_stage=Stage.QUEUED,
                    error=None,
                    queued_at=now,
                    started_at=None,
                    completed_at=None,
                    failed_at=None,
                    canceled_at=None,
                    claimed_by=None,
                    claim_expires_at=None,
                    updated_at=now,
                )
            )
        return _changed(result)

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
        with self._write() as session:
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
            info = request.describe(options)
            attempt = Attempt(execution_id, now)
            session.execute(
                self._sql.insert_execution,
                {
                    "id": attempt.id,
                    "transcription_id": row.id,
                    "user_id": row.user_id,
                    "status": JobStatus.PROCESSING,
                    "worker_id": request.worker_id,
                    "provider": info.provider,
                    "model": info.model,
                    "request_options": options,
                    "started_at": now,
                },
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
        with self._write() as session:
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
        with self._write() as session:
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
        """Open the execution row of this attempt; None when the worker lost the job already."""
        attempt = Attempt(new_id("exec"), self._now())
        with self._write() as session:
            result = session.execute(
                self._sql.start_execution,
                {
                    "execution_id": attempt.id,
                    "job_id": job.id,
                    "user_id": job.user_id,
                    "worker": job.worker_id,
                    "provider": provider,
                    "model": model,
                    "request_options": dict(request_options),
                    "now": attempt.started_at,
                },
            )
            if not _changed(result):
                return None
            insert_lines(session, job.id, attempt.id, log_lines)
        return attempt

    def list_executions(self, transcription_id: str, user_id: str) -> list[ExecutionRecord]:
        """Every attempt of a job, oldest first (scoped by owner)."""
        with self._db.session() as session:
            rows = session.execute(
                select(_executions)
                .where(
                    _executions.c.transcription_id == transcription_id,
                    _executions.c.user_id == user_id,
                )
                .order_by(_executions.c.started_at, _executions.c.id)
            ).all()
        return [_execution_record(row._mapping) for row in rows]

    # -- terminal transitions ------------------------------------------------------------------

    def complete(
        self,
        job: ClaimedJob,
        attempt: Attempt | None,
        *,
        transcript_json: str,
        language: str | None,
        output_path: str | None,
        log_lines: Sequence[LogLine] = (),
    ) -> bool:
        """Mark the job and its execution completed in one transaction; False if not the owner."""
        completed, _ = self.complete_and_claim(
            job,
            attempt,
            transcript_json=transcript_json,
            language=language,
            output_path=output_path,
            log_lines=log_lines,
        )
        return completed

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
        """`complete`, then (when it succeeded and `next_claim` is given) claim the worker's next
        job in the same transaction: a busy worker pays one transaction per job, not two."""
        now = self._now()
        execution_id = new_id("exec") if next_claim is not None else ""
        with self._write() as session:
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
            ended = self._end_attempt(
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
        with self._write() as session:
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
            return self._end_attempt(
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
        with self._write() as session:
            result = session.execute(
                update(_jobs).where(*_owned(job.id, job.worker_id)).values(**_requeued(now))
            )
            return self._end_attempt(
                session, result, job, attempt, JobStatus.CANCELED, now, log_lines, error=note
            )

    def _end_attempt(
        self,
        session: Executor,
        result: Any,
        job: ClaimedJob,
        attempt: Attempt | None,
        status: str,
        now: datetime,
        log_lines: Sequence[LogLine],
        *,
        error: str | None = None,
        output_path: str | None = None,
    ) -> bool:
        """After the owner-only update of the job row (`result`): close the attempt's execution
        and store its log lines in the same transaction. False, writing nothing more, when that
        update matched no row this worker owns."""
        if not _changed(result):
            return False
        self._close(session, job.id, attempt, status, now, error=error, output_path=output_path)
        insert_lines(session, job.id, attempt.id if attempt else None, log_lines)
        return True

    def _close(
        self,
        session: Executor,
        transcription_id: str,
        attempt: Attempt | None,
        status: str,
        now: datetime,
        *,
        error: str | None = None,
        output_path: str | None = None,
    ) -> None:
        if attempt is None:
            _close_execution(
                session, transcription_id, None, status, now, error=error, output_path=output_path
            )
            return
        session.execute(
            self._sql.close_execution,
            {
                "execution_id": attempt.id,
                "status": status,
                "completed_at": now if status == JobStatus.COMPLETED else None,
                "failed_at": now if status == JobStatus.FAILED else None,
                "canceled_at": now if status == JobStatus.CANCELED else None,
                "duration_ms": _duration_ms(attempt.started_at, now),
                "error": error,
                "output_path": output_path,
            },
        )

    def cancel(self, transcription_id: str, user_id: str) -> CancelResult:
        """Cancel a queued or processing job of `user_id` (claim cleared, open execution
        canceled) in one transaction. Terminal jobs and other users' jobs are left alone."""
        now = self._now()
        with self._write() as session:
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
            _close_execution(
                session, transcription_id, None, JobStatus.CANCELED, now, error="canceled"
            )
        return CancelResult(
            CancelOutcome.CANCELED,
            current.status,
            current.claimed_by,
            float(current.progress or 0.0),
        )

    # -- recovery --------------------------------------------------------------------------------

    def recover(self, is_alive: Callable[[ProcessRecord], bool]) -> list[RecoveredJob]:
        """Requeue (stage `recovered`) every `processing` row whose lease expired or whose owner
        process is gone (no heartbeat row, or `is_alive` says no). Compare-and-set per row, so a
        job its owner renewed in the meantime is left alone."""
        now = self._now()
        recovered: list[RecoveredJob] = []
        with self._write() as session:
            # Rows first, processes second: a claim we can see was made by a registered process.
            rows = session.execute(
                select(
                    _jobs.c.id, _jobs.c.user_id, _jobs.c.claimed_by, _jobs.c.claim_expires_at
                ).where(_jobs.c.status == JobStatus.PROCESSING)
            ).all()
            if not rows:
                return []
            processes = {p.id: p for p in _process_records(session)}
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
                    _close_execution(
                        session, row.id, None, JobStatus.FAILED, now, error=LOST_WORKER_NOTE
                    )
                    recovered.append(RecoveredJob(row.id, row.user_id, row.claimed_by, reason))
        return recovered

    # -- reads --------------------------------------------------------------------------------

    def stats(self, user_id: str | None) -> dict[str, int]:
        """Job counts per status for one user, or everyone's for None (all statuses present,
        zero when none)."""
        counts = dict.fromkeys((status.value for status in JobStatus), 0)
        query = select(_jobs.c.status, func.count()).group_by(_jobs.c.status)
        if user_id is not None:
            query = query.where(_jobs.c.user_id == user_id)
        with self._db.session() as session:
            rows = session.execute(query).all()
        for status, count in rows:
            counts[str(status)] = int(count)
        return counts

    def state(self, transcription_id: str) -> JobState | None:
        with self._db.session() as session:
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
            claim_expires_at=_opt_utc(row.claim_expires_at),
            error=row.error,
        )

    # -- worker process heartbeats ------------------------------------------------------------

    def register_process(self, process_id: str, hostname: str, pid: int) -> None:
        now = self._now()
        with self._write() as session:
            session.execute(delete(_processes).where(_processes.c.id == process_id))
            session.execute(
                insert(_processes).values(
                    id=process_id, hostname=hostname, pid=pid, started_at=now, heartbeat_at=now
                )
            )

    def heartbeat(self, process_id: str) -> bool:
        """Refresh this process's heartbeat; False when its row is gone (re-register then)."""
        with self._write() as session:
            result = session.execute(
                update(_processes)
                .where(_processes.c.id == process_id)
                .values(heartbeat_at=self._now())
            )
        return _changed(result)

    def unregister_process(self, process_id: str) -> None:
        with self._write() as session:
            session.execute(delete(_processes).where(_processes.c.id == process_id))

    def prune_processes(self, is_alive: Callable[[ProcessRecord], bool]) -> int:
        """Delete rows of dead processes that no longer hold any job."""
        with self._write() as session:
            holders = {
                process_of(owner)
                for owner in session.execute(
                    select(_jobs.c.claimed_by).where(_jobs.c.status == JobStatus.PROCESSING)
                ).scalars()
            }
            dead = [
                p.id for p in _process_records(session) if not is_alive(p) and p.id not in holders
            ]
            if dead:
                session.execute(delete(_processes).where(_processes.c.id.in_(dead)))
        return len(dead)

    def processes(self) -> list[ProcessRecord]:
        with self._db.session() as session:
            return _process_records(session)

    # -- helpers ------------------------------------------------------------------------------

    def _transaction(self, session: Executor | None) -> AbstractContextManager[Executor]:
        return nullcontext(session) if session is not None else self._write()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A write transaction on a Core connection (no ORM session) inside the write gate; the
        connection is taken from and returned to the pool outside the gate."""
        # checkout, gate, BEGIN … COMMIT, gate released, check-in (its rollback reset): only
        # the transaction itself runs while other writers wait
        with self._db.write_connector() as connection, self._gate.hold(), connection.begin():
            yield connection
        self._checkpoints.tick()


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


def _duration_ms(started_at: datetime, now: datetime) -> int:
    return max(0, int((now - started_at).total_seconds() * 1000))


def _close_execution(
    session: Executor,
    transcription_id: str,
    execution_id: str | None,
    status: str,
    now: datetime,
    *,
    error: str | None = None,
    output_path: str | None = None,
) -> None:
    """End the open (`processing`) execution of a job: the given one, or any open one."""
    condition = [
        _executions.c.transcription_id == transcription_id,
        _executions.c.status == JobStatus.PROCESSING,
    ]
    if execution_id is not None:
        condition.append(_executions.c.id == execution_id)
    open_rows = session.execute(
        select(_executions.c.id, _executions.c.started_at).where(*condition)
    ).all()
    for row in open_rows:
        duration_ms = _duration_ms(as_utc(row.started_at), now)
        values: dict[str, Any] = {
            "status": status,
            f"{status}_at": now,
            "processing_duration_ms": duration_ms,
            "error": error,
        }
        if output_path is not None:
            values["output_path"] = output_path
        session.execute(update(_executions).where(_executions.c.id == row.id).values(**values))


def _orphan_reason(
    row: Any,
    processes: dict[str, ProcessRecord],
    is_alive: Callable[[ProcessRecord], bool],
    now: datetime,
) -> Literal["owner_gone", "lease_expired"] | None:
    owner = processes.get(process_of(row.claimed_by) or "")
    if owner is None or not is_alive(owner):
        return "owner_gone"
    if row.claim_expires_at is None or as_utc(row.claim_expires_at) <= now:
        return "lease_expired"
    return None


def _process_records(session: Executor) -> list[ProcessRecord]:
    rows = session.execute(select(_processes)).all()
    return [
        ProcessRecord(
            id=row.id,
            hostname=row.hostname,
            pid=int(row.pid),
            started_at=as_utc(row.started_at),
            heartbeat_at=as_utc(row.heartbeat_at),
        )
        for row in rows
    ]


def _execution_record(row: Any) -> ExecutionRecord:
    return ExecutionRecord(
        id=row["id"],
        transcription_id=row["transcription_id"],
        user_id=row["user_id"],
        status=row["status"],
        worker_id=row["worker_id"],
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
