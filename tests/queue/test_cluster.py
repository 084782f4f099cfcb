"""Seeing the cluster (issue 13 item 4), in one process against SQLite: executions and job-log
lines name the host and worker that wrote them, dead worker processes stay listed until the
retention period has passed, cluster-wide running counts, and stalled jobs flagged exactly once.
"""

from __future__ import annotations

from datetime import timedelta

from scriberr.persistence.database import Database
from scriberr.persistence.job_log_repository import JobLogRepository, LogLine
from scriberr.persistence.queue_repository import AttemptInfo, ProcessRecord, QueueRepository
from scriberr.persistence.worker_registry import WorkerRegistry
from scriberr.queue.cluster import process_views, running_on_live_processes
from scriberr.queue.liveness import LivenessJudge
from tests.queue.helpers import Clock, enqueue, seed_user

HOUR = 3600.0


def _describe(_options: dict[str, object]) -> AttemptInfo:
    return AttemptInfo("fake", "fake-model")


def test_executions_and_log_lines_name_their_host_and_worker(database: Database) -> None:
    user = seed_user(database)
    gpu = QueueRepository(database, host="gpu-box-1")
    job_id = enqueue(gpu, user, None)
    claimed = gpu.claim("worker_gpu/0", 600, _describe)
    assert claimed is not None and claimed.attempt is not None
    assert gpu.progress(
        job_id,
        "worker_gpu/0",
        0.3,
        "transcribing",
        execution_id=claimed.attempt.id,
        log_lines=[LogLine("transcribing")],
    )
    assert gpu.fail(claimed, claimed.attempt, "boom", [LogLine("failed: boom", "error")])
    JobLogRepository(database, host="api-box").append(job_id, "retried on request")

    [execution] = gpu.list_executions(job_id, user)
    assert (execution.host, execution.worker_id) == ("gpu-box-1", "worker_gpu/0")
    lines = JobLogRepository(database).list_for(job_id)
    assert [(line.message, line.host, line.worker_id) for line in lines] == [
        ("transcribing", "gpu-box-1", "worker_gpu/0"),
        ("failed: boom", "gpu-box-1", "worker_gpu/0"),
        ("retried on request", "api-box", None),
    ]


def test_dead_processes_stay_listed_until_the_retention_passes(database: Database) -> None:
    clock = Clock()
    registry = WorkerRegistry(database, clock=clock)
    queue = QueueRepository(database, clock=clock)
    user = seed_user(database)
    for pid, process_id in enumerate(("me", "crashed", "holder", "stopped")):
        registry.register(process_id, f"{process_id}-host#ns", pid)
    enqueue(queue, user, None)
    assert queue.claim("holder/0", 600) is not None
    registry.unregister("stopped")  # a clean stop: marked dead, not deleted
    judge = LivenessJudge(
        own_process_id="me", heartbeat_timeout_s=30, host="me-host#ns", clock=clock
    )

    clock.advance(60)  # everyone else's heartbeat is now older than the timeout
    assert registry.heartbeat("me", "me-host#ns", 0, judge, retention_s=HOUR) == 0
    rows = {p.id: p for p in registry.processes()}
    assert set(rows) == {"me", "crashed", "holder", "stopped"}
    assert rows["me"].dead_at is None
    assert rows["crashed"].dead_at == clock.now  # marked once, when found dead
    assert rows["stopped"].dead_at == clock.now - timedelta(seconds=60)
    views = {v.id: v for v in process_views(*registry.overview(), judge)}
    assert [v.alive for v in process_views(*registry.overview(), judge)] == [
        True,
        False,
        False,
        False,
    ]
    assert views["holder"].running_jobs and views["crashed"].running_jobs == ()
    assert views["crashed"].host == "crashed-host"  # the plain name, not the liveness identity

    clock.advance(HOUR - 59)  # the stopped one has been dead for an hour and a second
    assert registry.heartbeat("me", "me-host#ns", 0, judge, retention_s=HOUR) == 1
    assert {p.id for p in registry.processes()} == {"me", "crashed", "holder"}

    clock.advance(60)
    assert registry.heartbeat("me", "me-host#ns", 0, judge, retention_s=HOUR) == 1
    # a dead process that still holds a job stays until recovery has requeued it
    assert {p.id for p in registry.processes()} == {"me", "holder"}
    assert [r.id for r in queue.recover(judge)]
    clock.advance(HOUR + 1)
    registry.heartbeat("me", "me-host#ns", 0, judge, retention_s=HOUR)
    assert {p.id for p in registry.processes()} == {"me"}


def test_a_process_found_dead_is_alive_again_when_it_heartbeats(database: Database) -> None:
    clock = Clock()
    registry = WorkerRegistry(database, clock=clock)
    registry.register("me", "a#ns", 1)
    registry.register("partitioned", "b#ns", 2)
    judge = LivenessJudge(own_process_id="me", heartbeat_timeout_s=30, host="a#ns", clock=clock)
    clock.advance(31)
    registry.heartbeat("me", "a#ns", 1, judge, retention_s=HOUR)
    [found] = [p for p in registry.processes() if p.id == "partitioned"]
    assert found.dead_at is not None and not judge(found)
    registry.heartbeat("partitioned", "b#ns", 2)
    [back] = [p for p in registry.processes() if p.id == "partitioned"]
    assert back.dead_at is None and judge(back)


def test_running_counts_jobs_held_by_live_processes_anywhere(database: Database) -> None:
    registry = WorkerRegistry(database)
    queue = QueueRepository(database)
    alice, bob = seed_user(database), seed_user(database)
    for number, process_id in enumerate(("api", "gpu1", "gpu2", "dead")):
        registry.register(process_id, f"{process_id}#ns", number)
    for owner, worker in ((alice, "gpu1/0"), (bob, "gpu1/1"), (alice, "gpu2/0"), (bob, "dead/0")):
        enqueue(queue, owner, None)
        assert queue.claim(worker, 600) is not None

    def alive(record: ProcessRecord) -> bool:
        return record.id != "dead"

    assert running_on_live_processes(*registry.overview(), alive) == 3
    assert running_on_live_processes(*registry.overview(alice), alive) == 2
    assert running_on_live_processes(*registry.overview(bob), alive) == 1


def test_a_silent_worker_s_job_is_flagged_stalled_once_and_unflagged_when_it_returns(
    database: Database,
) -> None:
    queue = QueueRepository(database)
    registry = WorkerRegistry(database)
    user = seed_user(database)
    registry.register("gpu", "gpu#ns", 7)
    job_id = enqueue(queue, user, None)
    assert queue.claim("gpu/0", 600) is not None
    silent = {"gpu"}

    def alive(record: ProcessRecord) -> bool:
        return record.id not in silent

    [change] = queue.mark_stalls(alive)
    assert (change.id, change.stalled, change.owner, change.user_id) == (
        job_id,
        True,
        "gpu/0",
        user,
    )
    assert queue.mark_stalls(alive) == []  # reported once, by one caller
    silent.clear()
    [back] = queue.mark_stalls(alive)
    assert (back.id, back.stalled) == (job_id, False)
    assert queue.mark_stalls(alive) == []
    # recovery clears the flag with the claim
    silent.add("gpu")
    assert [c.stalled for c in queue.mark_stalls(alive)] == [True]
    assert [r.id for r in queue.recover(alive)] == [job_id]
    assert queue.mark_stalls(alive) == []
