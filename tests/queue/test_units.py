"""Fast unit tests of the orchestrator and the worker service: an in-memory fake queue
repository, the fake provider and a recording broker — no database, no threads started."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from scriberr.engine.fake import FakeProvider, FakeScript, fake_registry
from scriberr.jobs import AttemptOutcome, JobOptions, JobStatus, Stage
from scriberr.layout import DataLayout
from scriberr.orchestrator import AttemptResult, InterruptReason, JobHandle, Orchestrator
from scriberr.orchestrator.audio_source import AudioSource, AudioUnavailable
from scriberr.persistence.queue_repository import (
    Attempt,
    AttemptInfo,
    CancelOutcome,
    CancelResult,
    ClaimedJob,
    ClaimRequest,
    RecoveredJob,
)
from scriberr.queue.service import WorkerService, WorkerSettings

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Row:
    status: str = JobStatus.PROCESSING
    owner: str | None = "p/0"
    progress: float = 0.05
    stage: str = Stage.PREPARING
    error: str | None = None
    transcript: str | None = None


@dataclass
class FakeQueue:
    """The queue repository calls the orchestrator and the worker service make, in memory."""

    rows: dict[str, Row] = field(default_factory=dict)
    lines: list[tuple[str, str]] = field(default_factory=list)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    next_jobs: list[ClaimedJob] = field(default_factory=list)
    database: Any = field(default_factory=lambda: SimpleNamespace(reachable=True))
    cancel_result: CancelResult = field(
        default_factory=lambda: CancelResult(CancelOutcome.CANCELED, "processing", "p/0", 0.4)
    )

    def _owned(self, job_id: str, worker: str) -> Row | None:
        row = self.rows.get(job_id)
        ok = row is not None and row.status == JobStatus.PROCESSING and row.owner == worker
        return row if ok else None

    def start_execution(self, job: ClaimedJob, **_: Any) -> Attempt | None:
        return Attempt("exec_1", NOW) if self._owned(job.id, job.worker_id) else None

    def progress(
        self, job_id: str, worker: str, progress: float, stage: str, **kwargs: Any
    ) -> bool:
        row = self._owned(job_id, worker)
        if row is None:
            return False
        row.progress, row.stage = progress, stage
        self.lines += [(job_id, line.message) for line in kwargs.get("log_lines", ())]
        return True

    def fail(self, job: ClaimedJob, _attempt: Any, error: str, lines: Any = ()) -> bool:
        row = self._owned(job.id, job.worker_id)
        if row is None:
            return False
        row.status, row.stage, row.error, row.owner = JobStatus.FAILED, Stage.FAILED, error, None
        self.lines += [(job.id, line.message) for line in lines]
        return True

    def release(self, job: ClaimedJob, _attempt: Any, note: str, lines: Any = ()) -> bool:
        row = self._owned(job.id, job.worker_id)
        if row is None:
            return False
        row.status, row.stage, row.owner = JobStatus.QUEUED, Stage.RECOVERED, None
        self.calls.append(("release", job.id))
        return True

    def state(self, job_id: str) -> Row | None:
        return self.rows.get(job_id)

    def complete_and_claim(
        self, job: ClaimedJob, _attempt: Any, **kwargs: Any
    ) -> tuple[bool, ClaimedJob | None]:
        self.calls.append(("complete_and_claim", kwargs.get("next_claim")))
        row = self._owned(job.id, job.worker_id)
        if row is None:
            return False, None
        row.status, row.stage, row.owner = JobStatus.COMPLETED, Stage.COMPLETED, None
        row.transcript = kwargs["transcript_json"]
        next_job = self.next_jobs.pop(0) if self.next_jobs and kwargs["next_claim"] else None
        return True, next_job

    def cancel(self, job_id: str, user_id: str) -> CancelResult:
        return self.cancel_result

    def recover(self, _is_alive: Any) -> list[RecoveredJob]:
        return [RecoveredJob("tr_lost", "u1", "gone/0", "owner_gone")]

    def mark_stalls(self, _is_alive: Any) -> list[Any]:
        return []


class FakeLogs:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def append(self, job_id: str, message: str, **_: Any) -> None:
        self.lines.append((job_id, message))

    def append_many(self, job_id: str, lines: Any, **_: Any) -> None:
        self.lines += [(job_id, line.message) for line in lines]


class Broker:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def publish(self, type: str, user_id: str, data: dict[str, Any], **_: Any) -> None:
        self.events.append((str(type), data))


def _job(tmp_path: Path, model: str = "fake-model", **script: Any) -> ClaimedJob:
    audio = tmp_path / "uploads" / "f1" / "audio.json"
    audio.parent.mkdir(parents=True, exist_ok=True)
    audio.write_text(json.dumps({"fake": script}))
    options = JobOptions.defaults(model).to_stored()
    return ClaimedJob(
        "tr_1", "u1", "f1", options, "uploads/f1/audio.json", "p/0", NOW + timedelta(minutes=5)
    )


class UnreachableAudio(AudioSource):
    """A source that can neither read nor fetch any job's audio."""

    def locate(self, job: ClaimedJob, scratch: Path, cancel: Any) -> Path:
        raise AudioUnavailable("cannot fetch job audio: the server is down")


