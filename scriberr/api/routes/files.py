"""File routes: upload (streamed multipart), URL/YouTube import, list, get, rename, delete and
audio streaming with Range support."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from scriberr.api.audio_tokens import AudioTokenOut, audio_token
from scriberr.api.deps import AuthDep, Caller, CurrentUser, FileAudioReader
from scriberr.api.idempotency import IdempotencyKey, json_response, run_idempotent
from scriberr.api.json_body import page_response
from scriberr.api.listing_lane import run_listing
from scriberr.api.query_params import QueryModel
from scriberr.api.ranges import file_response
from scriberr.api.schemas import (
    ERROR_RESPONSES,
    ORIGIN_HELP,
    ErrorEnvelope,
    StrictModel,
    UtcDateTime,
    multipart_upload_body,
)
from scriberr.api.uploads import receive_upload
from scriberr.clock import rfc3339
from scriberr.jobs import FileStatus
from scriberr.services.errors import InvalidRequest
from scriberr.services.files import FileService, FileView

router = APIRouter(prefix="/api/v1", tags=["files"], responses=ERROR_RESPONSES)

FileId = Annotated[str, Path(max_length=100, description="A `file_…` ID.")]


async def get_file_service(request: Request) -> FileService:
    service: FileService = request.app.state.core.files
    return service


FilesDep = Annotated[FileService, Depends(get_file_service)]


class FileOut(BaseModel):
    id: str
    title: str
    kind: Literal["audio", "video", "youtube"]
    status: FileStatus
    mime_type: str | None
    size_bytes: int | None
    duration_seconds: float | None
    error: str | None = Field(None, description="Why an import failed (status `failed`).")
    created_at: UtcDateTime
    updated_at: UtcDateTime

    @classmethod
    def of(cls, view: FileView) -> FileOut:
        return cls.model_validate(file_fields(view))


def file_fields(view: FileView) -> dict[str, Any]:
    """The public JSON object of a file (`FileOut`) as plain JSON types: the one mapping from a
    view to its public shape (listings encode these dicts directly)."""
    return {
        "id": view.id,
        "title": view.title,
        "kind": view.kind,
        "status": view.status,
        "mime_type": view.mime_type,
        "size_bytes": view.size_bytes,
        "duration_seconds": view.duration_seconds,
        "error": view.error,
        "created_at": rfc3339(view.created_at),
        "updated_at": rfc3339(view.updated_at),
    }


class FileList(BaseModel):
    items: list[FileOut]
    next_cursor: str | None


class FilePatch(StrictModel):
    title: Annotated[str | None, Field(max_length=500)] = None


class ImportIn(StrictModel):
    url: Annotated[str, Field(min_length=1, max_length=2048)]
    title: Annotated[str | None, Field(max_length=500)] = None


_UPLOAD_BODY = multipart_upload_body(title={"type": "string", "maxLength": 500})
_UPLOAD_ERRORS: dict[int | str, dict[str, object]] = {
    413: {"model": ErrorEnvelope, "description": "Larger than the upload limit"},
    415: {"model": ErrorEnvelope, "description": "Not audio or video"},
}
_AUDIO_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"audio/*": {}, "video/*": {}}, "description": "The whole file"},
    206: {"description": "The requested byte range"},
    409: {"model": ErrorEnvelope, "description": "Not ready"},
    416: {"model": ErrorEnvelope, "description": "Range not satisfiable"},
}


@router.post(
    "/files",
    status_code=201,
    response_model=FileOut,
    openapi_extra=_UPLOAD_BODY,
    responses=_UPLOAD_ERRORS,
)
async def upload_file(
    request: Request,
    user: CurrentUser,
    files: FilesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Upload audio or video (multipart `file`, optional `title`). Streamed to disk; 413 over
    the limit, 415 when the content is not audio/video. A user with auto transcription on gets
    a transcription started with their default profile."""

    async def produce() -> Response:
        limit = await run_in_threadpool(files.upload_limit_bytes, user.user_id)
        upload = await receive_upload(request, limit, files.staging_dir)
        staged = upload.file
        if staged is None:
            raise InvalidRequest("A file is required.", field="file")
        title = upload.field("title")
        view = await run_in_threadpool(
            lambda: files.create_from_upload(
                user.user_id, staged, title=title, auto_transcribe=True
            )
        )
        return json_response(FileOut.of(view), 201)

    return await run_idempotent(request, user, produce)


