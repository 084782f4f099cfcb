"""Queue transitions in `queue_repository`: claim order, ownership, leases, cancel, recovery."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from scriberr.persistence.database import Database
from scriberr.persistence.job_log_repository import JobLogRepository
from scriberr.persistence.models import WorkerProcess
from scriberr.persistence.queue_repository import (
    AttemptInfo,
    FifoPolicy,
    NewJob,
    ProcessRecord,
    QueueRepository,
)
from scriberr.persistence.worker_registry import WorkerRegistry
from scriberr.queue.liveness import LivenessJudge
from tests.queue.helpers import FAKE_OPTIONS, Clock, enqueue, seed_file, seed_user


def _always_alive(_record: ProcessRecord) -> bool:
    return True


def test_claim_is_fifo_by_queued_at_then_created_at_then_id(database: Database) -> None:
    clock = Clock()
    queue = QueueRepository(database, clock=clock)
    user = seed_user(database)
    ids = []
    for index in range(4):
        clock.advance(1)
        ids.append(queue.enqueue(NewJob(user, FAKE_OPTIONS, id=f"tr_{9 - index}")))
    clock.advance(1)
    for suffix in "ba":  # same queued_at and created_at: the id decides
        queue.enqueue(NewJob(user, FAKE_OPTIONS, id=f"tr_same_{suffix}"))
    claimed = [queue.claim("p/0", 60) for _ in range(7)]
    assert [job.id if job else None for job in claimed] == [*ids, "tr_same_a", "tr_same_b", None]


def test_claim_marks_the_row_and_joins_the_file_path(database: Database, data_dir: Path) -> None:
    clock = Clock()
    queue = QueueRepository(database, clock=clock)
    user = seed_user(database)
    file_id = seed_file(database, data_dir, user)
    with_file = enqueue(queue, user, file_id)
    clock.advance(1)
    without = enqueue(queue, user, None)
    job = queue.claim("proc/0", 30)
    assert job is not None and job.id == with_file
    assert job.user_id == user and job.file_id == file_id
    assert job.source_path == f"uploads/{file_id}/audio.json"
    assert job.options == FAKE_OPTIONS
    state = queue.state(with_file)
    assert state is not None
    assert (state.status, state.progress_stage, state.progress) == ("processing", "preparing", 0.05)
    assert state.claimed_by == "proc/0"
    assert state.claim_expires_at == clock.now + timedelta(seconds=30)
    second = queue.claim("proc/1", 30)
    assert second is not None and second.id == without and second.source_path is None


def test_threads_never_claim_the_same_job(database: Database) -> None:
    queue = QueueRepository(database)
    user = seed_user(database)
    jobs = {enqueue(queue, user, None) for _ in range(120)}
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        while (job := queue.claim(f"p/{index}", 60)) is not None:
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(jobs)


def test_only_the_owner_can_renew_progress_complete_or_fail(database: Database) -> None:
    queue = QueueRepository(database)
    user = seed_user(database)
    enqueue(queue, user, None)
    job = queue.claim("a/0", 60)
    assert job is not None
    stranger = type(job)(**{**job.__dict__, "worker_id": "b/0"})
    assert not queue.renew(job.id, "b/0", 60)
    assert not queue.progress(job.id, "b/0", 0.5, "transcribing")
    assert not queue.complete_and_claim(
        stranger, None, transcript_json="{}", language=None, output_path=None
    )[0]
    assert not queue.fail(stranger, None, "nope")
    assert queue.renew(job.id, "a/0", 60)
    assert queue.progress(job.id, "a/0", 0.5, "transcribing")
    execution = queue.start_execution(job, provider="fake", model="fake-model", request_options={})
    assert queue.complete_and_claim(
        job, execution, transcript_json='{"text": ""}', language="en", output_path="x"
    )[0]
    state = queue.state(job.id)
    assert state is not None and (state.status, state.progress, state.claimed_by) == (
        "completed",
        1.0,
        None,
    )
    [record] = queue.list_executions(job.id, user)
    assert record.status == "completed" and record.completed_at is not None
    assert record.output_path == "x" and record.provider == "fake"


@pytest.mark.slow
def test_expired_lease_is_taken_over_and_the_stale_worker_is_locked_out(database: Database) -> None:
    clock = Clock()
    queue = QueueRepository(database, clock=clock)
    user = seed_user(database)
    registry = WorkerRegistry(database)
    registry.register("a", "host", 1)
    registry.register("b", "host", 2)
    enqueue(queue, user, None)
    stale = queue.claim("a/0", 10)
    assert stale is not None
    stale_execution = queue.start_execution(stale, provider="fake", model="m", request_options={})
    assert queue.recover(_always_alive) == []  # lease still valid: nothing to do
    clock.advance(11)  # "a" stopped renewing
    [recovered] = queue.recover(_always_alive)
    assert (recovered.id, recovered.reason, recovered.previous_owner) == (
        stale.id,
        "lease_expired",
        "a/0",
    )
    state = queue.state(stale.id)
    assert state is not None and (state.status, state.progress_stage, state.progress) == (
        "queued",
        "recovered",
        0.0,
    )
    fresh = queue.claim("b/0", 10)
    assert fresh is not None and fresh.id == stale.id
    # the stale worker can no longer touch the job
    assert not queue.renew(stale.id, "a/0", 10)
    assert not queue.progress(stale.id, "a/0", 0.6, "transcribing")
    assert not queue.complete_and_claim(
        stale, stale_execution, transcript_json="{}", language=None, output_path=None
    )[0]
    assert not queue.fail(stale, stale_execution, "late")
    assert queue.start_execution(stale, provider="fake", model="m", request_options={}) is None
    first = queue.list_executions(stale.id, user)[0]
    assert first.status == "failed" and "requeued" in (first.error or "")


def test_a_stale_attempt_can_never_commit_even_when_its_worker_claimed_the_job_again(
    database: Database,
) -> None:
    """Completion is fenced by the attempt: worker "a/0" lost the job (lease expired, recovered)
    and then claimed it again; the first attempt's late completion is refused, the second's
    goes through, and exactly one execution is completed."""
    clock = Clock()
    queue = QueueRepository(database, clock=clock)
    user = seed_user(database)
    WorkerRegistry(database).register("a", "host", 1)
    enqueue(queue, user, None)
    describe = lambda _options: AttemptInfo("fake", "m")  # noqa: E731
    first = queue.claim("a/0", 10, describe)
    assert first is not None and first.attempt is not None
    clock.advance(11)
    assert [r.id for r in queue.recover(_always_alive)] == [first.id]
    second = queue.claim("a/0", 10, describe)
    assert second is not None and second.attempt is not None and second.id == first.id
    assert second.attempt.id != first.attempt.id
    late = queue.complete_and_claim(
        first, first.attempt, transcript_json='{"text": "stale"}', language=None, output_path=None
    )
    assert late == (False, None)
    state = queue.state(first.id)
    assert state is not None and (state.status, state.claimed_by) == ("processing", "a/0")
    assert queue.complete_and_claim(
        second, second.attempt, transcript_json='{"text": "live"}', language="en", output_path="x"
    )[0]
    executions = queue.list_executions(first.id, user)
    assert [(e.id, e.status) for e in executions] == [
        (first.attempt.id, "failed"),
        (second.attempt.id, "completed"),
    ]
    with database.session() as session:
        stored = session.execute(
            text("SELECT transcript FROM transcriptions WHERE id = :id"), {"id": first.id}
        ).scalar_one()
    assert '"live"' in str(stored)


def test_recover_requeues_rows_of_gone_processes_only(database: Database) -> None:
    clock = Clock()
    queue = QueueRepository(database, clock=clock)
    user = seed_user(database)
    registry = WorkerRegistry(database)
    registry.register("alive", "host-a", 1)
    registry.register("dead", "host-b", 2)
    for _ in range(3):
        enqueue(queue, user, None)
    alive_job = queue.claim("alive/0", 600)
    dead_job = queue.claim("dead/0", 600)
    ghost_job = queue.claim("never-registered/0", 600)
    assert alive_job and dead_job and ghost_job
    recovered = queue.recover(lambda record: record.id == "alive")
    assert {(r.id, r.reason) for r in recovered} == {
        (dead_job.id, "owner_gone"),
        (ghost_job.id, "owner_gone"),
    }
    assert queue.state(alive_job.id).status == "processing"  # type: ignore[union-attr]
    # with no retention, a dead process that holds no job any more is deleted at once
    assert registry.prune(lambda record: record.id == "alive") == 1
    assert [p.id for p in registry.processes()] == ["alive"]


def test_liveness_uses_heartbeat_age_and_pid_on_the_same_host() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    judge = LivenessJudge(
        own_process_id="me",
        heartbeat_timeout_s=30,
        host="h#ns",
        clock=lambda: now,
        pid_check=lambda pid: pid == 42,
    )

    def record(pid: int, host: str, age: float, id: str = "other") -> ProcessRecord:
        beat = now - timedelta(seconds=age)
        return ProcessRecord(id, host, pid, beat, beat)

    assert judge(record(42, "h#ns", 1))
    assert not judge(record(43, "h#ns", 1))  # same host, pid gone: dead at once
    assert judge(record(43, "other#ns", 1))  # other host: only the heartbeat counts
    assert not judge(record(42, "h#ns", 31))  # heartbeat lapsed
    assert judge(record(43, "h#ns", 999, id="me"))


def test_cancel_rules_in_the_repository(database: Database) -> None:
    queue = QueueRepository(database)
    user, other = seed_user(database), seed_user(database)
    queued = enqueue(queue, user, None)
    result = queue.cancel(queued, user)
    assert (result.outcome, result.previous_status) == ("canceled", "queued")
    assert queue.cancel(queued, user).outcome == "terminal"
    running = enqueue(queue, user, None)
    job = queue.claim("x/0", 60)
    assert job is not None and job.id == running
    queue.start_execution(job, provider="fake", model="m", request_options={})
    assert queue.cancel(running, other).outcome == "not_found"
    result = queue.cancel(running, user)
    assert (result.outcome, result.previous_status, result.previous_owner) == (
        "canceled",
        "processing",
        "x/0",
    )
    state = queue.state(running)
    assert state is not None and (state.status, state.claimed_by, state.claim_expires_at) == (
        "canceled",
        None,
        None,
    )
    assert [e.status for e in queue.list_executions(running, user)] == ["canceled"]
    assert queue.cancel("tr_missing", user).outcome == "not_found"


def test_stats_are_per_user(database: Database) -> None:
    queue = QueueRepository(database, policy=FifoPolicy())
    user, other = seed_user(database), seed_user(database)
    for _ in range(3):
        enqueue(queue, user, None)
    enqueue(queue, other, None)
    queue.claim("p/0", 60)
    job = queue.claim("p/1", 60)
    assert job is not None
    queue.fail(job, None, "boom")
    assert queue.stats(user) == {
        "queued": 1,
        "processing": 1,
        "completed": 0,
        "failed": 1,
        "canceled": 0,
    }
    assert queue.stats(other)["queued"] == 1


def test_fair_policy_claims_round_robin_across_users(database: Database) -> None:
    """The default policy: the user served longest ago (never = first) goes next, FIFO within
    a user; so a user with many queued jobs cannot starve the others."""
    queue = QueueRepository(database)
    heavy, light, late = seed_user(database), seed_user(database), seed_user(database)
    heavy_jobs = [enqueue(queue, heavy, None) for _ in range(4)]
    light_jobs = [enqueue(queue, light, None) for _ in range(2)]
    claimed = []
    for worker in range(3):
        job = queue.claim(f"p/{worker}", 60)
        assert job is not None
        claimed.append(job.id)
        if worker == 1:
            late_job = enqueue(queue, late, None)  # arrives after two claims
    job = queue.claim("p/3", 60)
    assert job is not None
    claimed.append(job.id)
    # heavy (first in line), light, then the newcomer (never served) ahead of everyone served
    # before, then heavy again (served longer ago than light).
    assert claimed == [heavy_jobs[0], light_jobs[0], late_job, heavy_jobs[1]]


def test_release_puts_a_job_back_in_line_and_job_log_lists_lines(database: Database) -> None:
    queue = QueueRepository(database)
    logs = JobLogRepository(database)
    user = seed_user(database)
    first = enqueue(queue, user, None)
    enqueue(queue, user, None)
    job = queue.claim("p/0", 60)
    assert job is not None and job.id == first
    execution = queue.start_execution(job, provider="fake", model="m", request_options={})
    assert queue.release(job, execution, "interrupted by shutdown")
    again = queue.claim("p/1", 60)
    assert again is not None and again.id == first  # kept its place at the head of the queue
    [record] = queue.list_executions(first, user)
    assert (record.status, record.error) == ("canceled", "interrupted by shutdown")
    logs.append(first, "one")
    logs.append(first, "two", level="warning", execution_id=execution.id if execution else None)
    assert [(line.message, line.level) for line in logs.list_for(first)] == [
        ("one", "info"),
        ("two", "warning"),
    ]


def test_queue_checkpoints_the_wal_outside_its_write_lock(database: Database) -> None:
    """Every `CHECKPOINT_EVERY` write transactions the repository checkpoints the WAL itself,
    so SQLite's in-commit autocheckpoint (run under the write lock) is not needed: the WAL
    never holds more than the last few transactions' pages."""
    from sqlalchemy import text

    from scriberr.persistence.database import CHECKPOINT_EVERY

    queue = QueueRepository(database)
    user = seed_user(database)
    for _ in range(CHECKPOINT_EVERY * 10 + 1):
        queue.enqueue(NewJob(user, FAKE_OPTIONS))
    with database.engine.connect() as connection:
        # (busy, frames in the WAL, frames already copied): a no-op checkpoint reads them
        busy, frames, _copied = connection.execute(text("PRAGMA wal_checkpoint(PASSIVE)")).one()
        autocheckpoint = connection.execute(text("PRAGMA wal_autocheckpoint")).scalar_one()
    assert busy == 0
    # the WAL restarted after our last checkpoint: it holds one transaction (the row and each of
    # its indexes' pages), not 641
    assert 0 < frames <= 16
    assert autocheckpoint >= 1000  # SQLite's own (in-commit) checkpoint is only a backstop


