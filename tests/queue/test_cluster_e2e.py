"""Must-show for "seeing the cluster" (issue 13): a real `scriberr serve` and a real
`scriberr worker` (fake engine) on another simulated host (`tests/support/hosts.py`: its own
network, PID and UTS namespaces when root, a plain loopback process otherwise) share a PostgreSQL
server this test starts. `kill -9` of the remote worker while it runs a job:

- the job is recovered within the worker timeout plus one heartbeat, and then completes;
- `/api/v1/admin/workers` shows the killed process as dead, and later (after
  `TRANSCRIPTION_WORKER_RETENTION`) no longer lists it;
- each execution names the host and worker that ran it.

Across pid namespaces only the heartbeat age tells a dead worker, so the bound is the configured
worker timeout plus one heartbeat interval.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from scriberr.clock import utcnow
from scriberr.config import load_config
from scriberr.ids import new_id
from scriberr.persistence.database import Database
from scriberr.persistence.models import User
from scriberr.persistence.queue_repository import NewJob, QueueRepository
from scriberr.queue.service import WorkerSettings
from tests.queue.helpers import FAKE_OPTIONS, seed_file, wait_for
from tests.support.hosts import SimulatedHost, SimulatedNetwork, simulated_network
from tests.support.postgres import postgres_server, unavailable_reason
from tests.support.servers import ScriberrProcess, scriberr_env, start_process, start_serve

pytestmark = [pytest.mark.postgres, pytest.mark.e2e, pytest.mark.slow]

PASSWORD = "correct horse battery"
LEASE = "4s"  # heartbeat every second
WORKER_TIMEOUT = "3s"  # honoured once TRANSCRIPTION_WORKER_TIMEOUT exists (issue 13 item 2)
RETENTION_S = 5.0
SLACK_S = 3.0  # polling here, process scheduling on a loaded machine


@pytest.fixture
def network() -> Iterator[SimulatedNetwork]:
    with simulated_network() as simulated:
        yield simulated


@pytest.fixture
def database_url(network: SimulatedNetwork) -> Iterator[str]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with postgres_server(tcp_host=network.server_address) as url:
        yield url


def _dead_worker_bound_s(env: dict[str, str]) -> float:
    """The worker timeout plus one heartbeat, as the configuration in `env` makes them."""
    config = load_config(env)
    settings = WorkerSettings(
        lease_s=config.lease_timeout_s, worker_timeout_s=config.worker_timeout_s
    )
    return config.worker_timeout_s + settings.heartbeat_interval


def _admin(database: Database) -> str:
    now = utcnow()
    with database.write_session() as session:
        session.add(
            User(
                id=(user_id := new_id("user")),
                username="admin",
                password_hash=PasswordHasher().hash(PASSWORD),
                role="admin",
                created_at=now,
                updated_at=now,
            )
        )
    return user_id


def _holder(queue: QueueRepository, job_id: str) -> str | None:
    state = queue.state(job_id)
    if state is None or state.status != "processing" or state.progress_stage != "transcribing":
        return None
    return state.claimed_by


def test_kill_9_of_the_remote_worker_is_recovered_shown_dead_then_pruned(
    tmp_path: Path, network: SimulatedNetwork, database_url: str
) -> None:
    data_dir = tmp_path / "data"  # shared: audio transfer is not what this test is about
    env = scriberr_env(
        data_dir,
        SCRIBERR_DATABASE_URL=database_url,
        SCRIBERR_SECRET_KEY="cluster-test-secret-0123456789abcdef0123",
        TRANSCRIPTION_LEASE_TIMEOUT=LEASE,
        TRANSCRIPTION_WORKER_TIMEOUT=WORKER_TIMEOUT,
        TRANSCRIPTION_WORKER_RETENTION=f"{int(RETENTION_S)}s",
        TRANSCRIPTION_QUEUE_POLL_INTERVAL="200ms",
    )
    database = Database(database_url)
    database.migrate()
    queue = QueueRepository(database)
    processes: list[ScriberrProcess] = []
    try:
        admin = _admin(database)
        gpu = network.add_host("gpu-a")
        # the remote worker starts first and alone, so it is the one that claims the job
        worker = start_process(
            data_dir, "worker", "--fake-engine", env=env, wrapper=gpu.wrapper, log_name="worker.log"
        )
        processes.append(worker)
        file_id = seed_file(database, data_dir, admin, {"first_attempt_delay_s": 60, "steps": 600})
        job_id = queue.enqueue(NewJob(admin, FAKE_OPTIONS, file_id=file_id))
        holder = wait_for(lambda: _holder(queue, job_id), timeout=60, interval=0.05)
        worker_process = holder.split("/")[0]

        server = start_serve(data_dir, "--fake-engine", env=env, log_name="serve.log")
        processes.append(server)
        _check_cluster(server, env, queue, job_id, (gpu, worker, worker_process))
    except BaseException:
        for running in processes:
            print(f"--- {running.log_path.name}\n{running.logs()[-4000:]}")
        raise
    finally:
        for running in processes:
            running.stop(timeout=15)
        database.close()


def _check_cluster(
    server: ScriberrProcess,
    env: dict[str, str],
    queue: QueueRepository,
    job_id: str,
    remote: tuple[SimulatedHost, ScriberrProcess, str],
) -> None:
    gpu, worker, worker_process = remote
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        login = http.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        assert login.status_code == 200, login.text
        http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"

        before = _workers(http)
        assert before[worker_process]["alive"] is True
        assert before[worker_process]["running_job_ids"] == [job_id]
        assert before[worker_process]["host"] == gpu.hostname
        assert before[worker_process]["host"] != socket.gethostname() or not network_used(gpu)
        assert http.get("/api/v1/admin/queue").json()["running"] == 1  # on the other process

        worker.kill()  # kill -9: no clean-up of any kind
        killed_at = time.monotonic()
        wait_for(
            lambda: (queue.state(job_id).claimed_by or "").split("/")[0] != worker_process,  # type: ignore[union-attr]
            timeout=90,
            interval=0.05,
        )
        recovered_s = time.monotonic() - killed_at
        assert recovered_s <= _dead_worker_bound_s(env) + SLACK_S, recovered_s

        # recovery may come first through the lease; the process itself counts as dead once its
        # heartbeat is older than the worker timeout (another pid namespace: no pid check)
        bound_s = _dead_worker_bound_s(env) + SLACK_S
        dead = wait_for(
            lambda: next((w for w in [_workers(http)[worker_process]] if not w["alive"]), None),
            timeout=max(0.1, bound_s - (time.monotonic() - killed_at)),
            interval=0.2,
        )
        assert (dead["alive"], dead["state"], dead["running_jobs"]) == (False, "dead", 0)
        assert dead["dead_since"] is not None and dead["host"] == gpu.hostname

        wait_for(
            lambda: http.get(f"/api/v1/transcriptions/{job_id}").json()["status"] == "completed",
            timeout=60,
            interval=0.2,
        )
        executions = http.get(f"/api/v1/transcriptions/{job_id}/executions").json()["items"]
        assert [e["status"] for e in executions] == ["failed", "completed"]
        assert executions[0]["worker_id"].startswith(worker_process + "/")
        assert not executions[1]["worker_id"].startswith(worker_process + "/")
        assert [e["host"] for e in executions] == [gpu.hostname, socket.gethostname()]
        logs = http.get(f"/api/v1/transcriptions/{job_id}/logs").text
        assert f"[{gpu.hostname} {worker_process}/0]" in logs

        # pruned once it has been dead for the retention period (checked every heartbeat)
        wait_for(lambda: worker_process not in _workers(http), timeout=RETENTION_S + 30)
        assert _workers(http)  # the server itself is still listed


def _workers(http: httpx.Client) -> dict[str, Any]:
    response = http.get("/api/v1/admin/workers")
    assert response.status_code == 200, response.text
    return {item["id"]: item for item in response.json()["items"]}


def network_used(host: SimulatedHost) -> bool:
    """Whether the host is a real simulated host (own namespaces), not a loopback process."""
    return host.can_cut
