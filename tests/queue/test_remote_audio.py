"""A worker without the server's data dir: real processes sharing a PostgreSQL server.

An API process (`scriberr serve`, no workers of its own) and a `scriberr worker --fake-engine`
with a separate, empty data dir share one PostgreSQL server this test starts. As root the worker
runs on a simulated host (its own network, PID and UTS namespaces: `tests/support/hosts.py`) and
reaches PostgreSQL and the API over its link; otherwise all are plain processes on loopback. The worker fetches
each job's audio from the API with a worker key (made with `scriberr workers create-key`) and
completes the jobs. Once the key is revoked, the worker puts the job it claimed back in the
queue, reports itself unhealthy (in its registry row and in one log line), and claims nothing
more; no job is failed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from scriberr.persistence.database import Database
from scriberr.persistence.worker_registry import WorkerRegistry
from tests.support.hosts import SimulatedHost, simulated_network
from tests.support.postgres import postgres_server, unavailable_reason
from tests.support.servers import (
    PROJECT_ROOT,
    ScriberrProcess,
    scriberr_env,
    start_process,
    start_serve,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]

JFK = (PROJECT_ROOT / ".." / "shared" / "fixtures" / "audio" / "jfk.flac").resolve()
PASSWORD = "correct horse battery staple"
JOBS = 3


@dataclass
class Cluster:
    database_url: str
    api: ScriberrProcess
    admin: dict[str, str]
    tmp: Path
    workers: list[ScriberrProcess]
    gpu: SimulatedHost

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.api.base_url, headers=self.admin, timeout=30)

    def worker_env(self, key: str | None, **extra: str) -> dict[str, str]:
        env = scriberr_env(
            self.tmp / "worker-data",
            SCRIBERR_DATABASE_URL=self.database_url,
            TRANSCRIPTION_QUEUE_POLL_INTERVAL="200ms",
            TRANSCRIPTION_WORKERS="1",
            **extra,
        )
        env.pop("SCRIBERR_SERVER_URL", None)
        env.pop("SCRIBERR_WORKER_KEY", None)
        if key is not None:
            env.update(SCRIBERR_SERVER_URL=self.api.base_url, SCRIBERR_WORKER_KEY=key)
        return env

    def start_worker(self, key: str) -> ScriberrProcess:
        worker = start_process(
            self.tmp / "worker-data",
            "worker",
            "--fake-engine",
            env=self.worker_env(key),
            wrapper=self.gpu.wrapper,
        )
        self.workers.append(worker)
        return worker

    def jobs(self, count: int) -> list[str]:
        with self.http() as http:
            with JFK.open("rb") as audio:
                uploaded = http.post(
                    "/api/v1/files", files={"file": ("jfk.flac", audio, "audio/flac")}
                )
            assert uploaded.status_code == 201, uploaded.text
            file_id = uploaded.json()["id"]
            ids = []
            for _ in range(count):
                created = http.post("/api/v1/transcriptions", json={"file_id": file_id})
                assert created.status_code == 202, created.text
                ids.append(created.json()["id"])
        return ids

    def statuses(self, ids: list[str]) -> list[str]:
        with self.http() as http:
            return [http.get(f"/api/v1/transcriptions/{i}").json()["status"] for i in ids]


def _wait(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _cli(
    env: dict[str, str], *args: str, host: SimulatedHost | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(host.wrapper if host else ()), sys.executable, "-m", "scriberr.cli", *args],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _events(process: ScriberrProcess, name: str) -> list[dict[str, Any]]:
    found = []
    for line in process.logs().splitlines():
        if f'"{name}"' in line:
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return [entry for entry in found if entry.get("event") == name]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with (
        simulated_network() as network,
        postgres_server(tcp_host=network.server_address if network.namespaces else None) as url,
    ):
        gpu = network.add_host("gpu-a")
        api = start_serve(
            tmp_path / "api-data",
            "--fake-engine",
            SCRIBERR_DATABASE_URL=url,
            SCRIBERR_HOST=network.server_address,
            TRANSCRIPTION_WORKERS="0",  # an API-only host: every job runs on the worker
        )
        workers: list[ScriberrProcess] = []
        try:
            registered = httpx.post(
                api.base_url + "/api/v1/auth/register",
                json={"username": "admin", "password": PASSWORD, "confirm_password": PASSWORD},
                timeout=30,
            )
            assert registered.status_code == 201, registered.text
            admin = {"Authorization": f"Bearer {registered.json()['access_token']}"}
            yield Cluster(url, api, admin, tmp_path, workers, gpu)
        finally:
            for worker in workers:
                worker.stop()
            api.stop()


def _create_key_with_the_cli(cluster: Cluster) -> str:
    env = scriberr_env(cluster.tmp / "api-data", SCRIBERR_DATABASE_URL=cluster.database_url)
    made = _cli(env, "workers", "create-key", "gpu-1")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("swk_") and "\n" not in key
    listed = _cli(env, "workers", "list-keys")
    assert listed.returncode == 0 and "gpu-1" in listed.stdout and key not in listed.stdout
    return key


def test_a_worker_without_shared_storage_fetches_audio_from_the_api(cluster: Cluster) -> None:
    key = _create_key_with_the_cli(cluster)
    worker = cluster.start_worker(key)
    ids = cluster.jobs(JOBS)
    _wait(lambda: cluster.statuses(ids) == ["completed"] * JOBS, 120, "the jobs to complete")

    fetched = {entry["transcription_id"]: entry for entry in _events(worker, "audio.fetched")}
    assert set(fetched) == set(ids)
    assert {entry["bytes"] for entry in fetched.values()} == {JFK.stat().st_size}
    worker_data = cluster.tmp / "worker-data"
    assert not any((worker_data / "uploads").rglob("*.flac"))  # never stored there
    assert not any((worker_data / "jobs").rglob("*.flac"))  # scratch removed after each attempt
    with cluster.http() as http:
        for job_id in ids:
            executions = http.get(f"/api/v1/transcriptions/{job_id}/executions").json()["items"]
            assert [e["status"] for e in executions] == ["completed"]
            assert executions[0]["host"] == cluster.gpu.hostname  # the worker's host ran it
            transcript = http.get(f"/api/v1/transcriptions/{job_id}/transcript")
            assert transcript.status_code == 200
        [listed] = http.get("/api/v1/admin/worker-keys").json()["items"]
        assert listed["last_used_at"] is not None
    assert key not in worker.logs() and key not in cluster.api.logs()


def test_a_revoked_key_puts_jobs_back_and_marks_the_worker_unhealthy(cluster: Cluster) -> None:
    with cluster.http() as http:
        created = http.post("/api/v1/admin/worker-keys", json={"name": "gpu-2"}).json()
    worker = cluster.start_worker(created["key"])
    [first] = cluster.jobs(1)
    _wait(lambda: cluster.statuses([first]) == ["completed"], 120, "the first job")

    with cluster.http() as http:
        assert http.delete(f"/api/v1/admin/worker-keys/{created['id']}").status_code == 204
    ids = cluster.jobs(JOBS)
    _wait(lambda: _events(worker, "worker.unhealthy"), 60, "the worker to report unhealthy")
    time.sleep(3)  # let it try again (it must not claim, fail or log again)

    assert cluster.statuses(ids) == ["queued"] * JOBS
    database = Database(cluster.database_url)
    try:
        rows = [p for p in WorkerRegistry(database).processes() if p.unhealthy_reason]
    finally:
        database.close()
    assert len(rows) == 1  # the worker's row (the API host's own row stays healthy)
    assert rows[0].hostname.startswith(cluster.gpu.hostname)
    assert "refused the worker key" in str(rows[0].unhealthy_reason)
    unhealthy = _events(worker, "worker.unhealthy")
    assert len(unhealthy) == 1, unhealthy  # said once, in one line
    assert "refused the worker key" in unhealthy[0]["reason"]
    with cluster.http() as http:
        stats = http.get("/api/v1/admin/queue").json()
        assert stats["failed"] == 0 and stats["processing"] == 0
        assert stats["queued"] == JOBS and stats["completed"] == 1
        attempts = [
            e
            for job_id in ids
            for e in http.get(f"/api/v1/transcriptions/{job_id}/executions").json()["items"]
        ]
    assert len(attempts) == 1  # one job was tried, then the worker stopped claiming
    assert attempts[0]["status"] == "canceled"  # closed, not left open and not failed
    assert attempts[0]["error"] == "this worker could neither read nor fetch the audio"
    assert attempts[0]["processing_duration_ms"] is not None
    assert created["key"] not in worker.logs() and created["key"] not in cluster.api.logs()


def test_the_worker_refuses_to_start_without_audio_access(cluster: Cluster) -> None:
    env = cluster.worker_env(None)
    result = _cli(env, "worker", "--fake-engine", host=cluster.gpu)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert (
        line.startswith("scriberr worker: cannot read job audio") and "SCRIBERR_SERVER_URL" in line
    )

    bad_key = "swk_" + "x" * 43
    result = _cli(cluster.worker_env(bad_key), "worker", "--fake-engine", host=cluster.gpu)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "refused the worker key" in line and bad_key not in line

    unreachable = {
        **cluster.worker_env(None),
        "SCRIBERR_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/x",
    }
    result = _cli(unreachable, "worker", "--fake-engine")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("scriberr worker: cannot reach the database")