def test_the_heartbeat_prunes_dead_processes_that_hold_no_job(database: Database) -> None:
    """(With no retention period; `tests/queue/test_cluster.py` covers the retention.)"""
    registry = WorkerRegistry(database)
    queue = QueueRepository(database)
    user = seed_user(database)
    for number, process_id in enumerate(("me", "dead-idle", "dead-holder")):
        registry.register(process_id, "host", number)
    enqueue(queue, user, None)
    assert queue.claim("dead-holder/0", 600) is not None
    assert registry.heartbeat("me", "host", 0, lambda record: record.id == "me") == 1
    # the dead holder stays until recovery has requeued its job
    assert {p.id for p in registry.processes()} == {"me", "dead-holder"}
    registry.unregister("me")  # a clean stop marks the row dead; it stays listed
    assert [p.dead_at is not None for p in registry.processes() if p.id == "me"] == [True]
    registry.heartbeat("me", "host", 0)  # heard from again: alive again
    assert [p.dead_at for p in registry.processes() if p.id == "me"] == [None]
    with database.gated_write() as session:
        session.execute(WorkerProcess.__table__.delete().where(WorkerProcess.id == "me"))
    registry.heartbeat("me", "host", 0)  # a lost row is registered again
    assert "me" in {p.id for p in registry.processes()}


def test_the_unused_engine_id_column_is_gone(database: Database) -> None:
    from sqlalchemy import inspect

    columns = {column["name"] for column in inspect(database.engine).get_columns("transcriptions")}
    assert "engine_id" not in columns and "claimed_by" in columns


def test_executions_are_listed_in_keyset_pages(database: Database) -> None:
    clock = Clock()
    queue = QueueRepository(database, clock=clock)
    user = seed_user(database)
    job_id = enqueue(queue, user, None)
    for _ in range(5):  # five attempts, each released (shutdown) and claimed again
        job = queue.claim("a/0", 60)
        assert job is not None
        attempt = queue.start_execution(job, provider="fake", model="m", request_options={})
        assert queue.release(job, attempt, "interrupted by shutdown")
        clock.advance(1)
    everything = [e.id for e in queue.list_executions(job_id, user)]
    pages, after = [], None
    while True:
        rows = queue.list_executions(job_id, user, after=after, limit=2)
        pages.append([e.id for e in rows[:2]])
        if len(rows) <= 2:
            break
        after = (rows[1].started_at, rows[1].id)
    assert pages == [everything[0:2], everything[2:4], everything[4:5]]
