"""`Orchestrator.run(handle)`: one attempt of one claimed job, start to end state.

Stages (SPEC §3, `jobs.STAGE_PROGRESS`): preparing → transcribing → diarizing (when asked) →
merging → saving → completed. The attempt has its own execution row. The transcript
is written (atomically) to a file of this attempt's own next to the canonical one before the
database completion, and renamed over the canonical `transcript.json` only once the completion
is stored; if the completion is rejected (a stale attempt: the job was taken over) or fails, only
the attempt's own file is removed, so a stale attempt never overwrites or deletes the transcript
of the attempt that replaced it. The attempt's own scratch folder
(`jobs/<id>/<execution id>/`) is removed at the end whatever happened; other attempts' folders
are never touched.

End states: `completed`; `failed` (sanitised error on job and execution); `canceled` (a user
canceled: the worker service already stored it); `requeued` (interrupted by shutdown, or cut off
from the database and still the owner once it answers again: back to `queued`, stage
`recovered`); `lost` (this worker no longer owns the row; nothing is written).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from scriberr.clock import utcnow
from scriberr.engine.base import (
    DiarizationOptions,
    EngineError,
    JobCanceled,
    ModelUnavailableError,
    Segment,
    SpeakerTurn,
    SpeechProvider,
    TranscriptionOptions,
)
from scriberr.events.broker import EventBroker
from scriberr.jobs import (
    STAGE_PROGRESS,
    AttemptOutcome,
    EventType,
    JobOptions,
    JobStatus,
    Stage,
    job_event,
    segment_event_data,
)
from scriberr.layout import DataLayout
from scriberr.logging_setup import log_event
from scriberr.orchestrator.audio_source import AudioSource, AudioUnavailable
from scriberr.orchestrator.files import (
    make_attempt_dir,
    remove_attempt_dir,
    remove_transcript,
    write_atomic,
)
from scriberr.orchestrator.handle import InterruptReason, JobHandle
from scriberr.orchestrator.progress import ProgressFlusher, ProgressReporter
from scriberr.orchestrator.sanitize import public_error, sanitize
from scriberr.persistence.job_log_repository import JobLogRepository, LogLine
from scriberr.persistence.queue_repository import (
    Attempt,
    AttemptInfo,
    ClaimedJob,
    QueueRepository,
)
from scriberr.persistence.segment_repository import SegmentRepository
from scriberr.transcript import build_transcript, partial_segment

Outcome = AttemptOutcome


@dataclass(frozen=True)
class Completion:
    """A finished pipeline whose transcript file is written and whose database completion is
    still to be stored (`QueueRepository.complete_and_claim` arguments)."""

    attempt: Attempt | None
    transcript_json: str
    language: str | None
    output_path: str  # relative to the data dir
    log_lines: tuple[LogLine, ...]
    seconds: float
    _path: Path = field(repr=False)  # the canonical transcript file
    _staged: Path = field(repr=False)  # this attempt's copy, renamed to `_path` once stored
    _lines: tuple[LogLine, ...] = field(repr=False)
    _reporter: ProgressReporter = field(repr=False)
    _job_id: str = field(repr=False)


@dataclass(frozen=True)
class AttemptResult:
    """How an attempt ended; `completion` is set for a finished pipeline not yet stored."""

    outcome: AttemptOutcome
    completion: Completion | None = None
    # Set when this process could neither read nor fetch the job's audio: the job was put back,
    # and this (one line, no key or path) is why the process should stop claiming for a while.
    unavailable: str | None = None


SHUTDOWN_NOTE = "interrupted by shutdown"
CUT_OFF_NOTE = "interrupted: this worker lost contact with the database"
AUDIO_UNAVAILABLE_NOTE = "this worker could neither read nor fetch the audio"
# How long a completed job's partial segments stay readable (a stream in another process polls
# once a second, and must still find the last segments when it sees the job completed).
SEGMENT_GRACE_S = 30.0

_log = logging.getLogger("scriberr.orchestrator")


class ProviderLookup(Protocol):
    """The part of `engine.registry.ProviderRegistry` the orchestrator needs."""

    def provider_for(self, model_id: str) -> SpeechProvider: ...


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
        layout: DataLayout,
        defaults: JobOptions,
        progress_interval_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        segments: SegmentRepository | None = None,
        segment_grace_s: float = SEGMENT_GRACE_S,
        audio: AudioSource | None = None,
    ) -> None:
        self._repository = repository
        self._job_logs = job_logs
        self._providers = providers
        self._broker = broker
        self._layout = layout
        self._defaults = defaults
        self._progress_interval_s = progress_interval_s
        self._clock = clock
        self._segments = segments
        self._segment_grace_s = segment_grace_s
        self._audio = audio or AudioSource(layout)
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

    def run(self, handle: JobHandle) -> AttemptResult:
        """Run the attempt. A finished pipeline comes back with its `completion` for the caller
        to store (`QueueRepository.complete_and_claim`) and `settle`; every other outcome has
        been stored already."""
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
            return AttemptResult(_lost(job))
        reporter.attempt = attempt
        reporter.log(f"attempt started (model {options.model})")
        reporter.publish_current()
        scratch = self._layout.attempt_dir(job.id, attempt.id)
        started = self._clock()
        self._clear_segments(job.id)  # left over from an attempt that died
        self._sweep_segments()
        result = AttemptResult(Outcome.LOST)
        try:
            if provider is None:
                raise lookup_error or EngineError("no engine serves this model")
            make_attempt_dir(scratch)
            transcript = self._pipeline(handle, provider, options, reporter, scratch)
            result = self._finish(handle, reporter, transcript, started)
            return result
        except AudioUnavailable as error:
            if handle.reason is not None:
                return AttemptResult(self._interrupted(handle, reporter))
            return self._put_back(handle, reporter, error.reason)
        except (JobCanceled, _Stopped) as error:
            if handle.reason is None:
                return AttemptResult(self._fail(handle, reporter, error))
            return AttemptResult(self._interrupted(handle, reporter))
        except Exception as error:
            if handle.reason is not None:
                return AttemptResult(self._interrupted(handle, reporter))
            return AttemptResult(self._fail(handle, reporter, error))
        finally:
            reporter.close()
            remove_attempt_dir(scratch)
            if result.completion is None:  # a completion keeps them until it is stored
                self._clear_segments(job.id)

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
        source = self._audio.locate(handle.job, scratch, cancel)
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
            self._segment_publisher(handle, reporter),
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
    ) -> AttemptResult:
        """Write the transcript file (atomically) and hand the completion to the caller, which
        stores it with `complete_and_claim` and then calls `settle`."""
        job = handle.job
        path = self._layout.transcript_file(job.id)
        staged = path.with_name(f".transcript-{reporter.attempt.id if reporter.attempt else ''}")
        content = json.dumps(transcript, ensure_ascii=False)
        write_atomic(staged, content)
        reporter.close()
        seconds = round(self._clock() - started, 3)
        lines = tuple(reporter.take_lines())
        completion = Completion(
            attempt=reporter.attempt,
            transcript_json=content,
            language=transcript.get("language"),
            output_path=self._layout.relative(path),
            log_lines=(*lines, LogLine(f"completed in {seconds:.1f} s")),
            seconds=seconds,
            _path=path,
            _staged=staged,
            _lines=lines,
            _reporter=reporter,
            _job_id=job.id,
        )
        return AttemptResult(Outcome.COMPLETED, completion)

    def settle(self, handle: JobHandle, result: AttemptResult, committed: bool) -> Outcome:
        """After the caller tried to store a completion: announce it, or — when the row was no
        longer this worker's (`committed` False) — remove the transcript file again and end the
        attempt as interrupted, so file and database never disagree."""
        completion = result.completion
        if completion is None:
            return result.outcome
        job, reporter = handle.job, completion._reporter
        if not committed:
            remove_transcript(completion._staged)
            self._store_lines(job, reporter, list(completion._lines))
            return self._interrupted(handle, reporter)
        os.replace(completion._staged, completion._path)
        done = STAGE_PROGRESS[Stage.COMPLETED].start
        self._publish(job, JobStatus.COMPLETED, done, Stage.COMPLETED)
        log_event(
            _log,
            "job.completed",
            transcription_id=job.id,
            user_id=job.user_id,
            worker_id=job.worker_id,
            execution_id=completion.attempt.id if completion.attempt else None,
            seconds=completion.seconds,
        )
        return Outcome.COMPLETED

    def abandon(self, result: AttemptResult) -> None:
        """Storing the completion failed outright: remove the transcript file again."""
        if result.completion is not None:
            remove_transcript(result.completion._staged)
            self._clear_segments(result.completion._job_id)

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

    def _put_back(
        self, handle: JobHandle, reporter: ProgressReporter, reason: str
    ) -> AttemptResult:
        """This process cannot get the audio: the job goes back to `queued` (not failed), its
        execution ends `canceled` with a note saying why, and the caller learns `unavailable`."""
        job = handle.job
        reporter.close()
        lines = [
            *reporter.take_lines(),
            LogLine(f"{AUDIO_UNAVAILABLE_NOTE}; the job is queued again", "warning"),
        ]
        if not self._repository.release(job, reporter.attempt, AUDIO_UNAVAILABLE_NOTE, lines):
            return AttemptResult(_lost(job), unavailable=reason)
        self._announce_requeued(job, "audio_unavailable")
        return AttemptResult(Outcome.REQUEUED, unavailable=reason)

    def _interrupted(self, handle: JobHandle, reporter: ProgressReporter) -> Outcome:
        job = handle.job
        # the engine has returned: said before any database call (which may hang when cut off)
        log_event(_log, "job.interrupted", transcription_id=job.id, reason=handle.reason)
        reporter.close()
        if handle.reason in (InterruptReason.SHUTDOWN, InterruptReason.CUT_OFF):
            note = SHUTDOWN_NOTE if handle.reason == InterruptReason.SHUTDOWN else CUT_OFF_NOTE
            lines = [*reporter.take_lines(), LogLine(f"{note}; the job is queued again")]
            try:  # a compare-and-set: a no-op once another worker recovered the job
                released = self._repository.release(job, reporter.attempt, note, lines)
            except Exception:
                if handle.reason == InterruptReason.SHUTDOWN:
                    raise
                released = False  # still unreachable: recovery elsewhere requeues it
            if released:
                self._announce_requeued(job, str(handle.reason))
                return Outcome.REQUEUED
            return _lost(job, reason=handle.reason)
        self._store_lines(job, reporter, reporter.take_lines())
        if handle.reason == InterruptReason.CANCELED:
            log_event(_log, "job.stopped", transcription_id=job.id, reason="canceled")
            return Outcome.CANCELED
        return _lost(job)

    # -- helpers ----------------------------------------------------------------------------------

    def _announce_requeued(self, job: ClaimedJob, reason: str) -> None:
        """The attempt handed its job back to the queue (stage `recovered`): say so."""
        recovered = STAGE_PROGRESS[Stage.RECOVERED].start
        self._publish(job, JobStatus.QUEUED, recovered, Stage.RECOVERED)
        log_event(
            _log, "job.requeued", transcription_id=job.id, worker_id=job.worker_id, reason=reason
        )

    def _provider(self, model: str) -> tuple[SpeechProvider | None, EngineError | None]:
        try:
            return self._providers.provider_for(model), None
        except KeyError:
            return None, ModelUnavailableError(f"unknown model {sanitize(model)!r}")

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

    def _segment_publisher(
        self, handle: JobHandle, reporter: ProgressReporter
    ) -> Callable[[int, Segment], None]:
        """Stores each partial segment (so streams in any process can replay it), then
        publishes it as a `transcription.segment` event."""
        job = handle.job
        execution_id = reporter.attempt.id if reporter.attempt else ""

        def publish(index: int, segment: Segment) -> None:
            data = partial_segment(index, segment)
            # This runs on the engine's thread: once the database is known unreachable (or the
            # job interrupted), skip the write rather than hold the engine up (`fence`).
            if (
                self._segments is not None
                and handle.reason is None
                and self._repository.database.reachable
            ):
                try:
                    self._segments.append(job.id, execution_id, index, data)
                except Exception:
                    _log.warning("partial segment write failed for %s", job.id, exc_info=True)
            self._broker.publish(
                EventType.TRANSCRIPTION_SEGMENT,
                job.user_id,
                segment_event_data(job.id, index, data),
                transcription_id=job.id,
            )

        return publish

    def _sweep_segments(self) -> None:
        """Completed jobs keep their partial segments for `segment_grace_s` (streams in other
        processes poll for the last ones); then the transcript is the only source of truth."""
        if self._segments is None:
            return
        try:
            self._segments.clear_finished(utcnow() - timedelta(seconds=self._segment_grace_s))
        except Exception:
            _log.warning("sweeping partial segments failed", exc_info=True)

    def _clear_segments(self, job_id: str) -> None:
        if self._segments is None:
            return
        try:
            self._segments.clear(job_id)
        except Exception:
            _log.warning("clearing partial segments failed for %s", job_id, exc_info=True)

    def _store_lines(
        self, job: ClaimedJob, reporter: ProgressReporter, lines: list[LogLine]
    ) -> None:
        """Best effort: keep the public log of an attempt that lost its row."""
        try:
            self._job_logs.append_many(
                job.id,
                lines,
                execution_id=reporter.attempt.id if reporter.attempt else None,
                worker_id=job.worker_id,
            )
        except Exception:
            _log.warning("job log write failed for %s", job.id, exc_info=True)


def _lost(job: ClaimedJob, reason: InterruptReason | None = None) -> Outcome:
    """Say (warning) that this worker no longer owns the job's row, and why when known."""
    known = {} if reason is None else {"reason": reason}
    log_event(
        _log,
        "job.lost",
        level=logging.WARNING,
        transcription_id=job.id,
        worker_id=job.worker_id,
        **known,
    )
    return Outcome.LOST
