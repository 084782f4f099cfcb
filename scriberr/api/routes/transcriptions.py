"""Transcription routes: create/submit, list, get/patch/delete, cancel, retry, audio, per-job SSE,
logs and executions (the transcript itself: `routes.transcripts`).

The transcript of a job that has not completed answers 409 CONFLICT (the job exists, its
transcript does not yet); an unknown or foreign job is 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from scriberr.api.audio_tokens import AudioTokenOut, audio_token
from scriberr.api.deps import Caller, CoreDep, CurrentUser, StreamReader, TranscriptionAudioReader
from scriberr.api.idempotency import json_response, run_idempotent
from scriberr.api.job_schemas import JobOptionsIn
from scriberr.api.job_streams import job_event_stream
from scriberr.api.json_body import page_response
from scriberr.api.listing_lane import run_listing
from scriberr.api.query_params import QueryModel
from scriberr.api.ranges import file_response
from scriberr.api.schemas import ORIGIN_HELP, multipart_upload_body
from scriberr.api.stream_guard import guarded
from scriberr.api.submissions import submit_upload
from scriberr.clock import rfc3339, rfc3339_text
from scriberr.services.errors import NotFound, ServiceError
from scriberr.services.transcriptions import (
    CreateRequest,
    Execution,
    FileRef,
    ListParams,
    TranscriptionRecord,
)

if TYPE_CHECKING:
    from scriberr.bootstrap import Core

router = APIRouter(prefix="/api/v1", tags=["transcriptions"])

TranscriptionId = Annotated[
    str, Path(description="Transcription ID (`tr_…`).", min_length=1, max_length=64)
]
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class TranscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file_id: str = Field(min_length=1, max_length=64)
    title: str | None = Field(default=None, max_length=500)
    profile_id: str | None = Field(default=None, max_length=64)
    options: JobOptionsIn | None = None


class TranscriptionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=500)


class TranscriptionOut(BaseModel):
    id: str
    file_id: str | None
    title: str | None
    profile_id: str | None
    source_transcription_id: str | None
    options: dict[str, Any]
    status: str
    progress: float
    progress_stage: str
    language: str | None
    diarization: bool
    duration_seconds: float | None = Field(
        default=None, description="Duration of the source file, when known."
    )
    error: str | None
    created_at: str
    updated_at: str
    queued_at: str | None
    started_at: str | None
    completed_at: str | None
    failed_at: str | None
    canceled_at: str | None


class TranscriptionList(BaseModel):
    items: list[TranscriptionOut]
    next_cursor: str | None


class CancelOut(BaseModel):
    id: str
    status: str


class RetryOut(BaseModel):
    id: str
    source_transcription_id: str | None
    status: str


class ExecutionOut(BaseModel):
    id: str
    transcription_id: str
    status: str
    worker_id: str | None = Field(description="The worker that ran it (`<process id>/<n>`).")
    host: str | None = Field(description="The plain host name of the machine that ran it.")
    provider: str | None
    model: str | None
    started_at: str | None
    completed_at: str | None
    failed_at: str | None
    processing_duration_ms: int | None
    error: str | None


class ExecutionList(BaseModel):
    items: list[ExecutionOut]
    next_cursor: str | None


def transcription_fields(core: Core, record: TranscriptionRecord) -> dict[str, Any]:
    """The public JSON object of a job (`TranscriptionOut`), as plain JSON types.

    The one place that maps a record to its public shape: listings encode these dicts directly,
    single-item routes validate them into `TranscriptionOut`."""
    time = rfc3339_text
    error = record.error
    queued, started, completed = record.queued_at, record.started_at, record.completed_at
    failed, canceled = record.failed_at, record.canceled_at
    return {
        "id": record.id,
        "file_id": record.file_id,
        "title": record.title,
        "profile_id": record.profile_id,
        "source_transcription_id": record.source_transcription_id,
        "options": record.options,
        "status": record.status,
        "progress": round(record.progress, 4),
        "progress_stage": record.progress_stage,
        "language": record.language,
        "diarization": record.diarization,
        "duration_seconds": record.duration_seconds,
        "error": core.transcriptions.public_error(error) if error else error,
        "created_at": time(record.created_at),
        "updated_at": time(record.updated_at),
        "queued_at": time(queued) if queued is not None else None,
        "started_at": time(started) if started is not None else None,
        "completed_at": time(completed) if completed is not None else None,
        "failed_at": time(failed) if failed is not None else None,
        "canceled_at": time(canceled) if canceled is not None else None,
    }


def transcription_out(core: Core, record: TranscriptionRecord) -> TranscriptionOut:
    return TranscriptionOut.model_validate(transcription_fields(core, record))


def execution_fields(execution: Execution) -> dict[str, Any]:
    """The public JSON object of one processing attempt (`ExecutionOut`)."""
    return {
        "id": execution.id,
        "transcription_id": execution.transcription_id,
        "status": execution.status,
        "worker_id": execution.worker_id,
        "host": execution.host,
        "provider": execution.provider,
        "model": execution.model,
        "started_at": rfc3339(execution.started_at),
        "completed_at": rfc3339(execution.completed_at),
        "failed_at": rfc3339(execution.failed_at),
        "processing_duration_ms": execution.processing_duration_ms,
        "error": execution.error,
    }


async def accepted_or_unavailable(
    core: Core, produce: Callable[[], TranscriptionRecord]
) -> Response:
    """Run a create-like service call; a 503 still leaves the queued row behind (SPEC)."""
    record = await run_in_threadpool(produce)
    return json_response(transcription_out(core, record), status.HTTP_202_ACCEPTED)


@router.post(
    "/transcriptions",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TranscriptionOut,
    summary="Create a transcription job for an uploaded file",
    responses={503: {"description": "The server is shutting down; the job stays queued."}},
)
async def create_transcription(
    request: Request, body: TranscriptionIn, core: CoreDep, user: CurrentUser
) -> Response:
    create = CreateRequest(
        file_id=body.file_id,
        title=body.title,
        profile_id=body.profile_id,
        options=body.options.model_dump(exclude_none=True) if body.options else None,
    )

    async def produce() -> Response:
        return await accepted_or_unavailable(
            core, lambda: core.transcriptions.create(user.user_id, create)
        )

    return await run_idempotent(request, user, produce)


@router.post(
    "/transcriptions:submit",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TranscriptionOut,
    summary="Upload a file and create its transcription job in one request",
    openapi_extra=multipart_upload_body(
        title={"type": "string"},
        profile_id={"type": "string"},
        options={"type": "string", "description": "Job options as a JSON object string."},
    ),
)
async def submit_transcription(request: Request, core: CoreDep, user: CurrentUser) -> Response:
    async def produce() -> Response:
        record = await submit_upload(request, core, user.user_id, options_field="options")
        return json_response(transcription_out(core, record), status.HTTP_202_ACCEPTED)

    return await run_idempotent(request, user, produce)


class TranscriptionQuery(QueryModel):
    """The query parameters of `GET /transcriptions`."""

    q: str | None = Field(None, max_length=200, description="Search in titles and transcript text.")
    file_id: str | None = Field(
        None, max_length=64, description="Only transcriptions of this file."
    )
    status: list[str] | None = Field(
        None,
        description="queued, processing, completed, failed or canceled (repeat or comma-separate).",
    )
    updated_after: datetime | None = Field(None, description="RFC 3339 time.")
    sort: str | None = Field(
        None, description="created_at, -created_at, updated_at, -updated_at, title, -title"
    )
    cursor: str | None = Field(None, max_length=1000)
    limit: int | None = Field(None, description="Default 50, capped at 200.")
    origin: str | None = Field(None, max_length=16, description=ORIGIN_HELP)


@router.get(
    "/transcriptions",
    response_model=TranscriptionList,
    summary="List transcriptions",
    openapi_extra={"parameters": TranscriptionQuery.openapi_parameters()},
)
async def list_transcriptions(request: Request, core: CoreDep, caller: Caller) -> Response:
    query = TranscriptionQuery.from_request(request)
    statuses = [s.strip() for raw in query.status or [] for s in raw.split(",") if s.strip()]
    params = ListParams(
        q=query.q,
        file_id=query.file_id,
        status=statuses,
        updated_after=query.updated_after,
        sort=query.sort,
        cursor=query.cursor,
        limit=query.limit,
        origin=query.origin,
    )

    def page() -> Response:
        # One thread-pool hop: the credential check, then the query, the mapping and the encoding.
        user = caller.authenticate(core.auth)
        found = core.transcriptions.list_page(user.user_id, params)
        items = [transcription_fields(core, record) for record in found.items]
        return page_response(items, found.next_cursor)

    return await run_listing(request, page)


@router.get(
    "/transcriptions/{transcription_id}",
    response_model=TranscriptionOut,
    summary="Get a transcription",
)
async def get_transcription(
    transcription_id: TranscriptionId, core: CoreDep, user: CurrentUser
) -> TranscriptionOut:
    record = await run_in_threadpool(core.transcriptions.get, user.user_id, transcription_id)
    return transcription_out(core, record)


@router.patch(
    "/transcriptions/{transcription_id}",
    response_model=TranscriptionOut,
    summary="Rename a transcription (a running job is canceled first)",
)
async def patch_transcription(
    transcription_id: TranscriptionId,
    body: TranscriptionPatch,
    core: CoreDep,
    user: CurrentUser,
) -> TranscriptionOut:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    record = await run_in_threadpool(
        core.transcriptions.update, user.user_id, transcription_id, changes
    )
    return transcription_out(core, record)


@router.delete(
    "/transcriptions/{transcription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a transcription and every stored byte of it",
)
async def delete_transcription(
    transcription_id: TranscriptionId, core: CoreDep, user: CurrentUser
) -> Response:
    await run_in_threadpool(core.transcriptions.delete, user.user_id, transcription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/transcriptions/{transcription_id}:cancel",
    response_model=CancelOut,
    summary="Cancel a queued or running job",
)
async def cancel_transcription(
    transcription_id: TranscriptionId, core: CoreDep, user: CurrentUser
) -> CancelOut:
    record = await run_in_threadpool(core.transcriptions.cancel, user.user_id, transcription_id)
    return CancelOut(id=record.id, status=record.status)


@router.post(
    "/transcriptions/{transcription_id}:stop",
    response_model=CancelOut,
    summary="Alias of :cancel (the route upstream Scriberr's web frontend calls)",
)
async def stop_transcription(
    transcription_id: TranscriptionId, core: CoreDep, user: CurrentUser
) -> CancelOut:
    return await cancel_transcription(transcription_id, core, user)


@router.post(
    "/transcriptions/{transcription_id}:retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RetryOut,
    summary="Run a finished job again as a new job",
)
async def retry_transcription(
    request: Request, transcription_id: TranscriptionId, core: CoreDep, user: CurrentUser
) -> Response:
    async def produce() -> Response:
        record = await run_in_threadpool(core.transcriptions.retry, user.user_id, transcription_id)
        out = RetryOut(
            id=record.id,
            source_transcription_id=record.source_transcription_id,
            status=record.status,
        )
        return json_response(out, status.HTTP_202_ACCEPTED)

    return await run_idempotent(request, user, produce)


@router.head("/transcriptions/{transcription_id}/audio", include_in_schema=False)
@router.get(
    "/transcriptions/{transcription_id}/audio",
    summary="The job's source audio (supports Range)",
    response_class=Response,
    responses={206: {"description": "Partial content"}, 416: {"description": "Bad range"}},
)
async def get_transcription_audio(
    request: Request,
    transcription_id: TranscriptionId,
    core: CoreDep,
    user: TranscriptionAudioReader,
) -> Response:
    file = await run_in_threadpool(core.transcriptions.audio_file, user.user_id, transcription_id)
    return await stream_file_audio(request, core, file)


@router.post(
    "/transcriptions/{transcription_id}/audio-token",
    response_model=AudioTokenOut,
    summary="A read-only token (1 hour) for this job's audio only, and the URL that plays it",
)
async def transcription_audio_token(
    transcription_id: TranscriptionId, core: CoreDep, user: CurrentUser
) -> AudioTokenOut:
    record = await run_in_threadpool(core.transcriptions.get, user.user_id, transcription_id)
    path = f"/api/v1/transcriptions/{record.id}/audio"
    return await audio_token(core.auth, user, "transcription", record.id, path)


@router.get(
    "/transcriptions/{transcription_id}/events",
    summary="Server-sent events for one job; after its terminal event the stream stays open "
    "with `: heartbeat` comments until the client leaves",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def transcription_events(
    request: Request, transcription_id: TranscriptionId, core: CoreDep, user: StreamReader
) -> StreamingResponse:
    subscription = core.broker.subscribe(user.user_id, transcription_id=transcription_id)
    try:
        record = await run_in_threadpool(core.transcriptions.get, user.user_id, transcription_id)
    except ServiceError:
        subscription.close()
        raise
    return StreamingResponse(
        guarded(
            job_event_stream(request, core, user.user_id, record, subscription), core.auth, user
        ),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


@router.get(
    "/transcriptions/{transcription_id}/logs",
    response_class=PlainTextResponse,
    summary="The job log: one line per event of every attempt",
)
async def transcription_logs(
    transcription_id: TranscriptionId, core: CoreDep, user: CurrentUser
) -> PlainTextResponse:
    text = await run_in_threadpool(core.transcriptions.logs, user.user_id, transcription_id)
    return PlainTextResponse(text)


class PageQuery(QueryModel):
    """The query parameters of a listing that only pages."""

    cursor: str | None = Field(None, max_length=1000)
    limit: int | None = Field(None, description="Default 50, capped at 200.")


@router.get(
    "/transcriptions/{transcription_id}/executions",
    response_model=ExecutionList,
    summary="Processing attempts of a job",
    openapi_extra={"parameters": PageQuery.openapi_parameters()},
)
async def transcription_executions(
    request: Request, transcription_id: TranscriptionId, core: CoreDep, caller: Caller
) -> Response:
    query = PageQuery.from_request(request)

    def page() -> Response:
        user = caller.authenticate(core.auth)
        found = core.transcriptions.executions(
            user.user_id, transcription_id, cursor=query.cursor, limit=query.limit
        )
        return page_response([execution_fields(e) for e in found.items], found.next_cursor)

    return await run_listing(request, page)


async def stream_file_audio(request: Request, core: Core, file: FileRef) -> Response:
    """The file's bytes with C's Range handling (200 whole, 206 one range, 416 bad range)."""
    if not file.storage_path:
        raise NotFound("The audio for this item is not available.")
    return file_response(
        core.config.data_dir / file.storage_path,
        file.mime_type,
        request.headers.get("range"),
        filename=file.title,
        head_only=request.method == "HEAD",
    )
