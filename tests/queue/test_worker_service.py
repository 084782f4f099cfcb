"""The worker service with the orchestrator and the fake engine, in one process."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scriberr.bootstrap import Core
from scriberr.engine.base import CancelToken, PreparedAudio
from scriberr.engine.fake import FakeProvider, FakeScript, fake_registry
from scriberr.events.broker import Event
from scriberr.queue.service import WorkerService, WorkerSettings
from tests.queue.helpers import config_for, enqueue, seed_file, seed_user, wait_for
from tests.support.cores import test_core


@pytest.fixture
def core(data_dir: Path) -> Iterator[Core]:
    core = test_core(config_for(data_dir, TRANSCRIPTION_WORKERS="2"), providers=fake_registry())
    yield core
    core.close(timeout=5)


def _status(core: Core, job_id: str) -> str:
    state = core.queue.state(job_id)
    assert state is not None
    return state.status


def _drain(subscription: Any) -> list[Event]:
    events = []
    while (event := subscription.next_sync(0.01)) is not None:
        events.append(event)
    return events


def _wait_status(core: Core, job_id: str, status: str, timeout: float = 20) -> None:
    wait_for(lambda: _status(core, job_id) == status, timeout)


def test_a_job_runs_through_every_stage_to_completed(core: Core, data_dir: Path) -> None:
    user = seed_user(core.database)
    file_id = seed_file(
        core.database, data_dir, user, {"text": "Hi there. Bye now.", "segments": False}
    )
    job_id = enqueue(core.queue, user, file_id, diarization=True, language="en")
    with core.broker.subscribe(transcription_id=job_id) as subscription:
        core.start()
        core.workers.notify()
        _wait_status(core, job_id, "completed")
        core.workers.wait_idle(5)
        events = _drain(subscription)
    stages = [e.data["stage"] for e in events if e.type == "transcription.progress"]
    assert stages[0] == "preparing"
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == [
        "preparing",
        "transcribing",
        "diarizing",
        "merging",
        "saving",
    ]
    progress = [e.data["progress"] for e in events if e.type == "transcription.progress"]
    assert progress == sorted(progress) and 0.2 <= progress[2] <= 0.7
    assert events[-1].type == "transcription.completed"
    assert events[-1].data == {
        "id": job_id,
        "status": "completed",
        "progress": 1.0,
        "stage": "completed",
    }
    stored = json.loads((data_dir / "transcripts" / job_id / "transcript.json").read_text())
    assert stored["language"] == "en"
    # segments were built from the words (split at speaker changes and sentence ends)
    assert " ".join(s["text"] for s in stored["segments"]) == "Hi there. Bye now."
    assert all(s["speaker"].startswith("SPEAKER_") for s in stored["segments"])
    assert {w["speaker"] for w in stored["words"]} == {"SPEAKER_00", "SPEAKER_01"}
    assert stored["engine"] == {
        "provider": "fake",
        "transcription_model": "fake-model",
        "diarization_model": "fake-diarization",
    }
    [execution] = core.queue.list_executions(job_id, user)
    assert (execution.status, execution.provider, execution.model) == (
        "completed",
        "fake",
        "fake-model",
    )
    assert not (data_dir / "jobs" / job_id).exists()  # scratch removed
    assert core.workers.stats(user) == {
        "queued": 0,
        "processing": 0,
        "completed": 1,
        "failed": 0,
        "canceled": 0,
        "running": 0,
    }


@pytest.mark.parametrize(
    ("fail", "message", "expected"),
    [
        (
            "engine",
            "cannot read /home/alice/private/talk.wav with key sk_live_0123456789abcdef",
            "cannot read [path] with key [redacted]",
        ),
        (
            "crash",
            "Traceback: open('/srv/data/uploads/x.wav') Bearer abc.def.ghi",
            "internal engine error",
        ),
    ],
)
def test_a_failing_provider_fails_job_and_execution_with_a_sanitised_error(
    core: Core, data_dir: Path, fail: str, message: str, expected: str
) -> None:
    user = seed_user(core.database)
    file_id = seed_file(core.database, data_dir, user, {"fail": fail, "message": message})
    job_id = enqueue(core.queue, user, file_id)
    core.start()
    core.workers.notify()
    _wait_status(core, job_id, "failed")
    state = core.queue.state(job_id)
    [execution] = core.queue.list_executions(job_id, user)
    assert state is not None and state.error == expected
    assert execution.status == "failed" and execution.error == expected
    assert execution.failed_at is not None
    public = " ".join(line.message for line in core.job_logs.list_for(job_id))
    for secret in ("/home", "alice", "sk_live", "/srv", "Bearer abc"):
        assert secret not in public and secret not in (state.error or "")
    assert not (data_dir / "transcripts" / job_id).exists()


def test_unknown_model_and_missing_file_fail_cleanly(core: Core, data_dir: Path) -> None:
    user = seed_user(core.database)
    unknown = enqueue(core.queue, user, seed_file(core.database, data_dir, user), model="nope")
    no_file = enqueue(core.queue, user, None)
    core.start()
    core.workers.notify()
    _wait_status(core, unknown, "failed")
    _wait_status(core, no_file, "failed")
    assert core.queue.state(unknown).error == "unknown model 'nope'"  # type: ignore[union-attr]
    assert core.queue.state(no_file).error == "the job has no audio file"  # type: ignore[union-attr]


def test_cancel_queued_job_at_once_and_terminal_or_foreign_jobs_are_refused(core: Core) -> None:
    user, other = seed_user(core.database), seed_user(core.database)
    job_id = enqueue(core.queue, user, None)
    with core.broker.subscribe(user_id=user) as subscription:
        assert core.workers.cancel(job_id, user).outcome == "canceled"
        [event] = _drain(subscription)
    assert event.type == "transcription.canceled" and event.data["status"] == "canceled"
    assert _status(core, job_id) == "canceled"
    refused = core.workers.cancel(job_id, user)
    assert (refused.outcome, refused.previous_status) == ("terminal", "canceled")
    assert core.workers.cancel(job_id, other).outcome == "not_found"
    assert core.workers.cancel("tr_unknown", user).outcome == "not_found"


def test_cancel_of_a_running_job_stops_it_within_two_seconds(core: Core, data_dir: Path) -> None:
    user = seed_user(core.database)
    file_id = seed_file(core.database, data_dir, user, {"delay_s": 60, "steps": 600})
    job_id = enqueue(core.queue, user, file_id)
    core.start()
    core.workers.notify()
    # while it runs, the row and the public log follow it (throttled writes, ≤ 0.5 s behind)
    wait_for(
        lambda: (
            job_id in core.workers.running_ids()
            and core.queue.state(job_id).progress_stage == "transcribing"  # type: ignore[union-attr]
            and "transcribing" in [line.message for line in core.job_logs.list_for(job_id)]
        )
    )
    started = time.monotonic()
    core.workers.cancel(job_id, user)
    wait_for(lambda: job_id not in core.workers.running_ids(), timeout=2.0)
    assert time.monotonic() - started < 2.0
    state = core.queue.state(job_id)
    assert state is not None and (state.status, state.claimed_by) == ("canceled", None)
    assert [e.status for e in core.queue.list_executions(job_id, user)] == ["canceled"]
    assert not (data_dir / "jobs" / job_id).exists()
    assert core.workers.cancel(job_id, user).outcome == "terminal"


def test_cancel_of_a_job_processing_elsewhere_clears_the_claim(core: Core) -> None:
    user = seed_user(core.database)
    job_id = enqueue(core.queue, user, None)
    claimed = core.queue.claim("another-process/0", 600)  # not running in this process
    assert claimed is not None and claimed.id == job_id
    core.workers.cancel(job_id, user)
    state = core.queue.state(job_id)
    assert state is not None and (state.status, state.claimed_by, state.claim_expires_at) == (
        "canceled",
        None,
        None,
    )
    assert not core.queue.renew(job_id, "another-process/0", 600)


def test_startup_recovers_orphans_before_claiming(core: Core, data_dir: Path) -> None:
    user = seed_user(core.database)
    job_id = enqueue(core.queue, user, seed_file(core.database, data_dir, user))
    orphan = core.queue.claim("worker_dead/0", 600)  # owner never registered: gone
    assert orphan is not None
    core.queue.start_execution(orphan, provider="fake", model="fake-model", request_options={})
    core.start()
    _wait_status(core, job_id, "completed")
    executions = core.queue.list_executions(job_id, user)
    assert [e.status for e in executions] == ["failed", "completed"]
    assert "requeued" in (executions[0].error or "")
    assert any("queued again" in line.message for line in core.job_logs.list_for(job_id))


class _StubbornProvider(FakeProvider):
    """Ignores cancellation for a while (an engine stuck in native code)."""

    def transcribe(
        self,
        audio: PreparedAudio,
        options: Any,
        progress: Any,
        cancel: CancelToken,
        on_segment: Any = None,
    ) -> Any:
        time.sleep(3)
        return super().transcribe(audio, options, progress, cancel, on_segment)


@pytest.mark.parametrize("stubborn", [False, True])
def test_stop_requeues_running_jobs_within_its_timeout(data_dir: Path, stubborn: bool) -> None:
    provider = (
        _StubbornProvider(FakeScript(delay_s=60, steps=600))
        if stubborn
        else FakeProvider(FakeScript(delay_s=60, steps=600))
    )
    core = test_core(config_for(data_dir), providers=fake_registry(provider))
    user = seed_user(core.database)
    job_id = enqueue(core.queue, user, seed_file(core.database, data_dir, user))
    core.start()
    core.workers.notify()
    wait_for(lambda: job_id in core.workers.running_ids())
    started = time.monotonic()
    core.workers.stop(timeout=1.0)
    assert time.monotonic() - started < 2.0
    assert not core.workers.accepting
    state = core.queue.state(job_id)
    assert state is not None
    assert (state.status, state.progress_stage, state.progress, state.claimed_by) == (
        "queued",
        "recovered",
        0.0,
        None,
    )
    [execution] = core.queue.list_executions(job_id, user)
    assert (execution.status, execution.error) == ("canceled", "interrupted by shutdown")
    core.close(timeout=0)


def _events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, Any]]:
    return [
        r.fields  # type: ignore[attr-defined]
        for r in caplog.records
        if getattr(r, "fields", {}).get("event") == name
    ]


def _service(core: Core, **settings: Any) -> WorkerService:
    return WorkerService(
        repository=core.queue,
        orchestrator=core.orchestrator,
        job_logs=core.job_logs,
        broker=core.broker,
        settings=WorkerSettings(workers=1, poll_interval_s=0.05, **settings),
    )


def test_a_worker_that_cannot_renew_its_lease_stops_the_engine_before_it_runs_out(
    core: Core, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The worker never renews (heartbeat far in the future): its watchdog stops the engine at
    three quarters of the 1 s lease, before anyone may take the job over, and hands the job
    back (the quick second attempt then completes it). Nobody had to recover it."""
    caplog.set_level(logging.INFO, logger="scriberr.queue")
    user = seed_user(core.database)
    file_id = seed_file(core.database, data_dir, user, {"first_attempt_delay_s": 3, "steps": 30})
    job_id = enqueue(core.queue, user, file_id)
    stale = _service(core, lease_s=1.0, heartbeat_interval_s=3600)
    stale.start()
    stale.notify()
    try:
        wait_for(lambda: _events(caplog, "job.cut_off"), timeout=5)
        [cut_off] = _events(caplog, "job.cut_off")
        assert cut_off["transcription_id"] == job_id
        assert 0.75 <= cut_off["since_lease_renewal_s"] < 1.0
        _wait_status(core, job_id, "completed")
        executions = core.queue.list_executions(job_id, user)
        assert [(e.status, e.error) for e in executions] == [
            ("canceled", "interrupted: this worker lost contact with the database"),
            ("completed", None),
        ]
        assert executions[0].canceled_at is not None
        assert _events(caplog, "job.recovered") == []
    finally:
        stale.stop(1)


