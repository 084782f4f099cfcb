"""Partition: a worker on its own simulated host loses its link to PostgreSQL for longer than
the worker timeout while it runs a job.

PostgreSQL runs in the root namespace; worker A on host `gpu-a`, worker B on host `gpu-b` (both
real `scriberr worker --fake-engine` processes, sharing one data dir as a shared filesystem would).
A claims a long job; its link is cut for twice the timeout. It must stop its engine on its own
before B recovers the job; B runs the job to completion exactly once; A's late cleanup removes only
its own attempt's scratch folder while B's attempt is still using its own; A says once that the
database is unreachable, and once that it is back.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scriberr.layout import DataLayout
from scriberr.persistence.database import Database
from scriberr.persistence.queue_repository import QueueRepository
from tests.queue.helpers import enqueue, seed_file, seed_user, wait_for
from tests.support.hosts import require_partitions, simulated_network
from tests.support.postgres import postgres_server, unavailable_reason
from tests.support.servers import ScriberrProcess, scriberr_env, start_process

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason())),
]

TIMEOUT_S = 4.0
CUT_S = 2 * TIMEOUT_S


def _events(worker: ScriberrProcess, name: str, job_id: str | None = None) -> list[dict[str, Any]]:
    found = []
    for line in worker.logs().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") != name:
            continue
        if job_id is None or record.get("transcription_id") == job_id:
            found.append(record)
    return found


def _at(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["ts"])


def _attempt_dirs(layout: DataLayout, job_id: str) -> set[str]:
    job_dir = layout.job_dir(job_id)
    return {p.name for p in job_dir.iterdir()} if job_dir.exists() else set()


def test_a_cut_off_worker_stops_before_its_job_is_recovered_and_the_job_completes_once(
    tmp_path: Path,
) -> None:
    with simulated_network() as network:
        require_partitions(network)
        with postgres_server(tcp_host=network.server_address) as url:
            database = Database(url)
            database.migrate()
            queue = QueueRepository(database)
            data_dir = tmp_path / "data"
            layout = DataLayout(data_dir)
            env = scriberr_env(
                data_dir,
                SCRIBERR_DATABASE_URL=url,
                TRANSCRIPTION_WORKER_TIMEOUT=f"{TIMEOUT_S:g}s",
                TRANSCRIPTION_QUEUE_POLL_INTERVAL="200ms",
            )
            layout.uploads.mkdir(parents=True)  # a shared data dir: the workers read audio there
            gpu_a, gpu_b = network.add_host("gpu-a"), network.add_host("gpu-b")
            workers: list[ScriberrProcess] = []
            try:
                a = start_process(
                    data_dir, "worker", "--fake-engine", env=env, wrapper=gpu_a.wrapper,
                    log_name="worker-a.log",
                )  # fmt: skip
                workers.append(a)
                wait_for(lambda: _events(a, "workers.started"), timeout=60)
                user = seed_user(database)
                # the first attempt (A's) would run for a minute; the second (B's) takes 15 s
                script = {"first_attempt_delay_s": 60, "delay_s": 15, "steps": 300}
                job_id = enqueue(queue, user, seed_file(database, data_dir, user, script))
                wait_for(lambda: _events(a, "job.claimed", job_id), timeout=30)
                [a_attempt] = wait_for(lambda: _attempt_dirs(layout, job_id), timeout=10)

                b = start_process(
                    data_dir, "worker", "--fake-engine", env=env, wrapper=gpu_b.wrapper,
                    log_name="worker-b.log",
                )  # fmt: skip
                workers.append(b)
                wait_for(lambda: _events(b, "workers.started"), timeout=60)
                time.sleep(1)

                gpu_a.cut()
                cut_at, cut_wall = time.monotonic(), datetime.now(UTC)
                [recovered] = wait_for(lambda: _events(b, "job.recovered", job_id), timeout=30)
                assert recovered["reason"] == "owner_gone"
                [b_attempt] = wait_for(
                    lambda: _attempt_dirs(layout, job_id) - {a_attempt}, timeout=10
                )
                time.sleep(max(0.0, cut_at + CUT_S - time.monotonic()))
                gpu_a.restore()

                # A stopped its engine on its own, before B recovered the job
                [cut_off] = _events(a, "job.cut_off", job_id)
                [stopped] = _events(a, "job.interrupted", job_id)
                assert stopped["reason"] == "cut_off"
                assert _at(cut_off) <= _at(stopped) < _at(recovered)
                assert cut_off["since_heartbeat_s"] < TIMEOUT_S

                # A's late cleanup removes only its own folder; B's attempt keeps its files
                wait_for(lambda: a_attempt not in _attempt_dirs(layout, job_id), timeout=30)
                assert (layout.attempt_dir(job_id, b_attempt) / "audio.wav").is_file()
                state = queue.state(job_id)
                assert state is not None and state.status == "processing"
                assert (state.claimed_by or "").startswith(
                    _events(b, "workers.started")[0]["process_id"]
                )

                wait_for(lambda: queue.state(job_id).status == "completed", timeout=60)  # type: ignore[union-attr]
                executions = queue.list_executions(job_id, user)
                assert [(e.id, e.status) for e in executions] == [
                    (a_attempt, "failed"),
                    (b_attempt, "completed"),
                ]
                assert not layout.job_dir(job_id).exists()
                assert layout.transcript_file(job_id).is_file()

                # the cut was noticed and said once; so was the way back; no error spam
                wait_for(lambda: _events(a, "db.reachable"), timeout=30)
                [unreachable] = _events(a, "db.unreachable")
                assert (_at(unreachable) - cut_wall).total_seconds() < 12  # noticed within seconds
                assert len(_events(a, "db.reachable")) == 1
                assert _at(_events(a, "db.unreachable")[0]) < _at(_events(a, "db.reachable")[0])
                noisy = [
                    line
                    for line in a.logs().splitlines()
                    if '"claim.error"' in line or '"queue.error"' in line
                ]
                assert noisy == []
                assert a.process.poll() is None  # A carries on after the partition
            finally:
                for worker in workers:
                    worker.stop(15)
                database.close()
