"""The worker-process registry: one heartbeat row per running worker process.

`register` on start, `set_health` when the process can no longer (or can again) take jobs,
`heartbeat` periodically (it also prunes the rows of dead processes that hold
no job, so the table only lists live processes and the ones whose jobs recovery still has to
requeue), `unregister` on a clean stop. Queue recovery reads the rows (`process_records`) in its
own transaction to tell live owners from gone ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, delete, insert, select, update

from scriberr.clock import as_utc, utcnow
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
    hostname: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    unhealthy_reason: str | None = None  # why it cannot take jobs now; None while healthy


IsAlive = Callable[[ProcessRecord], bool]


def process_of(worker_id: str | None) -> str | None:
    """The worker process a worker id (`<process id>/<n>`) belongs to."""
    return worker_id.split(WORKER_SEPARATOR, 1)[0] if worker_id else None


def worker_id(process_id: str, index: int) -> str:
    return f"{process_id}{WORKER_SEPARATOR}{index}"


def process_records(session: Executor) -> list[ProcessRecord]:
    """Every registered process, read in the caller's transaction."""
    rows = session.execute(select(_processes)).all()
    return [
        ProcessRecord(
            id=row.id,
            hostname=row.hostname,
            pid=int(row.pid),
            started_at=as_utc(row.started_at),
            heartbeat_at=as_utc(row.heartbeat_at),
            unhealthy_reason=row.unhealthy_reason,
        )
        for row in rows
    ]


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
        self, process_id: str, hostname: str, pid: int, is_alive: IsAlive | None = None
    ) -> int:
        """Refresh this process's heartbeat (registering it again if its row is gone), then
        delete the rows of dead processes (`is_alive` says no) that hold no job. Returns how
        many were pruned."""
        with self._db.gated_write() as session:
            result = session.execute(
                update(_processes)
                .where(_processes.c.id == process_id)
                .values(heartbeat_at=self._now())
            )
        if result.rowcount != 1:
            self.register(process_id, hostname, pid)
        return self.prune(is_alive) if is_alive is not None else 0

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
        with self._db.gated_write() as session:
            session.execute(delete(_processes).where(_processes.c.id == process_id))

    def prune(self, is_alive: IsAlive) -> int:
        """Delete rows of dead processes that no longer hold any job."""
        with self._db.gated_write() as session:
            holders = {
                process_of(owner)
                for owner in session.execute(
                    select(_jobs.c.claimed_by).where(_jobs.c.status == JobStatus.PROCESSING)
                ).scalars()
            }
            dead = [
                p.id for p in process_records(session) if not is_alive(p) and p.id not in holders
            ]
            if dead:
                session.execute(delete(_processes).where(_processes.c.id.in_(dead)))
        return len(dead)

    def processes(self) -> list[ProcessRecord]:
        with self._db.session() as session:
            return process_records(session)
