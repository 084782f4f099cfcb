"""The worker route: remote workers fetch the audio of the job they run, with a worker key.

`GET|HEAD /api/v1/worker/transcriptions/{id}/audio` streams the stored bytes (whole or one
`Range`, with `Content-Length`) of a job that is `processing` right now; any other job is a 404.
`GET /api/v1/worker/key-check` answers 204 when the key is accepted (a worker's startup and
health checks). Only `Authorization: Bearer swk_…` is accepted here, and a worker key is refused
everywhere else (it is neither an access token nor an API key).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from scriberr.api.deps import CoreDep
from scriberr.api.ranges import file_response
from scriberr.api.schemas import ERROR_RESPONSES
from scriberr.services.errors import Unauthorized
from scriberr.services.worker_keys import WorkerCaller

router = APIRouter(prefix="/api/v1/worker", tags=["worker"], responses=ERROR_RESPONSES)

_bearer = HTTPBearer(auto_error=False, description="A worker key (`swk_…`).")
TranscriptionId = Annotated[str, Path(max_length=100, description="A `tr_…` ID.")]


def worker_caller(
    core: CoreDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> WorkerCaller:
    if bearer is None or not bearer.credentials:
        raise Unauthorized("This route needs a worker key.")
    return core.worker_keys.authenticate(bearer.credentials.strip())


Worker = Annotated[WorkerCaller, Depends(worker_caller)]


@router.get("/key-check", status_code=204, response_class=Response, summary="Is this key valid")
async def key_check(worker: Worker) -> Response:
    """204 when the worker key is accepted (401 otherwise)."""
    return Response(status_code=204)


@router.head("/transcriptions/{transcription_id}/audio", include_in_schema=False)
@router.get(
    "/transcriptions/{transcription_id}/audio",
    summary="The audio of a job in progress, for the worker running it (supports Range)",
    response_class=Response,
    responses={206: {"description": "Partial content"}, 416: {"description": "Bad range"}},
)
async def job_audio(
    request: Request, transcription_id: TranscriptionId, core: CoreDep, worker: Worker
) -> Response:
    audio = await run_in_threadpool(core.worker_keys.job_audio, transcription_id)
    return file_response(
        core.config.data_dir / audio.storage_path,
        audio.mime_type,
        request.headers.get("range"),
        head_only=request.method == "HEAD",
    )