def test_the_watchdog_stops_jobs_while_every_database_call_hangs(
    core: Core, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A partition makes database calls hang: the heartbeat thread is stuck, but the watchdog
    (memory and the monotonic clock only) still stops the engine at three quarters of the
    worker timeout — before the process counts as dead — and hands the job back."""
    caplog.set_level(logging.INFO, logger="scriberr.queue")
    user = seed_user(core.database)
    file_id = seed_file(core.database, data_dir, user, {"delay_s": 60, "steps": 600})
    job_id = enqueue(core.queue, user, file_id)
    worker = _service(core, lease_s=600, worker_timeout_s=2.0, heartbeat_interval_s=0.1)
    link = threading.Event()
    beats: list[float] = []
    real_heartbeat, real_renew = worker._registry.heartbeat, core.queue.renew

    def heartbeat(*args: Any, **kwargs: Any) -> Any:
        link.wait()
        result = real_heartbeat(*args, **kwargs)
        beats.append(time.monotonic())
        return result

    def renew(*args: Any, **kwargs: Any) -> bool:
        link.wait()
        return real_renew(*args, **kwargs)

    link.set()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(worker._registry, "heartbeat", heartbeat)
        patch.setattr(core.queue, "renew", renew)
        worker.start()
        worker.notify()
        try:
            wait_for(lambda: job_id in worker.running_ids() and len(beats) >= 2)
            link.clear()  # the link is cut: the next heartbeat hangs
            wait_for(lambda: _events(caplog, "job.cut_off"), timeout=5)
            stopped = time.monotonic()
            since_last_beat = stopped - beats[-1]
            assert since_last_beat < 2.0  # before the worker timeout: nobody may recover yet
            [cut_off] = _events(caplog, "job.cut_off")
            assert 1.5 <= cut_off["since_heartbeat_s"] < 2.0
            # the engine stopped and the job went back to the queue (then this worker, whose
            # claims still work here, took it again: a new attempt)
            first = lambda: core.queue.list_executions(job_id, user)[0]  # noqa: E731
            wait_for(lambda: first().status == "canceled", timeout=2)
            assert first().error == "interrupted: this worker lost contact with the database"
        finally:
            link.set()
            worker.stop(1)