def _orchestrator(
    tmp_path: Path, queue: FakeQueue, broker: Broker, audio: AudioSource | None = None
) -> Orchestrator:
    return Orchestrator(
        repository=queue,  # type: ignore[arg-type]
        job_logs=FakeLogs(),  # type: ignore[arg-type]
        providers=fake_registry(FakeProvider(FakeScript(steps=3))),
        broker=broker,  # type: ignore[arg-type]
        layout=DataLayout(tmp_path),
        defaults=JobOptions.defaults("fake-model"),
        progress_interval_s=0.0,
        audio=audio,
    )


def test_the_orchestrator_returns_a_completion_and_settles_it(tmp_path: Path) -> None:
    queue, broker = FakeQueue({"tr_1": Row()}), Broker()
    orchestrator = _orchestrator(tmp_path, queue, broker)
    handle = JobHandle(_job(tmp_path))
    result = orchestrator.run(handle)
    completion = result.completion
    assert result.outcome == AttemptOutcome.COMPLETED and completion is not None
    assert completion.output_path == "transcripts/tr_1/transcript.json"  # relative
    canonical = tmp_path / completion.output_path
    assert not canonical.exists()  # published only once the completion is stored
    assert queue.rows["tr_1"].status == JobStatus.PROCESSING  # nothing stored yet
    assert [line.message for line in completion.log_lines][-1].startswith("completed in")
    segments = [data for kind, data in broker.events if kind == "transcription.segment"]
    assert [data["index"] for data in segments] == [0]  # the fake's one segment, live
    stages = [data["stage"] for kind, data in broker.events if kind != "transcription.segment"]
    assert stages[0] == "preparing" and stages[-2:] == ["merging", "saving"]
    assert "transcribing" in stages and "diarizing" not in stages  # diarization not asked
    assert not (tmp_path / "jobs" / "tr_1").exists()  # scratch removed
    assert orchestrator.settle(handle, result, committed=True) == AttemptOutcome.COMPLETED
    assert json.loads(canonical.read_text())["text"]
    assert [p.name for p in canonical.parent.iterdir()] == ["transcript.json"]
    assert broker.events[-1] == (
        "transcription.completed",
        {"id": "tr_1", "status": "completed", "progress": 1.0, "stage": "completed"},
    )


def test_a_completion_the_worker_could_not_store_removes_its_file(tmp_path: Path) -> None:
    queue, broker = FakeQueue({"tr_1": Row()}), Broker()
    orchestrator = _orchestrator(tmp_path, queue, broker)
    handle = JobHandle(_job(tmp_path))
    result = orchestrator.run(handle)
    assert result.completion is not None
    assert orchestrator.settle(handle, result, committed=False) == AttemptOutcome.LOST
    assert not (tmp_path / result.completion.output_path).exists()
    assert not (tmp_path / "transcripts" / "tr_1").exists()  # its own file, and the empty dir
    assert "transcription.completed" not in [kind for kind, _ in broker.events]


def test_a_stale_completion_never_touches_the_transcript_of_the_attempt_that_replaced_it(
    tmp_path: Path,
) -> None:
    """The job was taken over and completed by another attempt while this one still ran: the
    stale attempt's rejected completion leaves the other attempt's transcript file as it was."""
    queue, broker = FakeQueue({"tr_1": Row()}), Broker()
    orchestrator = _orchestrator(tmp_path, queue, broker)
    handle = JobHandle(_job(tmp_path, text="stale words"))
    result = orchestrator.run(handle)
    assert result.completion is not None
    canonical = tmp_path / result.completion.output_path
    canonical.write_text('{"text": "the live attempt"}')  # what the other attempt published
    assert orchestrator.settle(handle, result, committed=False) == AttemptOutcome.LOST
    assert canonical.read_text() == '{"text": "the live attempt"}'
    assert [p.name for p in canonical.parent.iterdir()] == ["transcript.json"]


