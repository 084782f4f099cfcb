"""What the cluster looks like: every registered worker process with its host, pid, heartbeat,
the jobs it holds and whether the queue's liveness rules count it as alive.

Read by `/api/v1/admin/workers` and by the admin queue statistics (jobs running anywhere in the
cluster). Shows plain host names and ids only, never paths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from scriberr.jobs import WorkerProcessView
from scriberr.persistence.worker_registry import IsAlive, ProcessRecord


def process_views(
    records: Sequence[ProcessRecord], held: Mapping[str, Sequence[str]], is_alive: IsAlive
) -> list[WorkerProcessView]:
    """One view per registered process, live ones first, then by start time."""
    views = [
        WorkerProcessView(
            id=record.id,
            host=record.host,
            pid=record.pid,
            started_at=record.started_at,
            heartbeat_at=record.heartbeat_at,
            alive=is_alive(record),
            dead_at=record.dead_at,
            running_jobs=tuple(held.get(record.id, ())),
            unhealthy_reason=record.unhealthy_reason,
        )
        for record in records
    ]
    return sorted(views, key=lambda view: (not view.alive, view.started_at, view.id))


def running_on_live_processes(
    records: Sequence[ProcessRecord], held: Mapping[str, Sequence[str]], is_alive: IsAlive
) -> int:
    """How many `processing` jobs are held by a process that is alive."""
    alive = {record.id for record in records if is_alive(record)}
    return sum(len(jobs) for process, jobs in held.items() if process in alive)
