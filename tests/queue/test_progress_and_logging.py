"""Progress throttling (events live, row writes at most every 0.5 s), sanitising, JSON logs."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from scriberr.events.broker import EventBroker
from scriberr.logging_setup import configure_logging, log_event
from scriberr.orchestrator import JobHandle
from scriberr.orchestrator.progress import ProgressReporter
from scriberr.orchestrator.sanitize import public_error, sanitize
from scriberr.persistence.database import Database
from scriberr.persistence.job_log_repository import JobLogRepository
from scriberr.persistence.queue_repository import QueueRepository
from tests.queue.helpers import enqueue, seed_user


class Ticker:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_events_are_live_and_row_writes_are_throttled(database: Database) -> None:
    queue = QueueRepository(database)
    logs = JobLogRepository(database)
    broker = EventBroker()
    user = seed_user(database)
    enqueue(queue, user, None)
    job = queue.claim("p/0", 60)
    assert job is not None
    clock = Ticker()
    reporter = ProgressReporter(JobHandle(job), queue, logs, broker, clock=clock)
    with broker.subscribe(transcription_id=job.id) as subscription:
        report = reporter.span("transcribing", 0.2, 0.7)
        reporter.log("transcribing /secret/path.wav")
        for step in range(1, 6):
            report(step / 10)
        events = [subscription.next_sync(0.1) for _ in range(5)]
    assert [e.data["progress"] for e in events if e] == [0.25, 0.3, 0.35, 0.4, 0.45]
    state = queue.state(job.id)
    assert state is not None and (state.progress_stage, state.progress) == ("preparing", 0.05)
    assert reporter.flush_if_due()  # still inside the 0.5 s window: keeps waiting
    clock.now += 0.5
    assert not reporter.flush_if_due()  # written now
    state = queue.state(job.id)
    assert state is not None and (state.progress_stage, state.progress) == ("transcribing", 0.45)
    assert [line.message for line in logs.list_for(job.id)] == ["transcribing [path]"]
    clock.now += 1
    report(0.2)  # going backwards within a stage is ignored
    assert reporter.progress == 0.45


def test_sanitise_and_public_error() -> None:
    from scriberr.engine.base import EngineError

    assert sanitize("open /var/lib/x.wav failed\nnative trace") == "open [path] failed"
    assert sanitize("Authorization: Bearer abc.def") == "Authorization=[redacted] [redacted]"
    assert sanitize("token=hf_abcdefghijkl bad") == "token=[redacted] bad"
    assert sanitize("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig") == "jwt [redacted]"
    assert public_error(EngineError("model C:\\models\\x.bin missing")) == "model [path] missing"
    assert public_error(RuntimeError("/etc/passwd")) == "internal engine error"
    assert len(sanitize("x" * 1000)) <= 300


def test_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    try:
        log_event(
            logging.getLogger("scriberr.queue"),
            "job.claimed",
            transcription_id="tr_1",
            lease_s=600.0,
        )
        logging.getLogger("scriberr.queue").debug("hidden")
    finally:
        configure_logging("warning", "text")
    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["event"] == "job.claimed" and record["level"] == "info"
    assert record["transcription_id"] == "tr_1" and record["lease_s"] == 600.0
    assert record["logger"] == "scriberr.queue" and record["ts"].startswith("20")
