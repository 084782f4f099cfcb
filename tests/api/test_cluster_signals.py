"""Signals across processes on PostgreSQL (issue 13 item 3), with real processes: a PostgreSQL
server the test starts, one `scriberr serve` (the API host, whose own worker is kept busy by a
long job) and one `scriberr worker` on a simulated host of its own (tests/support/hosts.py:
network, PID and UTS namespaces as root, a plain process on loopback otherwise), both with the
fake engine and sharing the data dir (fetching audio is another test's subject). The remote
worker polls only every 30 s and renews its lease only every 15 s, so anything faster than that
is the LISTEN/NOTIFY path:

- a job queued while the remote worker is idle is claimed by it within 1 s;
- canceling (through the API) a job the remote worker runs stops it there within 2 s (the job
  reports no progress meanwhile, so no rejected progress write can notice it first; the remote
  logs `job.stopped` with reason `canceled` only when the signal stopped it);
- the remote job's progress (every step, not one row read a second) and its terminal event
  reach SSE clients of the API process, on the per-job and the global stream, each once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from scriberr.persistence.database import Database
from scriberr.persistence.queue_repository import JobState, QueueRepository
from tests.queue.helpers import seed_file, wait_for
from tests.support.hosts import simulated_network
from tests.support.postgres import postgres_server, unavailable_reason
from tests.support.servers import ScriberrProcess, scriberr_env, start_process, start_serve

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]

PASSWORD = "correct horse battery staple"
TERMINAL = ("transcription.completed", "transcription.failed", "transcription.canceled")


@dataclass
class Cluster:
    api: ScriberrProcess
    remote: ScriberrProcess
    remote_id: str  # the remote process's id: its worker ids start with it
    database: Database
    queue: QueueRepository
    data_dir: Path
    user_id: str
    headers: dict[str, str]

    def create(self, script: dict[str, Any]) -> str:
        file_id = seed_file(self.database, self.data_dir, self.user_id, script)
        response = httpx.post(
            self.api.base_url + "/api/v1/transcriptions",
            json={"file_id": file_id},
            headers=self.headers,
            timeout=30,
        )
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def state(self, job_id: str) -> JobState:
        state = self.queue.state(job_id)
        assert state is not None
        return state

    def on_remote(self, job_id: str) -> bool:
        state = self.state(job_id)
        return state.status == "processing" and str(state.claimed_by).startswith(self.remote_id)


def _started_process_id(process: ScriberrProcess) -> str:
    for line in process.logs().splitlines():
        if '"workers.started"' in line:
            return str(json.loads(line)["process_id"])
    return ""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("signals")
    data_dir = root / "data"
    with (
        simulated_network() as network,
        postgres_server(tcp_host=network.server_address, port=54342) as url,
    ):
        gpu = network.add_host("gpu-a")
        common = {
            "SCRIBERR_DATABASE_URL": url,
            "SPEECH_ENGINE_DEFAULT_MODEL": "fake-model",
            "TRANSCRIPTION_LEASE_TIMEOUT": "10m",  # lease renewal (the slow cancel path): 15 s
            "TRANSCRIPTION_QUEUE_POLL_INTERVAL": "30s",  # the slow wake path
        }
        api = start_serve(data_dir, "--fake-engine", **common)
        remote: ScriberrProcess | None = None
        database = Database(url)
        try:
            with httpx.Client(base_url=api.base_url, timeout=30) as http:
                registered = http.post(
                    "/api/v1/auth/register",
                    json={"username": "ops", "password": PASSWORD, "confirm_password": PASSWORD},
                )
                assert registered.status_code == 201, registered.text
                headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}
                user_id = str(http.get("/api/v1/auth/me", headers=headers).json()["id"])
            queue = QueueRepository(database)
            partial = Cluster(api, api, "", database, queue, data_dir, user_id, headers)
            # keep the API host's only worker busy, so new jobs can only go to the remote one
            blocker = partial.create({"delay_s": 600, "steps": 600})
            wait_for(lambda: partial.state(blocker).status == "processing", timeout=30)
            remote = start_process(
                data_dir, "worker", "--fake-engine", env=scriberr_env(data_dir, **common),
                wrapper=gpu.wrapper, log_name="remote-worker.log",
            )  # fmt: skip
            remote_id = wait_for(lambda: _started_process_id(remote), timeout=60)
            yield Cluster(api, remote, remote_id, database, queue, data_dir, user_id, headers)
        finally:
            if remote is not None:
                remote.stop()
            api.stop()
            database.close()


def test_a_job_queued_while_the_remote_worker_is_idle_is_claimed_within_1_s(
    cluster: Cluster,
) -> None:
    time.sleep(1.0)  # the remote worker's startup claim is long over: it is idle, polling in 30 s
    started = time.monotonic()
    job = cluster.create({"delay_s": 0.2, "steps": 2})
    wait_for(lambda: cluster.state(job).status != "queued", timeout=10, interval=0.01)
    claimed_after = time.monotonic() - started
    assert str(cluster.state(job).claimed_by or "").startswith(cluster.remote_id) or (
        cluster.state(job).status == "completed"
    )
    assert claimed_after <= 1.0, f"claimed after {claimed_after:.2f} s"
    wait_for(lambda: cluster.state(job).status == "completed", timeout=20)
    executions = cluster.queue.list_executions(job, cluster.user_id)
    assert [str(e.worker_id).split("/")[0] for e in executions] == [cluster.remote_id]


def test_cancel_of_a_job_running_on_the_remote_worker_stops_it_within_2_s(
    cluster: Cluster,
) -> None:
    job = cluster.create({"delay_s": 120, "steps": 1})  # no progress write notices it
    wait_for(lambda: cluster.on_remote(job) and cluster.state(job).progress_stage == "transcribing")
    started = time.monotonic()
    response = httpx.post(
        f"{cluster.api.base_url}/api/v1/transcriptions/{job}:cancel",
        headers=cluster.headers,
        timeout=30,
    )
    assert response.status_code == 200, response.text

    def stopped() -> bool:
        return any(
            '"job.stopped"' in line and job in line and '"canceled"' in line
            for line in cluster.remote.logs().splitlines()
        )

    wait_for(stopped, timeout=20, interval=0.02)
    stopped_after = time.monotonic() - started
    assert stopped_after <= 2.0, f"the remote engine stopped after {stopped_after:.2f} s"
    assert cluster.state(job).status == "canceled"
    # the remote worker is free again: the next job is claimed there at once
    follow_up = cluster.create({"delay_s": 0.1, "steps": 1})
    wait_for(lambda: cluster.state(follow_up).status == "completed", timeout=10)


@dataclass
class _Frame:
    event: str
    data: dict[str, Any]


def _read_frames(
    url: str, headers: dict[str, str], frames: list[_Frame], until: threading.Event
) -> None:
    """Append every SSE frame of `url` to `frames` until `until` is set (then leave)."""
    with (
        httpx.Client(timeout=httpx.Timeout(60, read=2)) as http,
        http.stream("GET", url, headers=headers) as stream,
    ):
        event = ""
        lines = stream.iter_lines()
        while not until.is_set():
            try:
                line = next(lines)
            except (httpx.ReadTimeout, StopIteration):
                return
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                frames.append(_Frame(event, json.loads(line.removeprefix("data: "))))


def _check_states(frames: list[_Frame], job: str) -> list[float]:
    """The job's state frames: each state once, progress never going back, one terminal
    event, last; returns the progress values seen while transcribing."""
    states = [
        f
        for f in frames
        if f.data.get("id") == job and f.event in (*TERMINAL, "transcription.progress")
    ]
    keys = [
        (f.data["status"], round(float(f.data["progress"]), 4), f.data["stage"]) for f in states
    ]
    assert len(keys) == len(set(keys)), keys  # nothing twice
    assert [f.event for f in states if f.event in TERMINAL] == ["transcription.completed"]
    assert states[-1].event == "transcription.completed"
    running = [k[1] for k in keys if k[0] == "processing"]
    assert running == sorted(running), keys  # never backwards
    return [k[1] for k in keys if k[2] == "transcribing"]


def test_remote_progress_and_terminal_events_reach_sse_clients_of_the_api_once_each(
    cluster: Cluster,
) -> None:
    base = cluster.api.base_url
    done = threading.Event()
    global_frames: list[_Frame] = []
    readers = [
        threading.Thread(
            target=_read_frames,
            args=(base + "/api/v1/events", cluster.headers, global_frames, done),
            daemon=True,
        )
    ]
    readers[0].start()
    time.sleep(0.5)  # the global stream is subscribed
    job = cluster.create({"delay_s": 3.0, "steps": 30})
    job_frames: list[_Frame] = []
    readers.append(
        threading.Thread(
            target=_read_frames,
            args=(f"{base}/api/v1/transcriptions/{job}/events", cluster.headers, job_frames, done),
            daemon=True,
        )
    )
    readers[1].start()
    wait_for(lambda: cluster.state(job).status == "completed", timeout=30)
    assert str(cluster.queue.list_executions(job, cluster.user_id)[0].worker_id).startswith(
        cluster.remote_id
    )
    wait_for(lambda: any(f.event in TERMINAL and f.data.get("id") == job for f in job_frames))
    wait_for(lambda: any(f.event in TERMINAL and f.data.get("id") == job for f in global_frames))
    time.sleep(1.5)  # anything sent twice (a row read after the event) would arrive by now
    done.set()
    for reader in readers:
        reader.join(5)
    # Every step of the fake engine (30 in 3 s), not one row read a second: the events are
    # relayed from the remote worker's broker, at full detail.
    assert len(_check_states(job_frames, job)) >= 20
    assert len(_check_states(global_frames, job)) >= 20