@router.post("/files:import-youtube", status_code=202, response_model=FileOut)
async def import_youtube(
    request: Request,
    body: ImportIn,
    user: CurrentUser,
    files: FilesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Import media from a URL (YouTube or any site yt-dlp supports). Answers 202 with
    `status: processing`; the file becomes `ready` (`file.ready` event) or `failed`
    (`file.failed` with a clean message)."""

    async def produce() -> Response:
        view = await run_in_threadpool(files.import_url, user.user_id, body.url, body.title)
        return json_response(FileOut.of(view), 202)

    return await run_idempotent(request, user, produce)


class FileQuery(QueryModel):
    """The query parameters of `GET /files`."""

    q: str | None = Field(None, max_length=200, description="Search in titles.")
    kind: Literal["audio", "video", "youtube"] | None = None
    status: FileStatus | None = None
    sort: Literal["created_at", "-created_at", "updated_at", "-updated_at", "title", "-title"] = (
        "-created_at"
    )
    cursor: str | None = Field(None, max_length=1000)
    limit: int = Field(50, description="Page size; default 50, values above 200 are capped.")
    origin: str | None = Field(None, max_length=16, description=ORIGIN_HELP)


@router.get(
    "/files",
    response_model=FileList,
    openapi_extra={"parameters": FileQuery.openapi_parameters()},
)
async def list_files(request: Request, caller: Caller, auth: AuthDep, files: FilesDep) -> Response:
    query = FileQuery.from_request(request)

    def page() -> Response:
        user = caller.authenticate(auth)  # in the same thread-pool call as the query
        found = files.list(
            user.user_id,
            q=query.q,
            kind=query.kind,
            status=query.status,
            sort=query.sort,
            cursor=query.cursor,
            limit=query.limit,
            origin=query.origin,
        )
        return page_response([file_fields(v) for v in found.items], found.next_cursor)

    return await run_listing(request, page)


@router.get("/files/{file_id}", response_model=FileOut)
async def get_file(file_id: FileId, user: CurrentUser, files: FilesDep) -> FileOut:
    return FileOut.of(await run_in_threadpool(files.get, user.user_id, file_id))


@router.patch("/files/{file_id}", response_model=FileOut)
async def patch_file(
    file_id: FileId, body: FilePatch, user: CurrentUser, files: FilesDep
) -> FileOut:
    view = await run_in_threadpool(lambda: files.update(user.user_id, file_id, title=body.title))
    return FileOut.of(view)


@router.delete("/files/{file_id}", status_code=204, response_class=Response)
async def delete_file(file_id: FileId, user: CurrentUser, files: FilesDep) -> Response:
    """Delete the file, its transcriptions (running jobs are canceled first) and every stored
    byte."""
    await run_in_threadpool(files.delete, user.user_id, file_id)
    return Response(status_code=204)


@router.head("/files/{file_id}/audio", include_in_schema=False)
@router.get(
    "/files/{file_id}/audio",
    response_class=Response,
    responses=_AUDIO_RESPONSES,
)
async def file_audio(
    request: Request,
    file_id: FileId,
    user: FileAudioReader,
    files: FilesDep,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    """The stored bytes, whole or one `Range` (`bytes=a-b`, `bytes=a-`, `bytes=-n`).
    Accepts `?stream_token=` (a stream token, or this file's audio token) for <audio>
    elements."""
    source = await run_in_threadpool(files.audio_source, user.user_id, file_id)
    return await run_in_threadpool(
        lambda: file_response(
            source.path,
            source.mime_type,
            range_header,
            filename=source.filename,
            head_only=request.method == "HEAD",
        )
    )


@router.post("/files/{file_id}/audio-token", response_model=AudioTokenOut)
async def file_audio_token(
    file_id: FileId, user: CurrentUser, files: FilesDep, auth: AuthDep
) -> AudioTokenOut:
    """A read-only token for this file's audio only, and the URL that plays it (with Range) —
    for `<audio>` elements, which cannot send an `Authorization` header. Valid for 1 hour."""
    view = await run_in_threadpool(files.get, user.user_id, file_id)
    return await audio_token(auth, user, "file", view.id, f"/api/v1/files/{view.id}/audio")