def test_an_attempt_removes_only_its_own_scratch_folder(tmp_path: Path) -> None:
    """Scratch is `jobs/<id>/<execution id>/`: an attempt ending next to another attempt of the
    same job (e.g. a stale one on a cut-off host) leaves the other's folder and files alone; the
    job folder goes once the last attempt's folder is gone."""
    other = DataLayout(tmp_path).attempt_dir("tr_1", "exec_other")
    other.mkdir(parents=True)
    (other / "audio.wav").write_text("the other attempt's audio")
    queue, broker = FakeQueue({"tr_1": Row()}), Broker()
    orchestrator = _orchestrator(tmp_path, queue, broker)
    seen: list[bool] = []
    original = FakeProvider.transcribe

    def transcribe(self: FakeProvider, audio: Any, *args: Any) -> Any:
        seen.append(audio.path.parent == DataLayout(tmp_path).attempt_dir("tr_1", "exec_1"))
        return original(self, audio, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FakeProvider, "transcribe", transcribe)
        result = orchestrator.run(JobHandle(_job(tmp_path)))
    assert result.outcome == AttemptOutcome.COMPLETED and seen == [True]
    assert not (tmp_path / "jobs" / "tr_1" / "exec_1").exists()
    assert (other / "audio.wav").read_text() == "the other attempt's audio"
    shutil.rmtree(other)
    orchestrator.run(JobHandle(_job(tmp_path)))
    assert not (tmp_path / "jobs" / "tr_1").exists()


