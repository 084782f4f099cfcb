"""The worker-process registry: one heartbeat row per worker process of the cluster.

`register` on start, `set_health` when the process can no longer (or can again) take jobs,
`heartbeat` periodically (it also sweeps: dead processes are marked dead, `dead_at`, so admins
still see them, and their rows are deleted once they have been dead for the retention period and
hold no job), `unregister` on a clean stop (the row is marked dead, not deleted). A process that
heartbeats again after being marked dead is alive again. Queue recovery reads the rows
(`process_records`) in its own transaction to tell live owners from gone ones; `running_jobs`
says which jobs each process holds (`/api/v1/admin/workers`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, and_, delete, insert, select, update

from scriberr.clock import as_utc, utcnow
from scriberr.hosts import shown_host
from scriberr.jobs import JobStatus
from scriberr.persistence.database import Database
from scriberr.persistence.job_log_repository import Executor
from scriberr.persistence.models import Transcription, WorkerProcess

WORKER_SEPARATOR = "/"

_jobs: Table = Transcription.__table__  # type: ignore[assignment]
_processes: Table = WorkerProcess.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class ProcessRecord:
    id: str
    hostname: str  # the liveness identity: `<hostname>#<pid namespace>`
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    dead_at: datetime | None = None  # when it was marked dead (or stopped cleanly)
    unhealthy_reason: str | None = None  # why it cannot take jobs now; None while healthy

    @property
    def host(self) -> str:
        """The plain host name people see."""
        return shown_host(self.hostname)


IsAlive = Callable[[ProcessRecord], bool]


def process_of(worker_id: str | None) -> str | None:
    """The worker process a worker id (`<process id>/<n>`) belongs to."""
    return worker_id.split(WORKER_SEPARATOR, 1)[0] if worker_id else None


def worker_id(process_id: str, index: int) -> str:
    return f"{process_id}{WORKER_SEPARATOR}{index}"


def process_records(session: Executor) -> list[ProcessRecord]:
    """Every registered process, read in the caller's transaction."""
    rows = session.execute(select(_processes).order_by(_processes.c.started_at)).all()
    return [
        ProcessRecord(
            id=row.id,
            hostname=row.hostname,
            pid=int(row.pid),
            started_at=as_utc(row.started_at),
            heartbeat_at=as_utc(row.heartbeat_at),
            dead_at=as_utc(row.dead_at) if row.dead_at is not None else None,
            unhealthy_reason=row.unhealthy_reason,
        )
        for row in rows
    ]


def running_jobs(session: Executor, user_id: str | None = None) -> dict[str, list[str]]:
    """The `processing` jobs (of `user_id`, or everyone's) per process id, from their claims,
    oldest claim first."""
    query = (
        select(_jobs.c.id, _jobs.c.claimed_by)
        .where(_jobs.c.status == JobStatus.PROCESSING)
        .order_by(_jobs.c.started_at, _jobs.c.id)
    )
    if user_id is not None:
        query = query.where(_jobs.c.user_id == user_id)
    rows = session.execute(query).all()
    held: dict[str, list[str]] = {}
    for row in rows:
        process = process_of(row.claimed_by)
        if process is not None:
            held.setdefault(process, []).append(row.id)
    return held


class WorkerRegistry:
    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = database
        self._now = clock

    def register(self, process_id: str, hostname: str, pid: int) -> None:
        now = self._now()
        with self._db.gated_write() as session:
            session.execute(delete(_processes).where(_processes.c.id == process_id))
            session.execute(
                insert(_processes).values(
                    id=process_id, hostname=hostname, pid=pid, started_at=now, heartbeat_at=now
                )
            )

    def heartbeat(
        self,
        process_id: str,
        hostname: str,
        pid: int,
        is_alive: IsAlive | None = None,
        *,
        retention_s: float = 0.0,
    ) -> int:
        """Refresh this process's heartbeat (alive again if it had been marked dead; registered
        again if its row is gone), then sweep the other rows (`prune`). Returns how many rows
        the sweep deleted."""
        with self._db.gated_write() as session:
            result = session.execute(
                update(_processes)
                .where(_processes.c.id == process_id)
                .values(heartbeat_at=self._now(), dead_at=None)
            )
        if result.rowcount != 1:
            self.register(process_id, hostname, pid)
        return self.prune(is_alive, retention_s) if is_alive is not None else 0

    def set_health(self, process_id: str, reason: str | None) -> bool:
        """Record why this process cannot take jobs right now (`reason`), or that it can again
        (None). False when the process has no row (it is registered again by its heartbeat)."""
        with self._db.gated_write() as session:
            result = session.execute(
                update(_processes)
                .where(_processes.c.id == process_id)
                .values(unhealthy_reason=reason)
            )
        return bool(result.rowcount)

    def unregister(self, process_id: str) -> None:
        """A clean stop: the row stays, marked dead, until the retention period has passed."""
        with self._db.gated_write() as session:
            session.execute(
                update(_processes)
                .where(_processes.c.id == process_id, _processes.c.dead_at.is_(None))
                .values(dead_at=self._now())
            )

    def prune(self, is_alive: IsAlive, retention_s: float = 0.0) -> int:
        """Mark the processes `is_alive` says are gone as dead (once), and delete the rows of
        processes dead for longer than `retention_s` that hold no job. Returns how many rows
        were deleted."""
        now = self._now()
        with self._db.gated_write() as session:
            holders = set(running_jobs(session))
            records = process_records(session)
            newly_dead = [p.id for p in records if p.dead_at is None and not is_alive(p)]
            if newly_dead:
                session.execute(
                    update(_processes)
                    .where(_processes.c.id.in_(newly_dead), _processes.c.dead_at.is_(None))
                    .values(dead_at=now)
                )
            cutoff = now - timedelta(seconds=max(0.0, retention_s))
            expired = [
                p.id
                for p in records
                if p.id not in holders and not is_alive(p) and (p.dead_at or now) <= cutoff
            ]
            if not expired:
                return 0
            result = session.execute(
                delete(_processes).where(
                    _processes.c.id.in_(expired),
                    and_(_processes.c.dead_at.is_not(None), _processes.c.dead_at <= cutoff),
                )
            )
        return int(result.rowcount or 0)

    def processes(self) -> list[ProcessRecord]:
        with self._db.session() as session:
            return process_records(session)

    def overview(
        self, user_id: str | None = None
    ) -> tuple[list[ProcessRecord], dict[str, list[str]]]:
        """Every registered process and the jobs (of `user_id`, or everyone's) each holds,
        read in one transaction."""
        with self._db.session() as session:
            return process_records(session), running_jobs(session, user_id)
