"""Transcriptions: create (option resolution + enqueue), read, list, rename, cancel, retry, delete,
executions, logs — the use cases behind `/api/v1/transcriptions` (the transcript itself:
`services.transcripts`).

Rules kept here:
- Options resolve request > named profile > the user's default profile > config defaults, and are
  validated against the model catalog before any row is written (`jobs.JobOptions`).
- A create/retry that arrives while the worker service is stopping still writes its `queued` row
  (it runs on the next start) and then raises `ServiceUnavailable` (503).
- Deleting a transcription (or every transcription of a file) cancels a running job first, waits
  for it to stop, then removes the rows and every stored byte (`transcripts/<id>/`, `jobs/<id>/`).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from scriberr.clock import rfc3339
from scriberr.events import EventBroker
from scriberr.jobs import (
    STAGE_PROGRESS,
    EventType,
    FileStatus,
    JobOptions,
    JobStatus,
    ModelCatalog,
    OptionError,
    Stage,
    clean_partial,
    job_event,
)
from scriberr.layout import DataLayout
from scriberr.persistence.job_log_repository import JobLogRepository
from scriberr.persistence.queue_repository import (
    CancelOutcome,
    CancelResult,
    ExecutionRecord,
    NewJob,
    QueueRepository,
)
from scriberr.persistence.segment_repository import SegmentRepository, StoredSegment
from scriberr.persistence.transcription_repository import (
    SORTS,
    ListQuery,
    TranscriptionRepository,
    sort_value,
)
from scriberr.persistence.transcription_repository import (  # returned to the API
    FileRef as FileRef,
)
from scriberr.persistence.transcription_repository import (
    TranscriptionRecord as TranscriptionRecord,
)
from scriberr.public_text import public_text
from scriberr.services.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    ServiceUnavailable,
    Unprocessable,
    option_error,
)
from scriberr.services.files import parse_origin_filter
from scriberr.services.pagination import (
    Cursor,
    Page,
    SortSpec,
    clamp_limit,
    decode_cursor,
    encode_cursor,
    page_from_rows,
    parse_sort,
)
from scriberr.services.profiles import ProfileService
from scriberr.services.titles import clean_title

STATUSES = tuple(status.value for status in JobStatus)
_EXECUTION_ORDER = SortSpec(name="started_at", field="started_at", descending=False)
_STOP_WAIT_S = 15.0
_STOP_POLL_S = 0.05
_SORT_FIELDS = tuple(sort for sort in SORTS if not sort.startswith("-"))


class Workers(Protocol):
    """The part of `queue.service.WorkerService` used here."""

    @property
    def accepting(self) -> bool: ...

    def notify(self) -> None: ...

    def cancel(self, transcription_id: str, user_id: str) -> CancelResult: ...

    def running_ids(self) -> list[str]: ...


class SettingsReader(Protocol):
    def get(self, user_id: str) -> Any: ...


@dataclass(frozen=True)
class CreateRequest:
    file_id: str
    title: str | None = None
    profile_id: str | None = None
    options: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Plan:
    """A validated create: everything needed to write the row except the file (for :submit)."""

    title: str | None
    profile_id: str | None
    options: dict[str, Any]


@dataclass(frozen=True)
class ListParams:
    q: str | None = None
    file_id: str | None = None
    status: Sequence[str] = ()
    updated_after: datetime | None = None
    sort: str | None = None
    cursor: str | None = None
    limit: int | None = None
    origin: str | None = None  # library (default), openai or all


@dataclass(frozen=True)
class Execution:
    id: str
    transcription_id: str
    status: str
    worker_id: str | None  # the worker that ran the attempt (`<process id>/<n>`)
    host: str | None  # the plain host name of its machine
    provider: str | None
    model: str | None
    started_at: datetime | None
    completed_at: datetime | None
    failed_at: datetime | None
    processing_duration_ms: int | None
    error: str | None


class TranscriptionService:
    def __init__(
        self,
        *,
        repository: TranscriptionRepository,
        queue: QueueRepository,
        workers: Workers,
        broker: EventBroker,
        profiles: ProfileService,
        catalog: ModelCatalog,
        defaults: JobOptions,
        data_dir: Path,
        job_logs: JobLogRepository,
        settings: SettingsReader | None = None,
        sleep: Callable[[float], None] = time.sleep,
        segments: SegmentRepository | None = None,
    ) -> None:
        self._repo = repository
        self._queue = queue
        self._workers = workers
        self._broker = broker
        self._profiles = profiles
        self._catalog = catalog
        self._defaults = defaults
        self._layout = DataLayout(data_dir)
        self._settings = settings
        self._job_logs = job_logs
        self._sleep = sleep
        self._segments = segments

    # ----------------------------------------------------------------- create

    def plan(
        self,
        user_id: str,
        *,
        title: str | None,
        profile_id: str | None,
        options: Mapping[str, Any] | None,
        request_prefix: str = "options",
    ) -> Plan:
        """Validate a create before anything is written: profile, options, title."""
        try:  # a malformed request is reported before a missing profile
            request_options = clean_partial(options, prefix=request_prefix)
        except OptionError as error:
            raise option_error(error) from None
        layers: list[Mapping[str, Any]] = []
        default = self._profiles.default_for(user_id)
        if default is not None:
            layers.append(default.options)
        applied = default.id if default is not None else None
        if profile_id is not None:
            profile = self._profiles.find(user_id, profile_id)
            if profile is None:
                raise Unprocessable("profile not found", field="profile_id")
            layers.append(profile.options)
            applied = profile.id
        try:
            resolved = JobOptions.from_request(
                request_options,
                defaults=self._defaults,
                catalog=self._catalog,
                layers=layers,
                prefix=request_prefix,
            )
        except OptionError as error:
            raise option_error(error) from None
        return Plan(title=clean_title(title), profile_id=applied, options=resolved.to_stored())

    def create(self, user_id: str, request: CreateRequest) -> TranscriptionRecord:
        """Validate, write the queued row, announce it and wake a worker.

        Raises `NotFound` for an unknown file, `Unprocessable`/`InvalidRequest` for bad
        options, `ServiceUnavailable` (after writing the row) while the workers are stopping."""
        file = self._require_file(user_id, request.file_id)
        plan = self.plan(
            user_id, title=request.title, profile_id=request.profile_id, options=request.options
        )
        return self.create_planned(user_id, file, plan)

    def create_planned(self, user_id: str, file: FileRef, plan: Plan) -> TranscriptionRecord:
        if file.status == FileStatus.FAILED or not file.storage_path:
            raise Conflict("the file has no usable audio", field="file_id")
        record = self._enqueue(
            user_id,
            file_id=file.id,
            title=plan.title or file.title,
            profile_id=plan.profile_id,
            options=plan.options,
            source_transcription_id=None,
        )
        return self._announce(record)

    def file_for(self, user_id: str, file_id: str) -> FileRef:
        return self._require_file(user_id, file_id)

    def on_file_ready(self, user_id: str, file_id: str) -> None:
        """Auto transcription: start a job with the default profile when the user enabled it."""
        settings = self._settings.get(user_id) if self._settings is not None else None
        if settings is None or not getattr(settings, "auto_transcription_enabled", False):
            return
        file = self._repo.file_ref(user_id, file_id)
        if file is None:
            return
        try:
            plan = self.plan(user_id, title=None, profile_id=None, options=None)
            self.create_planned(user_id, file, plan)
        except ServiceUnavailable:
            pass  # the row stays queued for the next start

    # ------------------------------------------------------------------ reads

    def get(self, user_id: str, transcription_id: str) -> TranscriptionRecord:
        record = self._repo.get(user_id, transcription_id)
        if record is None:
            raise NotFound("transcription not found")
        return record

    def find(self, user_id: str, transcription_id: str) -> TranscriptionRecord | None:
        return self._repo.get(user_id, transcription_id)

    def list_page(self, user_id: str, params: ListParams) -> Page[TranscriptionRecord]:
        limit = clamp_limit(params.limit)
        sort = parse_sort(params.sort, _SORT_FIELDS, "-created_at")
        after = decode_cursor(params.cursor, sort)
        statuses = tuple(params.status)
        for status in statuses:
            if status not in STATUSES:
                raise InvalidRequest(
                    "status must be one of: " + ", ".join(STATUSES), field="status"
                )
        rows = self._repo.list_page(
            ListQuery(
                user_id=user_id,
                q=(params.q or "").replace("\x00", "").strip() or None,  # PostgreSQL refuses NUL
                file_id=(params.file_id or "").strip() or None,
                statuses=statuses,
                updated_after=params.updated_after,
                sort=sort.name,  # type: ignore[arg-type]
                after=(after.value, after.id) if after is not None else None,
                limit=limit,
                origins=parse_origin_filter(params.origin),
            )
        )
        items = rows[:limit]
        next_cursor = None
        if len(rows) > limit and items:
            last = items[-1]
            next_cursor = encode_cursor(
                Cursor(sort=sort.name, value=sort_value(last, sort.name), id=last.id)
            )
        return Page(items=items, next_cursor=next_cursor)

    def changed_since(self, user_id: str, since: datetime) -> list[TranscriptionRecord]:
        """Up to 200 of the user's jobs updated after `since`, oldest change first (used by
        the global event stream to notice jobs run by other processes)."""
        return self._repo.list_page(
            ListQuery(
                user_id=user_id, updated_after=since, sort="updated_at", limit=200, origins=None
            )
        )[:200]

    def partial_segments(self, transcription_id: str, start: int = 0) -> list[StoredSegment]:
        """The running attempt's segments decoded so far, from index `start` (live transcripts;
        the caller has checked the job is the user's)."""
        if self._segments is None:
            return []
        return self._segments.list_from(transcription_id, start)

    def running_here(self) -> list[str]:
        return self._workers.running_ids()

    def public_error(self, error: str | None) -> str | None:
        """Errors are sanitised when stored; this is the last guard against paths leaking."""
        return public_text(error)

    # ---------------------------------------------------------------- updates

    def update(
        self, user_id: str, transcription_id: str, changes: Mapping[str, Any]
    ) -> TranscriptionRecord:
        """Rename (`title`). The job itself is never touched: a running one keeps running."""
        record = self.get(user_id, transcription_id)
        if "title" in changes:
            updated = self._repo.set_title(user_id, transcription_id, clean_title(changes["title"]))
            if updated is None:
                raise NotFound("transcription not found")
            record = updated
        else:
            record = self.get(user_id, transcription_id)
        self._publish(record, EventType.TRANSCRIPTION_UPDATED)
        return record

    def cancel(self, user_id: str, transcription_id: str) -> TranscriptionRecord:
        record = self.get(user_id, transcription_id)
        if record.is_terminal:
            raise Conflict(f"transcription is already {record.status}")
        result = self._workers.cancel(transcription_id, user_id)
        if result.outcome == CancelOutcome.NOT_FOUND:
            raise NotFound("transcription not found")
        if result.outcome == CancelOutcome.TERMINAL:
            raise Conflict(f"transcription is already {result.previous_status}")
        return self.get(user_id, transcription_id)

    def retry(self, user_id: str, transcription_id: str) -> TranscriptionRecord:
        source = self.get(user_id, transcription_id)
        if not source.is_terminal:
            raise Conflict(f"transcription is {source.status}; only finished jobs can be retried")
        if source.file_id is None:
            raise Conflict("the source file is gone")
        file = self._require_file(user_id, source.file_id)
        if not file.storage_path:
            raise Conflict("the file has no usable audio", field="file_id")
        record = self._enqueue(
            user_id,
            file_id=source.file_id,
            title=source.title,
            profile_id=source.profile_id,
            options=dict(source.options),
            source_transcription_id=source.id,
        )
        return self._announce(record)

    def delete(self, user_id: str, transcription_id: str) -> None:
        self.get(user_id, transcription_id)
        self._remove(user_id, transcription_id)

    def delete_all_for_file(self, user_id: str, file_id: str) -> None:
        """Cancel and delete every transcription of a file (used by the file service)."""
        for transcription_id in self._repo.ids_for_file(user_id, file_id):
            self._remove(user_id, transcription_id)

    def delete_all_for_user(self, user_id: str) -> None:
        """Cancel and delete every transcription of a user (an admin deletes the account)."""
        for transcription_id in self._repo.ids_for_user(user_id):
            self._remove(user_id, transcription_id)

    # ------------------------------------------------------------- transcript

    def audio_file(self, user_id: str, transcription_id: str) -> FileRef:
        record = self.get(user_id, transcription_id)
        if record.file_id is None:
            raise NotFound("audio not found")
        file = self._repo.file_ref(user_id, record.file_id)
        if file is None or not file.storage_path:
            raise NotFound("audio not found")
        return file

    # -------------------------------------------------------- history / logs

    def executions(
        self, user_id: str, transcription_id: str, *, cursor: str | None, limit: int | None
    ) -> Page[Execution]:
        """The job's attempts, oldest first, one keyset page at a time (same cursors as every
        other collection)."""
        self.get(user_id, transcription_id)
        size = clamp_limit(limit)
        after = decode_cursor(cursor, _EXECUTION_ORDER)
        rows = self._queue.list_executions(
            transcription_id,
            user_id,
            after=(after.value, after.id) if after is not None else None,  # type: ignore[arg-type]
            limit=size,
        )
        items, next_cursor = page_from_rows(rows, size, _EXECUTION_ORDER)
        return Page(items=[self._execution(row) for row in items], next_cursor=next_cursor)

    def logs(self, user_id: str, transcription_id: str) -> str:
        """The job log as text: one `<time> <LEVEL> [<host> <worker id>] <message>` line per
        event, every attempt (the bracket names the host and worker that wrote the line; `-`
        where unknown, and it is left out for lines stored before hosts were recorded)."""
        self.get(user_id, transcription_id)
        lines = []
        for line in self._job_logs.list_for(transcription_id):
            clean = self.public_error(" ".join(str(line.message).split())) or ""
            source = ""
            if line.host or line.worker_id:
                source = f"[{_token(line.host)} {_token(line.worker_id)}] "
            lines.append(f"{rfc3339(line.created_at)} {str(line.level).upper()} {source}{clean}")
        return "\n".join(lines) + ("\n" if lines else "")

    # ---------------------------------------------------------------- helpers

    def _require_file(self, user_id: str, file_id: str) -> FileRef:
        file = self._repo.file_ref(user_id, file_id)
        if file is None:
            raise NotFound("file not found", field="file_id")
        return file

    def _enqueue(self, user_id: str, **fields: Any) -> TranscriptionRecord:
        """Insert the job, announcing it (`queued`, `updated`) before a worker can claim it.

        The answer describes the job as created: a worker may already have claimed it by the
        time the row is read back, but the request created a `queued` job."""

        def announce(job_id: str) -> None:
            start = STAGE_PROGRESS[Stage.QUEUED].start
            for event_type in (EventType.TRANSCRIPTION_QUEUED, EventType.TRANSCRIPTION_UPDATED):
                event = job_event(job_id, JobStatus.QUEUED, start, Stage.QUEUED, type=event_type)
                self._broker.publish(event.type, user_id, event.data, transcription_id=job_id)

        transcription_id = self._queue.enqueue(
            NewJob(user_id=user_id, **fields), before_commit=announce
        )
        record = self._repo.get(user_id, transcription_id)
        if record is None:  # pragma: no cover - enqueue just wrote it
            raise NotFound("transcription not found")
        if record.status != JobStatus.QUEUED:
            record = record._replace(
                status=JobStatus.QUEUED,
                progress=STAGE_PROGRESS[Stage.QUEUED].start,
                progress_stage=Stage.QUEUED,
                started_at=None,
            )
        return record

    def _announce(self, record: TranscriptionRecord) -> TranscriptionRecord:
        if not self._workers.accepting:
            raise ServiceUnavailable(
                "the server is shutting down; the transcription stays queued for the next start"
            )
        self._workers.notify()
        return record

    def _publish(self, record: TranscriptionRecord, event_type: EventType) -> None:
        event = job_event(
            record.id, record.status, record.progress, record.progress_stage, type=event_type
        )
        self._broker.publish(event.type, record.user_id, event.data, transcription_id=record.id)

    def _remove(self, user_id: str, transcription_id: str) -> None:
        record = self._repo.get(user_id, transcription_id)
        if record is None:
            return
        if not record.is_terminal:
            self._cancel_quietly(user_id, transcription_id)
            self._wait_stopped(user_id, transcription_id)
        self._repo.delete(user_id, transcription_id)
        for directory in self._layout.job_files(transcription_id):
            shutil.rmtree(directory, ignore_errors=True)

    def _cancel_quietly(self, user_id: str, transcription_id: str) -> None:
        """Cancel if still active; a job that ended or vanished meanwhile is fine."""
        self._workers.cancel(transcription_id, user_id)

    def _wait_stopped(self, user_id: str, transcription_id: str) -> None:
        """After a cancel, wait (bounded) until the job is terminal and no longer running here."""
        deadline = time.monotonic() + _STOP_WAIT_S
        while time.monotonic() < deadline:
            record = self._repo.get(user_id, transcription_id)
            if record is None:
                return
            if record.is_terminal and not self._running_here(transcription_id):
                return
            self._sleep(_STOP_POLL_S)

    def _running_here(self, transcription_id: str) -> bool:
        return transcription_id in self._workers.running_ids()

    def _execution(self, row: ExecutionRecord) -> Execution:
        return Execution(
            id=row.id,
            transcription_id=row.transcription_id,
            status=row.status,
            worker_id=row.worker_id,
            host=row.host,
            provider=row.provider,
            model=row.model,
            started_at=row.started_at,
            completed_at=row.completed_at,
            failed_at=row.failed_at,
            processing_duration_ms=row.processing_duration_ms,
            error=self.public_error(row.error),
        )


def _token(value: str | None) -> str:
    """One whitespace-free token of a log line (`-` when unknown)."""
    return "".join(str(value).split()) if value else "-"
