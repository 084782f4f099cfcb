"""Cluster benchmark: two `scriberr worker --fake-engine` processes against one PostgreSQL.

The PostgreSQL server is started here (tests/support/postgres.py). As root each worker runs on
a simulated host of its own (tests/support/hosts.py: network, PID and UTS namespaces, reaching
PostgreSQL over TCP), so a dead worker is noticed by its heartbeat, as across machines, not by a
pid check; otherwise both are plain processes on loopback (then `recovery_s` is the same-host
case, where the pid check finds the dead process at the next heartbeat).
The bench process plays the API host: it enqueues and cancels through the real
`QueueRepository` (with a signal origin, so it NOTIFYs like `scriberr serve` does) and runs no
workers. The fake engine does (almost) no work, so the figures are the cost of the queue and
the signals.

    .venv/bin/python bench/cluster.py [--jobs 1000] [--workers 2] [--samples 20]

Rounds:
- throughput: `--jobs` jobs enqueued in one transaction, run by both processes
  (`--workers` threads each);
- wake: with both workers idle (polling only every 30 s), one job at a time is enqueued; the
  latency runs from just before the enqueue to the claim (`started_at` written by the worker);
- cancel: a long job runs on one worker; the latency runs from just before the cancel to the
  worker's `job.stopped` log line (its engine has stopped);
- recovery: the worker running a long job is killed with SIGKILL; the time runs until the job is
  claimed again by the other one (`TRANSCRIPTION_WORKER_TIMEOUT`, default here 30s, plus one
  heartbeat).

Prints progress lines, then ONE JSON object on the last line:
`{"jobs_per_s_pg_2proc", "wake_latency_ms_p95", "cancel_latency_ms_p95", "recovery_s"}`
(targets: wake ≤ 200 ms, cancel ≤ 2000 ms, recovery ≤ 40 s).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

# bench/ holds a `queue.py`; keep it from shadowing the standard library's `queue`, and make the
# repository root importable (for `tests.support`).
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from scriberr.ids import new_id  # noqa: E402
from scriberr.persistence.database import Database  # noqa: E402
from scriberr.persistence.models import AudioFile, Transcription, User  # noqa: E402
from scriberr.persistence.queue_repository import NewJob, QueueRepository  # noqa: E402
from tests.support.hosts import SimulatedNetwork, simulated_network  # noqa: E402
from tests.support.postgres import postgres_server, unavailable_reason  # noqa: E402
from tests.support.servers import ScriberrProcess, scriberr_env, start_process  # noqa: E402

OPTIONS = {"model": "fake-model", "language": "en", "task": "transcribe", "diarization": False}
USER = "user_bench"


class Bench:
    def __init__(
        self, url: str, root: Path, network: SimulatedNetwork, workers: int, worker_timeout: str
    ) -> None:
        self.root = root
        self.network = network
        self.data_dir = root / "data"
        self.database = Database(url)
        self.database.migrate()
        self.queue = QueueRepository(self.database, signal_origin="bench")
        self.env = scriberr_env(
            self.data_dir,
            SCRIBERR_DATABASE_URL=url,
            TRANSCRIPTION_WORKERS=str(workers),
            TRANSCRIPTION_QUEUE_POLL_INTERVAL="30s",  # only a signal wakes an idle worker
            TRANSCRIPTION_WORKER_TIMEOUT=worker_timeout,
            SPEECH_ENGINE_DEFAULT_MODEL="fake-model",
        )
        with self.database.write_session() as session:
            session.add(User(id=USER, username="bench", password_hash="x"))
        self.quick = self.script({"steps": 1})
        self.workers: list[ScriberrProcess] = []

    def script(self, fake: dict[str, Any]) -> str:
        """A file whose "audio" is a fake-engine script."""
        file_id = new_id("file")
        relative = Path("uploads") / file_id / "audio.json"
        (self.data_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (self.data_dir / relative).write_text(json.dumps({"fake": fake}))
        with self.database.write_session() as session:
            session.add(
                AudioFile(
                    id=file_id,
                    user_id=USER,
                    title="bench",
                    kind="audio",
                    status="ready",
                    storage_path=str(relative),
                )
            )
        return file_id

    def start_worker(self, index: int) -> ScriberrProcess:
        worker = start_process(
            self.data_dir,
            "worker",
            "--fake-engine",
            env=self.env,
            wrapper=self.network.add_host(f"gpu-{index}").wrapper,
            log_name=f"worker-{index}-{len(self.workers)}.log",
        )
        wait(lambda: '"workers.started"' in worker.logs(), 120, worker)
        self.workers.append(worker)
        return worker

    def enqueue(self, file_id: str) -> str:
        return self.queue.enqueue(NewJob(USER, OPTIONS, file_id=file_id))

    def row(self, job_id: str) -> Any:
        with self.database.session() as session:
            return session.execute(
                select(
                    Transcription.status,
                    Transcription.claimed_by,
                    Transcription.started_at,
                    Transcription.progress_stage,
                ).where(Transcription.id == job_id)
            ).one()

    def close(self) -> None:
        for worker in self.workers:
            worker.stop(15)
        self.database.close()


def wait(
    predicate: Callable[[], Any], timeout: float, process: ScriberrProcess | None = None
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if process is not None and process.process.poll() is not None:
            raise RuntimeError("worker exited:\n" + process.logs()[-3000:])
        time.sleep(0.01)
    raise TimeoutError(f"not within {timeout} s")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def throughput(bench: Bench, jobs: int) -> float:
    with bench.database.write_session() as session:
        started = time.perf_counter()
        for _ in range(jobs):
            bench.queue.enqueue(NewJob(USER, OPTIONS, file_id=bench.quick), session=session)
    wait(lambda: bench.queue.stats(USER)["completed"] >= jobs, 600)
    elapsed = time.perf_counter() - started
    stats = bench.queue.stats(USER)
    assert stats["completed"] == jobs and stats["failed"] == 0, stats
    return jobs / elapsed


def wake_latency(bench: Bench, samples: int) -> list[float]:
    latencies = []
    for _ in range(samples):
        time.sleep(0.3)  # both workers idle, waiting for their 30 s poll
        before = time.time()
        job = bench.enqueue(bench.quick)
        row = wait(lambda job=job: (r := bench.row(job)).started_at and r, 30)
        latencies.append((row.started_at.timestamp() - before) * 1000)
        wait(lambda job=job: bench.row(job).status == "completed", 30)
    return latencies


def _stopped_at(worker: ScriberrProcess, job_id: str) -> float | None:
    for line in worker.logs().splitlines():
        if '"job.stopped"' in line and job_id in line:
            return datetime.fromisoformat(json.loads(line)["ts"]).timestamp()
    return None


def cancel_latency(bench: Bench, samples: int) -> list[float]:
    latencies = []
    long_job = bench.script({"delay_s": 600, "steps": 1})  # no progress write to notice it
    for _ in range(samples):
        job = bench.enqueue(long_job)
        wait(lambda job=job: bench.row(job).progress_stage == "transcribing", 30)
        before = time.time()
        bench.queue.cancel(job, USER)
        stopped = wait(lambda job=job: any(_stopped_at(w, job) for w in bench.workers), 60)
        assert stopped
        at = min(t for w in bench.workers if (t := _stopped_at(w, job)) is not None)
        latencies.append((at - before) * 1000)
    return latencies


def recovery(bench: Bench) -> float:
    job = bench.enqueue(bench.script({"first_attempt_delay_s": 600, "steps": 60000}))
    row = wait(lambda: (r := bench.row(job)).progress_stage == "transcribing" and r, 30)
    holder = str(row.claimed_by).split("/")[0]
    victim = next(w for w in bench.workers if f'"process_id": "{holder}"' in w.logs())
    killed = time.monotonic()
    victim.kill()
    bench.workers.remove(victim)
    wait(lambda: (r := bench.row(job)).claimed_by and not r.claimed_by.startswith(holder), 300)
    return time.monotonic() - killed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="worker threads per process")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--worker-timeout", default="30s", help="TRANSCRIPTION_WORKER_TIMEOUT")
    arguments = parser.parse_args()
    reason = unavailable_reason()
    if reason is not None:
        print(f"PostgreSQL unavailable: {reason}", file=sys.stderr)
        return 1
    with (
        tempfile.TemporaryDirectory(prefix="scriberr-cluster-") as temporary,
        simulated_network() as network,
        postgres_server(tcp_host=network.server_address, port=54351) as url,
    ):
        bench = Bench(url, Path(temporary), network, arguments.workers, arguments.worker_timeout)
        try:
            for index in range(2):
                bench.start_worker(index)
            print(f"simulated hosts (namespaces): {network.namespaces}", flush=True)
            jobs_per_s = throughput(bench, arguments.jobs)
            print(f"throughput: {jobs_per_s:.1f} jobs/s", flush=True)
            wakes = wake_latency(bench, arguments.samples)
            print(f"wake: p50 {sorted(wakes)[len(wakes) // 2]:.1f} ms", flush=True)
            cancels = cancel_latency(bench, max(5, arguments.samples // 2))
            print(f"cancel: p50 {sorted(cancels)[len(cancels) // 2]:.1f} ms", flush=True)
            recovered = recovery(bench)
            print(f"recovery: {recovered:.1f} s", flush=True)
        finally:
            bench.close()
    result = {
        "jobs_per_s_pg_2proc": round(jobs_per_s, 1),
        "wake_latency_ms_p95": round(p95(wakes), 1),
        "cancel_latency_ms_p95": round(p95(cancels), 1),
        "recovery_s": round(recovered, 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
