"""Several real `scriberr worker` processes (fake engine) sharing one queue.

SQLite and a PostgreSQL server this test starts itself: 8 workers in 4 processes finish 500 jobs,
none claimed twice, none lost. Kill -9 and restarts: orphans are recovered and finish exactly once,
and a live process's job is never taken away from it.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from scriberr.persistence.database import Database
from scriberr.persistence.queue_repository import NewJob, QueueRepository
from scriberr.persistence.worker_registry import WorkerRegistry
from tests.queue.helpers import (
    FAKE_OPTIONS,
    env_for,
    seed_file,
    seed_user,
    start_worker,
    wait_for,
    worker_logs,
)
from tests.support.postgres import postgres_server, unavailable_reason

pytestmark = pytest.mark.slow


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    _stop(started)


def _open(env: dict[str, str]) -> tuple[Database, QueueRepository]:
    from scriberr.config import load_config

    database = Database(load_config(env).database_url)
    database.migrate()
    return database, QueueRepository(database)


def _process_many(
    data_dir: Path, env: dict[str, str], workers: list[subprocess.Popen[bytes]]
) -> None:
    database, queue = _open(env)
    user = seed_user(database)
    file_id = seed_file(database, data_dir, user, {"text": "short job", "steps": 1})
    jobs = [queue.enqueue(NewJob(user, FAKE_OPTIONS, file_id=file_id)) for _ in range(500)]
    for _ in range(4):
        workers.append(start_worker({**env, "TRANSCRIPTION_WORKERS": "2"}))
    try:
        wait_for(lambda: queue.stats(user)["completed"] == len(jobs), timeout=120, interval=0.2)
        assert queue.stats(user) == {
            "queued": 0,
            "processing": 0,
            "completed": 500,
            "failed": 0,
            "canceled": 0,
        }
        owners = set()
        for job_id in jobs:
            executions = queue.list_executions(job_id, user)
            assert [e.status for e in executions] == ["completed"], job_id  # claimed exactly once
            owners.add(executions[0].worker_id.split("/")[0])  # type: ignore[union-attr]
        assert len(owners) >= 2  # the work really was shared between processes
    finally:
        _stop(workers)
        database.close()
    for process in workers:
        assert process.returncode == 0, worker_logs(data_dir)


def test_four_processes_share_one_sqlite_queue(
    data_dir: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    _process_many(data_dir, env_for(data_dir), workers)


@pytest.mark.postgres
@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_four_processes_share_one_postgresql_queue(
    data_dir: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    with postgres_server() as url:
        _process_many(data_dir, env_for(data_dir, SCRIBERR_DATABASE_URL=url), workers)


def _holder(queue: QueueRepository, job_id: str) -> str | None:
    """The worker running the job, once it is past preparing (its first attempt is under way)."""
    state = queue.state(job_id)
    if state is None or state.status != "processing" or state.progress_stage != "transcribing":
        return None
    return state.claimed_by


def test_kill_9_mid_job_then_restart_recovers_and_completes_once(
    data_dir: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    env = env_for(data_dir)
    database, queue = _open(env)
    user = seed_user(database)
    file_id = seed_file(database, data_dir, user, {"first_attempt_delay_s": 60, "steps": 600})
    job_id = queue.enqueue(NewJob(user, FAKE_OPTIONS, file_id=file_id))
    workers.append(start_worker(env))
    wait_for(lambda: _holder(queue, job_id))
    first = workers.pop()
    first.kill()
    first.wait()
    assert queue.state(job_id).status == "processing"  # type: ignore[union-attr]
    workers.append(start_worker(env))
    wait_for(lambda: queue.state(job_id).status == "completed", timeout=30)  # type: ignore[union-attr]
    executions = queue.list_executions(job_id, user)
    assert [e.status for e in executions] == ["failed", "completed"]
    assert executions[0].worker_id != executions[1].worker_id
    assert any("queued again" in line for line in _log_lines(database, job_id))
    assert queue.stats(user)["processing"] == 0
    database.close()


def _log_lines(database: Database, job_id: str) -> list[str]:
    from scriberr.persistence.job_log_repository import JobLogRepository

    return [line.message for line in JobLogRepository(database).list_for(job_id)]


def test_restart_never_takes_a_live_process_job_and_a_killed_process_job_is_finished_by_the_other(
    data_dir: Path, workers: list[subprocess.Popen[bytes]]
) -> None:
    # lease 4 s → heartbeat every 1 s, so the survivor notices the dead process quickly
    env = env_for(data_dir, TRANSCRIPTION_LEASE_TIMEOUT="4s")
    database, queue = _open(env)
    user = seed_user(database)
    slow = {"first_attempt_delay_s": 8, "steps": 80}
    jobs = [
        queue.enqueue(NewJob(user, FAKE_OPTIONS, file_id=seed_file(database, data_dir, user, slow)))
        for _ in range(2)
    ]
    workers.extend([start_worker(env), start_worker(env)])
    wait_for(lambda: all(_holder(queue, job) for job in jobs))
    holders = {job: _holder(queue, job) for job in jobs}
    assert len({h.split("/")[0] for h in holders.values() if h}) == 2  # one job per process
    # Kill -9 process A and start it again: it must leave B's job alone.
    victim = workers.pop(0)
    victim.kill()
    victim.wait()
    workers.append(start_worker(env))
    wait_for(lambda: all(queue.state(job).status == "completed" for job in jobs), timeout=60)  # type: ignore[union-attr]
    statuses = {job: [e.status for e in queue.list_executions(job, user)] for job in jobs}
    assert sorted(statuses.values()) == [["completed"], ["failed", "completed"]]
    # Now kill the process holding a new job, without restarting it: the other one finishes it.
    job = queue.enqueue(
        NewJob(user, FAKE_OPTIONS, file_id=seed_file(database, data_dir, user, slow))
    )
    holder = wait_for(lambda: _holder(queue, job))
    process_id = holder.split("/")[0]
    owner_pid = {p.id: p.pid for p in WorkerRegistry(database).processes()}[process_id]
    [owner] = [w for w in workers if w.pid == owner_pid]
    workers.remove(owner)
    owner.kill()
    owner.wait()
    wait_for(lambda: queue.state(job).status == "completed", timeout=30)  # type: ignore[union-attr]
    executions = queue.list_executions(job, user)
    assert [e.status for e in executions] == ["failed", "completed"]
    assert not executions[1].worker_id.startswith(process_id)  # type: ignore[union-attr]
    assert queue.stats(user)["processing"] == 0
    database.close()
