"""`POST /v1/audio/transcriptions`, compatible with OpenAI's transcription API.

The upload becomes an ordinary file + transcription job on the same queue; the request waits for
the job to finish (broker events, with a once-a-second read of the job row so jobs run by a
separate worker process are noticed too) and answers in the requested `response_format`. If the
client disconnects while waiting, the job is canceled.

Mapping: `model=whisper-1` (or no model) means "the server's default" (the user's default profile,
else `SPEECH_ENGINE_DEFAULT_MODEL`); any catalog ID is used as is; anything else is 422 with
`field: "model"`. Errors keep Scriberr's envelope `{"error": {"code", "message", "field",
"request_id"}}` — OpenAI SDKs read `error.message` from it. A failed job answers 422
UNPROCESSABLE with the sanitised job error; a job canceled meanwhile (e.g. shutdown) answers 503.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from scriberr.api.deps import CoreDep, CurrentUser
from scriberr.api.idempotency import run_idempotent
from scriberr.api.schemas import multipart_upload_body
from scriberr.api.submissions import create_from_upload, receive
from scriberr.jobs import DEFAULT_TASK, JobStatus
from scriberr.services.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    ServiceUnavailable,
    Unprocessable,
)
from scriberr.transcript import render

if TYPE_CHECKING:
    from scriberr.bootstrap import Core
    from scriberr.events.broker import Subscription
    from scriberr.persistence.transcription_repository import TranscriptionRecord

router = APIRouter(prefix="/v1", tags=["openai"])

OPENAI_DEFAULT_MODEL = "whisper-1"
RESPONSE_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
GRANULARITIES = ("word", "segment")
WAIT_POLL_S = 1.0
_TEXT_TYPES = {
    "text": "text/plain; charset=utf-8",
    "srt": "text/plain; charset=utf-8",
    "vtt": "text/plain; charset=utf-8",
}

_FORM_BODY = multipart_upload_body(
    model={"type": "string", "default": OPENAI_DEFAULT_MODEL},
    language={"type": "string"},
    prompt={"type": "string"},
    response_format={"type": "string", "enum": list(RESPONSE_FORMATS), "default": "json"},
    temperature={"type": "number"},
    **{
        "timestamp_granularities[]": {
            "type": "array",
            "items": {"type": "string", "enum": list(GRANULARITIES)},
        }
    },
)


@router.post(
    "/audio/transcriptions",
    summary="Transcribe audio (OpenAI-compatible)",
    response_class=Response,
    responses={
        200: {
            "description": "The transcript in the requested format",
            "content": {"application/json": {}, "text/plain": {}},
        },
        422: {"description": "Unknown model or bad options, or the job failed"},
        503: {"description": "Shutting down"},
    },
    openapi_extra=_FORM_BODY,
)
async def openai_transcriptions(request: Request, core: CoreDep, user: CurrentUser) -> Response:
    async def produce() -> Response:
        return await _transcribe(request, core, user.user_id)

    return await run_idempotent(request, user, produce)


async def _transcribe(request: Request, core: Core, user_id: str) -> Response:
    upload = await receive(request, core, user_id)
    try:
        response_format = (upload.field("response_format") or "json").strip()
        if response_format not in RESPONSE_FORMATS:
            raise InvalidRequest(
                "response_format must be one of: " + ", ".join(RESPONSE_FORMATS),
                field="response_format",
            )
        granularities = _granularities(upload.fields)
        options = _options(upload.field("model"), upload.field("language"), upload.field("prompt"))
    except InvalidRequest:
        if upload.file is not None:
            upload.file.discard()
        raise
    record = await create_from_upload(
        core,
        user_id,
        upload,
        title=None,
        profile_id=None,
        options=options,
        options_prefix="",
    )
    subscription = core.broker.subscribe(user_id, transcription_id=record.id)
    with subscription:
        finished = await _wait(request, core, user_id, record.id, subscription)
    if finished is None:  # the client is gone; nobody reads this
        return Response(status_code=204)
    if finished.status == JobStatus.FAILED:
        message = core.transcriptions.public_error(finished.error) or "transcription failed"
        raise Unprocessable(f"transcription failed: {message}", field="file")
    if finished.status == JobStatus.CANCELED:
        raise ServiceUnavailable("the transcription was canceled before it finished")
    transcript = await run_in_threadpool(core.transcriptions.transcript, user_id, record.id)
    return _format(transcript, response_format, granularities, finished.options)


async def _wait(
    request: Request,
    core: Core,
    user_id: str,
    transcription_id: str,
    subscription: Subscription,
) -> TranscriptionRecord | None:
    """The finished job row, or None when the client went away (the job is then canceled)."""
    service = core.transcriptions
    while True:
        record = await run_in_threadpool(service.find, user_id, transcription_id)
        if record is None:
            raise NotFound("the transcription was deleted while it ran")
        if record.is_terminal:
            return record
        await subscription.next(WAIT_POLL_S)
        if await request.is_disconnected():
            with contextlib.suppress(Conflict, NotFound):
                await run_in_threadpool(service.cancel, user_id, transcription_id)
            return None


def _options(model: str | None, language: str | None, prompt: str | None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    chosen = (model or "").strip()
    if chosen and chosen != OPENAI_DEFAULT_MODEL:
        options["model"] = chosen
    if language and language.strip():
        options["language"] = language.strip()
    if prompt and prompt.strip():
        options["prompt"] = prompt
    return options


def _granularities(fields: dict[str, list[str]]) -> tuple[str, ...]:
    values = [
        *fields.get("timestamp_granularities[]", []),
        *fields.get("timestamp_granularities", []),
    ]
    chosen: list[str] = []
    for raw in values:
        for value in raw.split(","):
            value = value.strip()
            if not value:
                continue
            if value not in GRANULARITIES:
                raise InvalidRequest(
                    "timestamp_granularities[] must be 'word' or 'segment'",
                    field="timestamp_granularities[]",
                )
            if value not in chosen:
                chosen.append(value)
    return tuple(chosen)


def _format(
    transcript: dict[str, Any],
    response_format: str,
    granularities: tuple[str, ...],
    options: dict[str, Any],
) -> Response:
    text = str(transcript.get("text") or "").strip()
    if response_format == "json":
        return JSONResponse({"text": text})
    if response_format == "verbose_json":
        return JSONResponse(verbose_json(transcript, granularities, options))
    rendered = text + "\n" if response_format == "text" else render(transcript, response_format)
    return PlainTextResponse(rendered, media_type=_TEXT_TYPES[response_format])


def verbose_json(
    transcript: dict[str, Any], granularities: tuple[str, ...], options: dict[str, Any]
) -> dict[str, Any]:
    """OpenAI's `verbose_json`: task, language, duration, text, segments and/or words."""
    body: dict[str, Any] = {
        "task": options.get("task") or DEFAULT_TASK,
        "language": transcript.get("language") or "",
        "duration": float(transcript.get("duration") or 0.0),
        "text": str(transcript.get("text") or "").strip(),
    }
    if not granularities or "segment" in granularities:
        body["segments"] = [
            {
                "id": index,
                "seek": 0,
                "start": float(segment.get("start", 0.0)),
                "end": float(segment.get("end", 0.0)),
                "text": str(segment.get("text") or ""),
                "tokens": [],
                "temperature": 0.0,
                "avg_logprob": 0.0,
                "compression_ratio": 0.0,
                "no_speech_prob": 0.0,
                **({"speaker": segment["speaker"]} if segment.get("speaker") else {}),
            }
            for index, segment in enumerate(transcript.get("segments") or [])
        ]
    if "word" in granularities:
        body["words"] = [
            {
                "word": str(word.get("word") or ""),
                "start": float(word.get("start", 0.0)),
                "end": float(word.get("end", 0.0)),
            }
            for word in transcript.get("words") or []
        ]
    return body
