"""Seeing the cluster through the API: `/api/v1/admin/workers` (admins only), cluster-wide
`running` in the admin queue stats, and a job whose worker went silent reported as
`transcription.stalled` on the per-job and the global event streams — whether the process that
noticed is this one (broker) or another one (database flag only).

"Remote" worker processes are rows in the shared registry claiming jobs through the queue, the
way a `scriberr worker` on another host does; the real multi-process run is
`tests/queue/test_cluster_e2e.py`.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from scriberr.api.app import create_app
from scriberr.clock import utcnow
from scriberr.persistence.models import WorkerProcess
from scriberr.persistence.queue_repository import AttemptInfo, ProcessRecord
from scriberr.persistence.worker_registry import WorkerRegistry

from .jobs_support import Env, SseItem, events_of, make_env, read_sse, serve_in_thread


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with make_env(tmp_path) as running:
        yield running


@pytest.fixture
def paused_env(tmp_path: Path) -> Iterator[Env]:
    """Workers never start here: only the simulated remote ones hold jobs."""
    with make_env(tmp_path, start=False) as paused:
        yield paused


def _silence(env: Env, process_id: str, seconds: float = 3600) -> None:
    """Make a process's last heartbeat `seconds` old (what a dead or cut-off host looks like)."""
    with env.core.database.gated_write() as session:
        session.execute(
            update(WorkerProcess)
            .where(WorkerProcess.id == process_id)
            .values(heartbeat_at=utcnow() - timedelta(seconds=seconds))
        )


def _remote_claim(env: Env, process_id: str, host: str) -> str:
    """Register a worker process of another host and let it claim a new job; the job id."""
    WorkerRegistry(env.core.database).register(process_id, f"{host}#pid:[1]", 4242)
    job = env.create(env.fake_file())
    claimed = env.core.queue.claim(
        f"{process_id}/0", 600, lambda _o: AttemptInfo("fake", "fake-model")
    )
    assert claimed is not None and claimed.id == job["id"]
    return str(job["id"])


def test_admin_workers_lists_every_process_alive_or_dead(env: Env) -> None:
    registry = WorkerRegistry(env.core.database)
    registry.register("worker_gone", "gpu-box-2#pid:[9]", 77)
    registry.register("worker_sick", "gpu-box-3#pid:[9]", 78)
    assert registry.set_health("worker_sick", "cannot read nor fetch the audio of jobs")
    _silence(env, "worker_gone")
    response = env.client.get("/api/v1/admin/workers", headers=env.headers)
    assert response.status_code == 200, response.text
    items = {item["id"]: item for item in response.json()["items"]}
    me = items[env.core.workers.process_id]
    assert (me["host"], me["pid"], me["alive"], me["state"]) == (
        socket.gethostname(),
        os.getpid(),
        True,
        "alive",
    )
    assert me["dead_since"] is None and me["running_jobs"] == 0 and me["running_job_ids"] == []
    assert me["started_at"].endswith("Z") and me["last_heartbeat_at"].endswith("Z")
    assert "unhealthy_reason" in me
    gone = items["worker_gone"]
    assert (gone["host"], gone["pid"], gone["alive"], gone["state"]) == (
        "gpu-box-2",
        77,
        False,
        "dead",
    )
    assert gone["dead_since"].endswith("Z")
    sick = items["worker_sick"]
    assert (sick["alive"], sick["unhealthy_reason"]) == (
        True,
        "cannot read nor fetch the audio of jobs",
    )
    assert me["unhealthy_reason"] is None
    assert next(iter(items)) == env.core.workers.process_id  # live processes first

    _member, member_headers = env.second_user()
    forbidden = env.client.get("/api/v1/admin/workers", headers=member_headers)
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"]
    assert env.client.get("/api/v1/admin/workers").status_code == 401


def test_admin_stats_count_jobs_running_on_other_hosts(paused_env: Env) -> None:
    live_job = _remote_claim(paused_env, "worker_gpu1", "gpu-box-1")
    _remote_claim(paused_env, "worker_gpu2", "gpu-box-2")
    _silence(paused_env, "worker_gpu2")
    stats = paused_env.client.get("/api/v1/admin/queue", headers=paused_env.headers).json()
    assert (stats["processing"], stats["running"]) == (2, 1)
    workers = paused_env.client.get("/api/v1/admin/workers", headers=paused_env.headers).json()
    by_id = {item["id"]: item for item in workers["items"]}
    assert by_id["worker_gpu1"]["running_job_ids"] == [live_job]
    assert by_id["worker_gpu1"]["alive"] and not by_id["worker_gpu2"]["alive"]
    _member, member_headers = paused_env.second_user()
    mine = paused_env.client.get("/api/v1/admin/queue", headers=member_headers).json()
    assert (mine["processing"], mine["running"]) == (0, 0)