def test_attempt_dirs_are_single_components_inside_the_job_dir(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    assert layout.attempt_dir("tr_1", "exec_1") == tmp_path / "jobs" / "tr_1" / "exec_1"
    assert layout.attempt_dir("tr_1", "exec_1").parent in layout.job_files("tr_1")
    for bad in ("..", "a/b", "", "."):
        with pytest.raises(ValueError):
            layout.attempt_dir("tr_1", bad)


@pytest.mark.parametrize(
    ("model", "script", "error"),
    [
        ("fake-model", {"fail": "engine", "message": "bad audio at /srv/x.wav"}, "bad audio"),
        ("fake-model", {"fail": "crash", "message": "segfault"}, "internal engine error"),
        ("nope", {}, "unknown model 'nope'"),
    ],
)
def test_failures_are_stored_sanitised_and_announced(
    tmp_path: Path, model: str, script: dict[str, Any], error: str
) -> None:
    queue, broker = FakeQueue({"tr_1": Row()}), Broker()
    result = _orchestrator(tmp_path, queue, broker).run(JobHandle(_job(tmp_path, model, **script)))
    assert result == AttemptResult(AttemptOutcome.FAILED)
    stored = queue.rows["tr_1"].error or ""
    assert stored.startswith(error) and "/srv" not in stored
    kind, data = broker.events[-1]
    assert kind == "transcription.failed" and data["error"] == stored


def test_a_shutdown_interrupt_requeues_the_job(tmp_path: Path) -> None:
    queue, broker = FakeQueue({"tr_1": Row()}), Broker()
    handle = JobHandle(_job(tmp_path))
    handle.interrupt(InterruptReason.SHUTDOWN)
    result = _orchestrator(tmp_path, queue, broker).run(handle)
    assert result.outcome == AttemptOutcome.REQUEUED and result.completion is None
    assert queue.rows["tr_1"].status == JobStatus.QUEUED
    assert broker.events[-1][1]["stage"] == "recovered"


def test_a_job_whose_audio_is_unreachable_is_put_back_not_failed(tmp_path: Path) -> None:
    queue, broker = FakeQueue({"tr_1": Row()}), Broker()
    orchestrator = _orchestrator(tmp_path, queue, broker, UnreachableAudio(DataLayout(tmp_path)))
    result = orchestrator.run(JobHandle(_job(tmp_path)))
    assert result.outcome == AttemptOutcome.REQUEUED
    assert result.unavailable == "cannot fetch job audio: the server is down"
    assert queue.rows["tr_1"].status == JobStatus.QUEUED and queue.rows["tr_1"].error is None
    assert broker.events[-1][1]["stage"] == "recovered"


def test_putting_back_a_job_another_worker_took_over_is_lost_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    queue, broker = FakeQueue({"tr_1": Row()}), Broker()
    orchestrator = _orchestrator(tmp_path, queue, broker, UnreachableAudio(DataLayout(tmp_path)))
    queue.release = lambda *_args, **_kwargs: False  # type: ignore[method-assign]
    with caplog.at_level("WARNING", logger="scriberr.orchestrator"):
        result = orchestrator.run(JobHandle(_job(tmp_path)))
    assert result.outcome == AttemptOutcome.LOST and result.unavailable is not None
    assert any("job.lost" in record.getMessage() for record in caplog.records)
    assert not any(data.get("stage") == "recovered" for _kind, data in broker.events)


class FakeRunner:
    """Stands in for the orchestrator in worker-service tests."""

    def __init__(self, result: AttemptResult) -> None:
        self.result = result
        self.settled: list[bool] = []

    def describe(self, options: dict[str, Any]) -> AttemptInfo:
        return AttemptInfo("fake", options.get("model"))

    def run(self, handle: JobHandle) -> AttemptResult:
        return self.result

    def settle(self, handle: JobHandle, result: AttemptResult, committed: bool) -> Any:
        self.settled.append(committed)
        return AttemptOutcome.COMPLETED if committed else AttemptOutcome.LOST

    def abandon(self, result: AttemptResult) -> None:
        self.settled.append(False)


class FakeRegistry:
    def register(self, *args: Any) -> None: ...

    def unregister(self, *args: Any) -> None: ...

    def heartbeat(self, *args: Any, **kwargs: Any) -> int:
        return 0


def _service(queue: FakeQueue, runner: FakeRunner, broker: Broker) -> WorkerService:
    return WorkerService(
        repository=queue,  # type: ignore[arg-type]
        orchestrator=runner,
        job_logs=FakeLogs(),  # type: ignore[arg-type]
        broker=broker,
        settings=WorkerSettings(workers=1),
        process_id="p",
        registry=FakeRegistry(),  # type: ignore[arg-type]
    )


def _completed(tmp_path: Path) -> AttemptResult:
    queue, broker = FakeQueue({"tr_1": Row()}), Broker()
    return _orchestrator(tmp_path, queue, broker).run(JobHandle(_job(tmp_path)))


def test_the_worker_stores_a_completion_and_claims_its_next_job_in_one_call(
    tmp_path: Path,
) -> None:
    following = replace(_job(tmp_path), id="tr_2")
    queue = FakeQueue({"tr_1": Row()}, next_jobs=[following])
    runner, broker = FakeRunner(_completed(tmp_path)), Broker()
    request = ClaimRequest("p/0", 600)
    next_job = _service(queue, runner, broker)._run(JobHandle(_job(tmp_path)), request)
    assert next_job == following
    assert queue.calls == [("complete_and_claim", request)]
    assert queue.rows["tr_1"].status == JobStatus.COMPLETED and runner.settled == [True]


def test_an_interrupted_job_completes_without_claiming_more(tmp_path: Path) -> None:
    queue = FakeQueue({"tr_1": Row()}, next_jobs=[replace(_job(tmp_path), id="tr_2")])
    runner = FakeRunner(_completed(tmp_path))
    handle = JobHandle(_job(tmp_path))
    handle.interrupt(InterruptReason.SHUTDOWN)
    assert _service(queue, runner, Broker())._run(handle, ClaimRequest("p/0", 600)) is None
    assert queue.calls == [("complete_and_claim", None)]


def test_a_lost_row_is_settled_as_not_committed(tmp_path: Path) -> None:
    queue = FakeQueue({"tr_1": Row(owner="someone-else/0")})
    runner = FakeRunner(_completed(tmp_path))
    service = _service(queue, runner, Broker())
    assert service._run(JobHandle(_job(tmp_path)), ClaimRequest("p/0", 1)) is None
    assert runner.settled == [False]


def test_cancel_returns_the_result_and_only_a_cancel_is_announced(tmp_path: Path) -> None:
    queue, broker = FakeQueue(), Broker()
    service = _service(queue, FakeRunner(AttemptResult(AttemptOutcome.FAILED)), broker)
    for outcome in (CancelOutcome.NOT_FOUND, CancelOutcome.TERMINAL):
        queue.cancel_result = CancelResult(outcome, "completed")
        assert service.cancel("tr_1", "u1").outcome == outcome
    assert broker.events == []
    queue.cancel_result = CancelResult(CancelOutcome.CANCELED, "processing", "p/0", 0.4)
    handle = JobHandle(_job(tmp_path))
    service._running["tr_1"] = handle
    assert service.cancel("tr_1", "u1").outcome == CancelOutcome.CANCELED
    assert handle.reason == InterruptReason.CANCELED and handle.cancel.canceled
    assert broker.events == [
        (
            "transcription.canceled",
            {"id": "tr_1", "status": "canceled", "progress": 0.4, "stage": "canceled"},
        )
    ]


def test_recovery_announces_each_requeued_job() -> None:
    queue, broker = FakeQueue(), Broker()
    service = _service(queue, FakeRunner(AttemptResult(AttemptOutcome.FAILED)), broker)
    assert service.recover() == 1
    assert broker.events == [
        (
            "transcription.progress",
            {"id": "tr_lost", "status": "queued", "progress": 0.0, "stage": "recovered"},
        )
    ]
