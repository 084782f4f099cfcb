"""Queue throughput benchmark: a no-op provider on SQLite, 1 and 4 worker processes.

Both rounds run the same number of workers (`--workers`, default 4): one process with 4 worker
threads, then 4 processes with one each — so the comparison is about spreading the same
concurrency over processes. Each worker process is the real composition root (`build_core`: worker service, orchestrator,
queue repository, transcript file, job log) with a provider that does no work, so the figures are
the cost of the queue itself: claim, execution row, events, transcript write and completion.

    .venv/bin/python bench/queue.py [--jobs 2000]

Prints progress lines, then ONE JSON object on the last line:
`{"jobs_per_s_1proc", "jobs_per_s_4proc", "claim_p50_ms", "claim_p99_ms"}` (claim latency is
measured over every successful claim in the 4-process run, where claims contend; a claim made
in the same transaction as the worker's previous completion counts that whole transaction).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# bench/ holds this `queue.py`; keep it from shadowing the standard library's `queue`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from scriberr.config import load_config  # noqa: E402
from scriberr.engine.base import (  # noqa: E402
    CancelToken,
    Capabilities,
    DiarizationOptions,
    DiarizationOutput,
    ModelInfo,
    PreparedAudio,
    ProgressCallback,
    TranscriptionOptions,
    TranscriptionOutput,
    Word,
)

MODEL = "noop-model"


class NoopProvider:
    name = "noop"

    def preload(self) -> None:
        return None

    def capabilities(self) -> Capabilities:
        model = ModelInfo(MODEL, MODEL, "noop", "transcription", True, True, (), ("en",), 0)
        return Capabilities("noop", "cpu", (model,), ())

    def prepare_audio(self, source: Path, destination: Path, cancel: CancelToken) -> PreparedAudio:
        return PreparedAudio(path=source, duration=1.0)

    def transcribe(
        self,
        audio: PreparedAudio,
        options: TranscriptionOptions,
        progress: ProgressCallback,
        cancel: CancelToken,
    ) -> TranscriptionOutput:
        progress(1.0)
        return TranscriptionOutput("noop", "en", 1.0, (), (Word(0.0, 0.5, "noop"),), MODEL)

    def diarize(
        self,
        audio: PreparedAudio,
        options: DiarizationOptions,
        progress: ProgressCallback,
        cancel: CancelToken,
    ) -> DiarizationOutput:
        return DiarizationOutput()

    def close(self) -> None:
        return None


def _env(data_dir: Path, workers: int = 1) -> dict[str, str]:
    return {
        **os.environ,
        "SCRIBERR_DATA_DIR": str(data_dir),
        "TRANSCRIPTION_WORKERS": str(workers),
        "TRANSCRIPTION_QUEUE_POLL_INTERVAL": "50ms",
        "SCRIBERR_LOG_LEVEL": "warning",
        "SPEECH_ENGINE_PROVIDER": "cpu",
    }


def run_worker(latency_file: Path) -> int:
    """Child process: build the core, say `ready`, wait for `go`, run until SIGTERM."""
    from scriberr.bootstrap import build_core
    from scriberr.engine.registry import ProviderRegistry

    core = build_core(load_config(os.environ), providers=ProviderRegistry([NoopProvider()], MODEL))
    latencies: list[float] = []
    claim = core.queue.claim

    def timed_claim(*args: Any) -> Any:
        started = time.perf_counter()
        job = claim(*args)
        if job is not None:
            latencies.append((time.perf_counter() - started) * 1000)
        return job

    complete_and_claim = core.queue.complete_and_claim

    def timed_complete_and_claim(*args: Any, **kwargs: Any) -> Any:
        # a busy worker's next claim rides on its completion: count that whole transaction
        started = time.perf_counter()
        completed, job = complete_and_claim(*args, **kwargs)
        if job is not None:
            latencies.append((time.perf_counter() - started) * 1000)
        return completed, job

    core.queue.claim = timed_claim  # type: ignore[method-assign]
    core.queue.complete_and_claim = timed_complete_and_claim  # type: ignore[method-assign]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    sys.stdin.readline()
    core.start()
    stop.wait()
    core.close(5)
    latency_file.write_text(json.dumps(latencies))
    return 0


def _seed(data_dir: Path, jobs: int) -> tuple[Any, Any, str]:
    from scriberr.persistence.database import Database
    from scriberr.persistence.models import AudioFile, User
    from scriberr.persistence.queue_repository import NewJob, QueueRepository

    config = load_config(_env(data_dir))
    database = Database(config.database_url)
    database.migrate()
    source = data_dir / "uploads" / "bench" / "audio.wav"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(b"noop")
    with database.write_session() as session:
        session.add(User(id="user_bench", username="bench", password_hash="x"))
        session.flush()
        session.add(
            AudioFile(
                id="file_bench",
                user_id="user_bench",
                title="bench",
                kind="audio",
                status="ready",
                storage_path="uploads/bench/audio.wav",
            )
        )
    queue = QueueRepository(database)
    options = {"model": MODEL, "language": "en", "task": "transcribe", "diarization": False}
    with database.write_session() as session:
        for _ in range(jobs):
            queue.enqueue(NewJob("user_bench", options, file_id="file_bench"), session=session)
    return database, queue, "user_bench"


def run_round(
    processes: int, jobs: int, total_workers: int, temporary: Path
) -> tuple[float, list[float]]:
    """Run `jobs` through `processes` worker processes sharing `total_workers` workers, with
    a fresh data dir under `temporary` (left in place: `main` removes it after both rounds)."""
    temporary.mkdir()
    data_dir = temporary / "data"
    database, queue, user = _seed(data_dir, jobs)
    children = []
    for index in range(processes):
        latency_file = temporary / f"latency-{index}.json"
        child = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(latency_file)],
            env=_env(data_dir, max(1, total_workers // processes)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        children.append((child, latency_file))
    for child, _ in children:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    started = time.perf_counter()
    for child, _ in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    while queue.stats(user)["completed"] < jobs:
        time.sleep(0.1)
    elapsed = time.perf_counter() - started
    latencies: list[float] = []
    for child, latency_file in children:
        child.send_signal(signal.SIGTERM)
        child.wait(30)
        latencies += json.loads(latency_file.read_text())
    stats = queue.stats(user)
    assert stats["completed"] == jobs and stats["failed"] == 0, stats
    database.close()
    return jobs / elapsed, latencies


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=4, help="workers in total per round")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        return run_worker(arguments.worker)
    # Both rounds' data dirs are removed only at the end: deleting one round's ~2 x jobs
    # inodes right before the next round would make that round's transcript dirs and files
    # slower to create (ext4 skips recently freed inodes when allocating), biasing the
    # comparison against whichever round runs second.
    with tempfile.TemporaryDirectory(prefix="scriberr-bench-") as temporary:
        one, _ = run_round(1, arguments.jobs, arguments.workers, Path(temporary) / "1proc")
        print(f"1 process:   {one:8.1f} jobs/s", flush=True)
        four, latencies = run_round(4, arguments.jobs, arguments.workers, Path(temporary) / "4proc")
    print(f"4 processes: {four:8.1f} jobs/s over {len(latencies)} claims", flush=True)
    result = {
        "jobs_per_s_1proc": round(one, 1),
        "jobs_per_s_4proc": round(four, 1),
        "claim_p50_ms": round(statistics.median(latencies), 3),
        "claim_p99_ms": round(_percentile(latencies, 0.99), 3),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