def test_execution_of_a_remote_attempt_names_its_host(paused_env: Env) -> None:
    job_id = _remote_claim(paused_env, "worker_gpu1", "gpu-box-1")
    page = paused_env.client.get(
        f"/api/v1/transcriptions/{job_id}/executions", headers=paused_env.headers
    ).json()
    [execution] = page["items"]
    # the claim was made in this process, so its host is this machine's name
    assert execution["host"] == socket.gethostname()
    assert execution["worker_id"] == "worker_gpu1/0"


def _stream(
    base: str, path: str, headers: dict[str, str], found: list[SseItem], until: Any
) -> None:
    with httpx.Client(base_url=base) as http:
        found.extend(read_sse(http, path, headers, until=until, timeout=30))


def _names(items: list[SseItem]) -> list[str]:
    return [name for name, _data in events_of(items)]


@pytest.mark.slow
def test_a_silent_worker_s_job_shows_stalled_then_resumed_on_both_streams(
    paused_env: Env,
) -> None:
    env = paused_env
    job_id = _remote_claim(env, "worker_gpu1", "gpu-box-1")

    def stalled_then_resumed(items: list[SseItem]) -> bool:
        states = [
            data.get("stalled") for _name, data in events_of(items) if data.get("id") == job_id
        ]
        return True in states and states[-1] is False

    per_job: list[SseItem] = []
    everyone: list[SseItem] = []
    with serve_in_thread(create_app(env.core)) as base:
        readers = [
            threading.Thread(
                target=_stream,
                args=(
                    base,
                    f"/api/v1/transcriptions/{job_id}/events",
                    env.headers,
                    per_job,
                    stalled_then_resumed,
                ),
            ),
            threading.Thread(
                target=_stream,
                args=(base, "/api/v1/events", env.headers, everyone, stalled_then_resumed),
            ),
        ]
        for reader in readers:
            reader.start()
        time.sleep(1.5)  # both streams are open and have sent the job's current state
        _silence(env, "worker_gpu1")

        # Another API host noticed (its broker is not ours): only the row's flag tells us.
        def judge(record: ProcessRecord) -> bool:
            return utcnow() - record.heartbeat_at < timedelta(seconds=30)

        assert [c.stalled for c in env.core.queue.mark_stalls(judge)] == [True]
        assert env.core.workers.check_stalls() == 0  # already reported: never twice
        time.sleep(2.5)  # the streams' database polls (about once a second) report it
        WorkerRegistry(env.core.database).heartbeat("worker_gpu1", "gpu-box-1#pid:[1]", 4242)
        assert env.core.workers.check_stalls() == 1  # back: this process tells its broker
        for reader in readers:
            reader.join(20)
            assert not reader.is_alive()

    for items in (per_job, everyone):
        job_events = [(n, d) for n, d in events_of(items) if d.get("id") == job_id]
        stalled = [(n, d) for n, d in job_events if d.get("stalled") is True]
        assert stalled and stalled[0][0] == "transcription.stalled"
        assert stalled[0][1]["status"] == "processing"
        assert len(stalled) == 1  # once, although two processes looked
        name, data = job_events[-1]
        assert (name, data["stalled"], data["status"]) == (
            "transcription.progress",
            False,
            "processing",
        )
    assert "transcription.stalled" in _names(per_job)


def test_the_process_that_notices_a_stall_logs_it_once(paused_env: Env) -> None:
    env = paused_env
    job_id = _remote_claim(env, "worker_gpu1", "gpu-box-1")
    assert env.core.workers.check_stalls() == 0  # its heartbeat is fresh
    _silence(env, "worker_gpu1")
    assert env.core.workers.check_stalls() == 1
    assert env.core.workers.check_stalls() == 0
    lines = env.client.get(f"/api/v1/transcriptions/{job_id}/logs", headers=env.headers).text
    silent = [line for line in lines.splitlines() if "went silent" in line]
    assert len(silent) == 1
    assert f" WARNING [{socket.gethostname()} {env.core.workers.process_id}] " in silent[0]
    # recovery requeues it (and clears the flag): nothing more to report
    assert env.core.workers.recover() == 1
    job = env.client.get(f"/api/v1/transcriptions/{job_id}", headers=env.headers).json()
    assert (job["status"], job["progress_stage"]) == ("queued", "recovered")
    assert env.core.workers.check_stalls() == 0
