"""Shared test helpers: config for a temp data dir, seeding users/files, fake-job scripts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scriberr.config import Config, load_config
from scriberr.ids import new_id
from scriberr.persistence.database import Database
from scriberr.persistence.models import AudioFile, User
from scriberr.persistence.queue_repository import NewJob, QueueRepository

FAKE_OPTIONS: dict[str, Any] = {
    "model": "fake-model",
    "language": "auto",
    "task": "transcribe",
    "diarization": False,
    "num_speakers": None,
    "min_speakers": None,
    "max_speakers": None,
    "prompt": None,
    "hotwords": None,
    "beam_size": None,
    "temperature": None,
    "vad": True,
    "vad_min_silence_ms": None,
    "condition_on_previous_text": True,
}
REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIBERR = [sys.executable, "-m", "scriberr.cli"]


class Clock:
    """A settable clock for repositories and judges (starts at 2026-01-01 UTC)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        "SCRIBERR_DATA_DIR": str(data_dir),
        "TRANSCRIPTION_QUEUE_POLL_INTERVAL": "100ms",
        "TRANSCRIPTION_LEASE_TIMEOUT": "10m",
        "SPEECH_ENGINE_PROVIDER": "cpu",
        "SCRIBERR_LOG_LEVEL": "warning",
    }
    env.update(extra)
    return env


def config_for(data_dir: Path, **extra: str) -> Config:
    return load_config(env_for(data_dir, **extra))


def seed_user(database: Database, user_id: str | None = None) -> str:
    user_id = user_id or new_id("user")
    with database.write_session() as session:
        session.add(User(id=user_id, username=user_id, password_hash="x"))
    return user_id


def seed_file(
    database: Database, data_dir: Path, user_id: str, script: Mapping[str, Any] | None = None
) -> str:
    """A file row whose bytes are a fake-engine script (`{"fake": {...}}`)."""
    file_id = new_id("file")
    relative = Path("uploads") / file_id / "audio.json"
    (data_dir / relative).parent.mkdir(parents=True, exist_ok=True)
    (data_dir / relative).write_text(json.dumps({"fake": dict(script or {})}))
    with database.write_session() as session:
        session.add(
            AudioFile(
                id=file_id,
                user_id=user_id,
                title="t",
                kind="audio",
                status="ready",
                storage_path=str(relative),
            )
        )
    return file_id


def enqueue(queue: QueueRepository, user_id: str, file_id: str | None, **options: Any) -> str:
    return queue.enqueue(
        NewJob(user_id=user_id, file_id=file_id, options={**FAKE_OPTIONS, **options})
    )


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def start_worker(env: Mapping[str, str], *args: str) -> subprocess.Popen[bytes]:
    """The real `scriberr worker` command with the (hidden, test-only) fake engine. Its log goes
    to `worker-<pid>.log` next to the data dir (a file, so a chatty worker never blocks)."""
    full_env = {**os.environ, **env}
    log_dir = Path(full_env["SCRIBERR_DATA_DIR"]).parent
    log_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=log_dir, prefix="worker-", suffix=".log", delete=False
    ) as log:
        return subprocess.Popen(
            [*SCRIBERR, "worker", "--fake-engine", *args],
            env=full_env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def worker_logs(data_dir: Path) -> str:
    return "\n".join(p.read_text() for p in sorted(data_dir.parent.glob("worker-*.log")))
