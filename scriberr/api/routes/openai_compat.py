"""The OpenAI-compatible audio API under `/v1`: transcriptions, translations and models.

An upload becomes an ordinary file + transcription job on the same queue, marked as made through
`/v1` (kept out of the default library listing and deleted after `SCRIBERR_OPENAI_RETENTION`).
The request waits for the job (broker events, with a once-a-second read of the job row so jobs run
by a separate worker process are noticed too) and answers in the requested `response_format`; with
`stream=true` it answers at once with server-sent events: `transcript.text.delta` for each segment
as it is known (on PostgreSQL also when another process runs the job: the signals relay brings its
segment events into this broker), then `transcript.text.done`. If the client disconnects while
waiting, the job is canceled.

Mapping: `whisper-1` (and OpenAI's `gpt-4o-*transcribe*` names, or no model) means "the server's
default" (the user's default profile, else `SPEECH_ENGINE_DEFAULT_MODEL`); any catalog ID is used as
is; anything else is 422 with `param: "model"`. Errors on `/v1` use OpenAI's shape
(`{"error": {"message", "type", "param", "code"}}`, see `api.errors`). A failed job answers 422 with
the sanitised job error; a job canceled meanwhile (e.g. shutdown) answers 503.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from scriberr.api import openai_formats
from scriberr.api.deps import CoreDep, CurrentUser
from scriberr.api.idempotency import run_idempotent
from scriberr.api.schemas import multipart_upload_body
from scriberr.api.submissions import create_from_upload, receive
from scriberr.api.uploads import ReceivedUpload
from scriberr.events.broker import Subscription
from scriberr.jobs import EventType, JobStatus, Origin, Task
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
    from scriberr.services.transcriptions import TranscriptionRecord

router = APIRouter(prefix="/v1", tags=["openai"])

TRANSCRIPTION_FORMATS = ("json", "text", "srt", "vtt", "verbose_json", "diarized_json")
TRANSLATION_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
GRANULARITIES = ("word", "segment")
WAIT_POLL_S = 1.0
MAX_KNOWN_SPEAKERS = 4
_TEXT_TYPES = {
    "text": "text/plain; charset=utf-8",
    "srt": "text/plain; charset=utf-8",
    "vtt": "text/plain; charset=utf-8",
}
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no", ""})

_COMMON_FIELDS: dict[str, Any] = {
    "model": {"type": "string", "default": openai_formats.OPENAI_DEFAULT_MODEL},
    "prompt": {"type": "string"},
    "temperature": {"type": "number"},
}
_ARRAY_FIELDS: dict[str, Any] = {
    "timestamp_granularities[]": {
        "type": "array",
        "items": {"type": "string", "enum": list(GRANULARITIES)},
    },
    "known_speaker_names[]": {
        "type": "array",
        "items": {"type": "string"},
        "maxItems": MAX_KNOWN_SPEAKERS,
    },
}
_TRANSCRIPTION_BODY = multipart_upload_body(
    **_COMMON_FIELDS,
    language={"type": "string"},
    response_format={"type": "string", "enum": list(TRANSCRIPTION_FORMATS), "default": "json"},
    stream={"type": "boolean", "default": False},
    chunking_strategy={"type": "string"},
    **_ARRAY_FIELDS,
)
_TRANSLATION_BODY = multipart_upload_body(
    **_COMMON_FIELDS,
    response_format={"type": "string", "enum": list(TRANSLATION_FORMATS), "default": "json"},
)
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The transcript in the requested format (or an event stream)",
        "content": {"application/json": {}, "text/plain": {}, "text/event-stream": {}},
    },
    422: {"description": "Unknown model or bad options, or the job failed"},
    503: {"description": "Shutting down"},
}


@router.post(
    "/audio/transcriptions",
    summary="Transcribe audio (OpenAI-compatible)",
    response_class=Response,
    responses=_RESPONSES,
    openapi_extra=_TRANSCRIPTION_BODY,
)
async def openai_transcriptions(request: Request, core: CoreDep, user: CurrentUser) -> Response:
    async def produce() -> Response:
        return await _run(request, core, user.user_id, task="transcribe")

    return await run_idempotent(request, user, produce)


@router.post(
    "/audio/translations",
    summary="Translate audio to English text (OpenAI-compatible)",
    response_class=Response,
    responses=_RESPONSES,
    openapi_extra=_TRANSLATION_BODY,
)
async def openai_translations(request: Request, core: CoreDep, user: CurrentUser) -> Response:
    async def produce() -> Response:
        return await _run(request, core, user.user_id, task="translate")

    return await run_idempotent(request, user, produce)


@router.get("/models", summary="Models usable on /v1 (OpenAI-compatible)")
async def openai_models(core: CoreDep, user: CurrentUser) -> JSONResponse:
    ids = await run_in_threadpool(_usable_model_ids, core)
    return JSONResponse(openai_formats.model_list(ids))


@router.get("/models/{model_id}", summary="One model (OpenAI-compatible)")
async def openai_model(model_id: str, core: CoreDep, user: CurrentUser) -> JSONResponse:
    ids = await run_in_threadpool(_usable_model_ids, core)
    if model_id not in ids and model_id not in openai_formats.DEFAULT_MODEL_ALIASES:
        raise NotFound(f"The model '{model_id}' does not exist.", field="model")
    return JSONResponse(openai_formats.model_object(model_id))


def _usable_model_ids(core: Core) -> list[str]:
    """`whisper-1` first, then every catalog model a job could use now."""
    auto_download = bool(core.config.engine_auto_download)
    catalog = [
        model.id
        for model in core.providers.transcription_models()
        if model.installed or auto_download
    ]
    return [openai_formats.OPENAI_DEFAULT_MODEL, *catalog]


class _Request:
    """The parsed, validated form fields of one `/v1/audio/*` request."""

    def __init__(self, upload: ReceivedUpload, task: Task) -> None:
        self.task = task
        formats = TRANSLATION_FORMATS if task == "translate" else TRANSCRIPTION_FORMATS
        self.response_format = (upload.field("response_format") or "json").strip()
        if self.response_format not in formats:
            raise InvalidRequest(
                "response_format must be one of: " + ", ".join(formats), field="response_format"
            )
        self.stream = _boolean(upload.field("stream"), "stream")
        if self.stream and task == "translate":
            raise InvalidRequest("stream is not supported for translations", field="stream")
        if self.stream and self.response_format not in ("json", "text"):
            raise InvalidRequest(
                "stream=true needs response_format json or text", field="response_format"
            )
        self.granularities = _granularities(upload.fields)
        self.known_speaker_names = _known_speaker_names(upload.fields)
        self.diarize = self.response_format == "diarized_json"
        self.options = _options(upload, task=task, diarize=self.diarize)


async def _run(request: Request, core: Core, user_id: str, *, task: Task) -> Response:
    upload = await receive(request, core, user_id)
    try:
        parsed = _Request(upload, task)
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
        options=parsed.options,
        options_prefix="",
        origin=Origin.OPENAI,
    )
    if parsed.stream:
        subscription = core.broker.subscribe(user_id, transcription_id=record.id)
        return StreamingResponse(
            _stream(request, core, user_id, record.id, subscription),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    with core.broker.subscribe(user_id, transcription_id=record.id) as subscription:
        finished = await _wait(request, core, user_id, record.id, subscription)
    if finished is None:  # the client is gone; nobody reads this
        return Response(status_code=204)
    transcript = await _finished_transcript(core, user_id, finished)
    return _format(transcript, parsed)


async def _finished_transcript(
    core: Core, user_id: str, finished: TranscriptionRecord
) -> dict[str, Any]:
    """The transcript of a terminal job, or the error a failed/canceled job answers with."""
    if finished.status == JobStatus.FAILED:
        message = core.transcriptions.public_error(finished.error) or "transcription failed"
        raise Unprocessable(f"transcription failed: {message}", field="file")
    if finished.status == JobStatus.CANCELED:
        raise ServiceUnavailable("the transcription was canceled before it finished")
    transcript: dict[str, Any] = await run_in_threadpool(
        core.transcripts.transcript, user_id, finished.id
    )
    return transcript


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


async def _stream(
    request: Request,
    core: Core,
    user_id: str,
    transcription_id: str,
    subscription: Subscription,
) -> AsyncIterator[str]:
    """`stream=true`: a delta per segment as segments become known, then the done event.

    Segments published while the job runs (`transcription.segment` events) go out at once; the
    rest are sent from the finished transcript, so the deltas joined always equal the text.
    """
    sent = 0
    with subscription:
        finished = None
        while finished is None:
            record = await run_in_threadpool(core.transcriptions.find, user_id, transcription_id)
            if record is None:
                yield _sse(_error_event("the transcription was deleted while it ran"))
                return
            if record.is_terminal:
                finished = record
                break
            event = await subscription.next(WAIT_POLL_S)
            while event is not None:
                if event.type == EventType.TRANSCRIPTION_SEGMENT:
                    segment = event.data.get("segment") or {}
                    index = int(event.data.get("index", sent))
                    if index == sent and str(segment.get("text") or "").strip():
                        yield _sse(
                            openai_formats.text_delta(
                                openai_formats.segment_delta_text(segment, sent == 0)
                            )
                        )
                        sent += 1
                event = await subscription.next(0)
            if await request.is_disconnected():
                with contextlib.suppress(Conflict, NotFound):
                    await run_in_threadpool(core.transcriptions.cancel, user_id, transcription_id)
                return
        try:
            transcript = await _finished_transcript(core, user_id, finished)
        except (Unprocessable, ServiceUnavailable) as error:
            yield _sse(_error_event(error.message))
            return
        segments = [s for s in transcript.get("segments") or [] if str(s.get("text")).strip()]
        for segment in segments[sent:]:
            yield _sse(
                openai_formats.text_delta(openai_formats.segment_delta_text(segment, sent == 0))
            )
            sent += 1
        text = " ".join(str(s.get("text") or "").strip() for s in segments)
        yield _sse(openai_formats.text_done(text))


def _sse(payload: dict[str, Any]) -> str:
    return "data: " + json.dumps(payload, separators=(",", ":"), ensure_ascii=False) + "\n\n"


def _error_event(message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"message": message, "type": "server_error"}}


def _boolean(raw: str | None, field: str) -> bool:
    value = (raw or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidRequest(f"{field} must be true or false", field=field)


def _options(upload: ReceivedUpload, *, task: Task, diarize: bool) -> dict[str, Any]:
    options: dict[str, Any] = {}
    chosen = (upload.field("model") or "").strip()
    if chosen and chosen not in openai_formats.DEFAULT_MODEL_ALIASES:
        options["model"] = chosen
    language = (upload.field("language") or "").strip()
    if language and task == "transcribe":
        options["language"] = language
    prompt = upload.field("prompt")
    if prompt and prompt.strip():
        options["prompt"] = prompt
    temperature = (upload.field("temperature") or "").strip()
    if temperature:
        try:
            options["temperature"] = float(temperature)
        except ValueError:
            raise InvalidRequest("temperature must be a number", field="temperature") from None
    if task == "translate":
        options["task"] = "translate"
    if diarize:
        options["diarization"] = True
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


def _known_speaker_names(fields: dict[str, list[str]]) -> tuple[str, ...]:
    names = [
        name.strip()
        for name in (
            *fields.get("known_speaker_names[]", []),
            *fields.get("known_speaker_names", []),
        )
        if name.strip()
    ]
    if len(names) > MAX_KNOWN_SPEAKERS:
        raise InvalidRequest(
            f"known_speaker_names[] takes at most {MAX_KNOWN_SPEAKERS} names",
            field="known_speaker_names[]",
        )
    if any(len(name) > 100 for name in names):
        raise InvalidRequest(
            "each known speaker name is at most 100 characters", field="known_speaker_names[]"
        )
    return tuple(names)


def _format(transcript: dict[str, Any], parsed: _Request) -> Response:
    text = str(transcript.get("text") or "").strip()
    fmt = parsed.response_format
    if fmt == "json":
        return JSONResponse({"text": text})
    if fmt == "verbose_json":
        task = "translate" if parsed.task == "translate" else "transcribe"
        return JSONResponse(
            openai_formats.verbose_json(transcript, parsed.granularities, task=task)
        )
    if fmt == "diarized_json":
        return JSONResponse(openai_formats.diarized_json(transcript, parsed.known_speaker_names))
    rendered = text + "\n" if fmt == "text" else render(transcript, fmt)
    return PlainTextResponse(rendered, media_type=_TEXT_TYPES[fmt])
