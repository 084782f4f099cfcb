"""`Orchestrator.run(handle)`: one attempt of one claimed job, start to end state.

Stages (SPEC §3, `jobs.STAGE_PROGRESS`): preparing → transcribing → diarizing (when asked) →
merging → saving → completed. The attempt has its own execution row. The transcript
file is written atomically before the database completion; if the completion is rejected or
fails, the file is removed again, so the two never disagree. The job's scratch dir is removed at
the end whatever happened.

End states: `completed`; `failed` (sanitised error on job and execution); `canceled` (a user
canceled: the worker service already stored it); `requeued` (interrupted by shutdown: back to
`queued`, stage `recovered`); `lost` (this worker no longer owns the row; nothing is written).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from scriberr.engine.base import (
    DiarizationOptions,
    EngineError,
    JobCanceled,
    ModelUnavailableError,
    SpeakerTurn,
    SpeechProvider,
    TranscriptionOptions,
)
from scriberr.events.broker import EventBroker
from scriberr.jobs import (
    STAGE_PROGRESS,
    AttemptOutcome,
    JobOptions,
    JobStatus,
    Stage,
    job_event,
)
from scriberr.logging_setup import log_event
from scriberr.orchestrator.files import remove_transcript, remove_tree, write_atomic
from scriberr.orchestrator.handle import InterruptReason, JobHandle
from scriberr.orchestrator.progress import ProgressFlusher, ProgressReporter
from scriberr.orchestrator.sanitize import public_error, sanitize
from scriberr.persistence.job_log_repository import JobLogRepository, LogLine
from scriberr.persistence.queue_repository import AttemptInfo, ClaimedJob, QueueRepository
from scriberr.transcript import build_transcript

Outcome = AttemptOutcome
SHUTDOWN_NOTE = "interrupted by shutdown"

_log = logging.getLogger("scriberr.orchestrator")


class ProviderLookup(Protocol):
    """The part of `engine.registry.ProviderRegistry` the orchestrator needs."""

    def provider_for(self, model_id: str) -> SpeechProvider: ...


@dataclass(frozen=True)
class OrchestratorPaths:
    data_dir: Path
    jobs_dir: Path
    transcripts_dir: Path


class _Stopped(Exception):
    """The handle was interrupted: leave the pipeline without touching the job as failed."""


class Orchestrator:
    def __init__(
        self,
        *,
        repository: QueueRepository,
        job_logs: JobLogRepository,
        providers: ProviderLookup,
        broker: EventBroker,
        paths: OrchestratorPaths,
        defaults: JobOptions,
        progress_interval_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._repository = repository
        self._job_logs = job_logs
        self._providers = providers
        self._broker = broker
        self._paths = paths
        self._defaults = defaults
        self._progress_interval_s = progress_interval_s
        self._clock = clock
        self._provider_names: dict[str, str | None] = {}
        self._flusher = ProgressFlusher()

    def describe(self, options: dict[str, Any]) -> AttemptInfo:
        """What the execution row of an attempt with these options records (pure, fast: the
        queue calls it inside the claim transaction)."""
        model = JobOptions.from_stored(options, self._defaults).model
        if model not in self._provider_names:  # the registry's model list is fixed per process
            provider, _ = self._provider(model)
            self._provider_names[model] = provider.name if provider is not None else None
        return AttemptInfo(provider=self._provider_names[model], model=model or None)

    def close(self) -> None:
        """Stop the background progress writer."""
        self._flusher.close()

    def run(self, handle: JobHandle) -> Outcome:
        job = handle.job
        options = JobOptions.from_stored(job.options, self._defaults)
        provider, lookup_error = self._provider(options.model)
        reporter = ProgressReporter(
            handle,
            self._repository,
            self._job_logs,
            self._broker,
            flusher=self._flusher,
            min_interval_s=self._progress_interval_s,
        )
        attempt = job.attempt
        if attempt is None:
            info = self.describe(job.options)
            attempt = self._repository.start_execution(
                job,
                provider=info.provider,
                model=info.model,
                request_options=job.options,
            )
        if attempt is None:
            log_event(_log, "job.lost", transcription_id=job.id, worker_id=job.worker_id)
            return Outcome.LOST
        reporter.attempt = attempt
        reporter.log(f"attempt started (model {options.model})")
        reporter.publish_current()
        scratch = self._paths.jobs_dir / job.id
        started = self._clock()
        try:
            if provider is None:
                raise lookup_error or EngineError("no engine serves this model")
            transcript = self._pipeline(handle, provider, options, reporter, scratch)
            return self._finish(handle, reporter, transcript, started)
        except (JobCanceled, _Stopped) as error:
            if handle.reason is None:
                return self._fail(handle, reporter, error)
            return self._interrupted(handle, reporter)
        except Exception as error:
            if handle.reason is not None:
                return self._interrupted(handle, reporter)
            return self._fail(handle, reporter, error)
        finally:
            reporter.close()
            remove_tree(scratch)

    # -- the stages ------------------------------------------------------------------------------

    def _pipeline(
        self,
        handle: JobHandle,
        provider: SpeechProvider,
        options: JobOptions,
        reporter: ProgressReporter,
        scratch: Path,
    ) -> dict[str, Any]:
        cancel = handle.cancel
        source = self._source(handle.job)
        reporter.log("preparing audio")
        audio = provider.prepare_audio(source, scratch / "audio.wav", cancel)
        self._checkpoint(handle)
        reporter.enter(Stage.TRANSCRIBING)
        reporter.log("transcribing")
        output = provider.transcribe(
            audio,
            TranscriptionOptions.from_job(options),
            reporter.span(Stage.TRANSCRIBING),
            cancel,
        )
        self._checkpoint(handle)
        turns: tuple[SpeakerTurn, ...] | None = None
        engine_info: dict[str, Any] = {
            "provider": provider.name,
            "transcription_model": output.model or options.model,
        }
        if options.diarization:
            reporter.enter(Stage.DIARIZING)
            reporter.log("identifying speakers")
            try:
                diarization = provider.diarize(
                    audio,
                    DiarizationOptions.from_job(options),
                    reporter.span(Stage.DIARIZING),
                    cancel,
                )
                turns = diarization.turns
                engine_info["diarization_model"] = diarization.model
            except ModelUnavailableError as error:
                reporter.log(f"speaker labels skipped: {error.public_message}", "warning")
            self._checkpoint(handle)
        reporter.enter(Stage.MERGING)
        transcript = build_transcript(output, turns, engine_info)
        self._checkpoint(handle)
        reporter.enter(Stage.SAVING)
        self._checkpoint(handle)
        return transcript

    def _finish(
        self,
        handle: JobHandle,
        reporter: ProgressReporter,
        transcript: dict[str, Any],
        started: float,
    ) -> Outcome:
        job = handle.job
        path = self._paths.transcripts_dir / job.id / "transcript.json"
        content = json.dumps(transcript, ensure_ascii=False)
        write_atomic(path, content)
        reporter.close()
        seconds = round(self._clock() - started, 3)
        lines = reporter.take_lines()
        try:
            completed, handle.next_job = self._repository.complete_and_claim(
                job,
                reporter.attempt,
                transcript_json=content,
                language=transcript.get("language"),
                output_path=str(path),
                log_lines=[*lines, LogLine(f"completed in {seconds:.1f} s")],
                next_claim=None if handle.reason else handle.next_claim,
            )
        except BaseException:
            remove_transcript(path)
            raise
        if not completed:
            remove_transcript(path)
            self._store_lines(job, reporter, lines)
            return self._interrupted(handle, reporter)
        done = STAGE_PROGRESS[Stage.COMPLETED].start
        self._publish(job, JobStatus.COMPLETED, done, Stage.COMPLETED)
        log_event(
            _log,
            "job.completed",
            transcription_id=job.id,
            user_id=job.user_id,
            worker_id=job.worker_id,
            execution_id=reporter.attempt.id if reporter.attempt else None,
            seconds=seconds,
        )
        return Outcome.COMPLETED

    def _fail(self, handle: JobHandle, reporter: ProgressReporter, error: BaseException) -> Outcome:
        job = handle.job
        if isinstance(error, JobCanceled | _Stopped):
            message = "the engine stopped without a result"
        else:
            message = public_error(error)
        log_event(
            _log,
            "job.failed",
            level=logging.ERROR,
            transcription_id=job.id,
            user_id=job.user_id,
            worker_id=job.worker_id,
            error=message,
            detail=repr(error),  # internal log only: may hold paths
        )
        _log.debug("job %s failure traceback", job.id, exc_info=error)
        reporter.close()
        lines = reporter.take_lines()
        failed_line = LogLine(f"failed: {message}", "error")
        if not self._repository.fail(job, reporter.attempt, message, [*lines, failed_line]):
            self._store_lines(job, reporter, lines)
            return self._interrupted(handle, reporter)
        state = self._repository.state(job.id)
        progress = state.progress if state is not None else 0.0
        self._publish(job, JobStatus.FAILED, progress, Stage.FAILED, error=message)
        return Outcome.FAILED

    def _interrupted(self, handle: JobHandle, reporter: ProgressReporter) -> Outcome:
        job = handle.job
        reporter.close()
        if handle.reason == InterruptReason.SHUTDOWN:
            lines = [*reporter.take_lines(), LogLine(f"{SHUTDOWN_NOTE}; the job is queued again")]
            if self._repository.release(job, reporter.attempt, SHUTDOWN_NOTE, lines):
                recovered = STAGE_PROGRESS[Stage.RECOVERED].start
                self._publish(job, JobStatus.QUEUED, recovered, Stage.RECOVERED)
                log_event(_log, "job.requeued", transcription_id=job.id, reason="shutdown")
                return Outcome.REQUEUED
            return Outcome.LOST
        self._store_lines(job, reporter, reporter.take_lines())
        if handle.reason == InterruptReason.CANCELED:
            log_event(_log, "job.stopped", transcription_id=job.id, reason="canceled")
            return Outcome.CANCELED
        log_event(
            _log,
            "job.lost",
            level=logging.WARNING,
            transcription_id=job.id,
            worker_id=job.worker_id,
        )
        return Outcome.LOST

    # -- helpers ----------------------------------------------------------------------------------

    def _provider(self, model: str) -> tuple[SpeechProvider | None, EngineError | None]:
        try:
            return self._providers.provider_for(model), None
        except KeyError:
            return None, ModelUnavailableError(f"unknown model {sanitize(model)!r}")

    def _source(self, job: ClaimedJob) -> Path:
        if not job.source_path:
            raise EngineError("the job has no audio file")
        source = self._paths.data_dir / job.source_path
        if not source.is_file():
            raise EngineError("the audio file of this job is missing")
        return source

    @staticmethod
    def _checkpoint(handle: JobHandle) -> None:
        if handle.reason is not None or handle.cancel.canceled:
            raise _Stopped()

    def _publish(
        self,
        job: ClaimedJob,
        status: JobStatus,
        progress: float,
        stage: Stage,
        *,
        error: str | None = None,
    ) -> None:
        event = job_event(job.id, status, progress, stage, error=error)
        self._broker.publish(event.type, job.user_id, event.data, transcription_id=job.id)

    def _store_lines(
        self, job: ClaimedJob, reporter: ProgressReporter, lines: list[LogLine]
    ) -> None:
        """Best effort: keep the public log of an attempt that lost its row."""
        try:
            self._job_logs.append_many(
                job.id, lines, execution_id=reporter.attempt.id if reporter.attempt else None
            )
        except Exception:
            _log.warning("job log write failed for %s", job.id, exc_info=True)
