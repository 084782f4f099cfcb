"""Transcript routes (SPEC §5 added routes, §7): the transcript and its exports, speaker names,
corrections (`If-Match` → new revision, 412 when stale), revisions and revert.

Export options are validated strictly: a bad value is 422 naming the parameter, and an option
given with a format it does not apply to (subtitle layout outside srt/vtt, `timestamps` outside
txt/docx, any option without `format`) is 400 naming it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, Header, Path, Query, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from scriberr.api.deps import CoreDep, CurrentUser
from scriberr.api.schemas import ERROR_RESPONSES, StrictModel
from scriberr.clock import rfc3339
from scriberr.services.errors import InvalidRequest
from scriberr.services.transcripts import Document, SegmentEdit, SpeakerInfo
from scriberr.transcript import CueLimits, ExportOptions
from scriberr.transcript.export import SUBTITLE_FORMATS, TIMESTAMP_FORMATS

router = APIRouter(prefix="/api/v1", tags=["transcripts"], responses=ERROR_RESPONSES)

TranscriptionId = Annotated[
    str, Path(description="Transcription ID (`tr_…`).", min_length=1, max_length=64)
]
ExportFormat = Literal["txt", "srt", "vtt", "json", "tsv", "rttm", "docx"]
Flag = Literal["true", "false"]
_EXPORT_TYPES = {
    "txt": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "json": "application/json",
    "tsv": "text/tab-separated-values; charset=utf-8",
    "rttm": "text/plain; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
_STATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"description": "The job has not completed."},
}


class TranscriptOut(BaseModel):
    transcription_id: str
    revision: int
    text: str
    language: str | None
    duration: float | None = None
    segments: list[dict[str, Any]]
    words: list[dict[str, Any]]
    speakers: list[dict[str, Any]] | None = None
    speaker_turns: list[dict[str, Any]] | None = None


class SpeakerOut(BaseModel):
    label: str
    name: str | None
    talk_seconds: float


class SpeakerList(BaseModel):
    items: list[SpeakerOut]


class SegmentEditIn(StrictModel):
    id: str = Field(min_length=1, max_length=40)
    text: str | None = Field(default=None, max_length=10_000)
    speaker: str | None = Field(default=None, min_length=1, max_length=40)


class TranscriptPatch(StrictModel):
    segments: list[SegmentEditIn] = Field(min_length=1, max_length=10_000)


class RevertIn(StrictModel):
    revision: int = Field(default=0, ge=0)


class RevisionOut(BaseModel):
    revision: int
    author_id: str | None
    created_at: str | None
    reverted_from: int | None
    current: bool


class RevisionList(BaseModel):
    items: list[RevisionOut]
    next_cursor: str | None = None


def _document_response(document: Document) -> Response:
    transcript = document.transcript
    body: dict[str, Any] = {
        "transcription_id": document.transcription_id,
        "revision": document.revision,
        "text": str(transcript.get("text") or ""),
        "language": transcript.get("language"),
        "duration": transcript.get("duration"),
        "segments": list(transcript.get("segments") or []),
        "words": list(transcript.get("words") or []),
    }
    for key in ("speakers", "speaker_turns"):
        if key in transcript:
            body[key] = transcript[key]
    headers = {"ETag": document.etag} if document.revision == document.current_revision else {}
    # Encoded with orjson: a 2-hour transcript has tens of thousands of word dicts, which the
    # standard library (and Pydantic validation) take most of the response time to encode.
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)


def _speakers(items: list[SpeakerInfo]) -> SpeakerList:
    return SpeakerList(
        items=[SpeakerOut(label=s.label, name=s.name, talk_seconds=s.talk_seconds) for s in items]
    )


def _export_options(
    fmt: str | None,
    speakers: str | None,
    timestamps: str | None,
    layout: dict[str, Any],
) -> ExportOptions:
    given = {name: value for name, value in layout.items() if value is not None}
    if fmt is None:
        extra = [
            name
            for name, value in (("speakers", speakers), ("timestamps", timestamps), *given.items())
            if value is not None
        ]
        if extra:
            raise InvalidRequest(f"{extra[0]} applies to exports; add format=…", field=extra[0])
        return ExportOptions()
    if given and fmt not in SUBTITLE_FORMATS:
        name = next(iter(given))
        raise InvalidRequest(f"{name} applies to srt and vtt only", field=name)
    if timestamps is not None and fmt not in TIMESTAMP_FORMATS:
        raise InvalidRequest("timestamps applies to txt and docx only", field="timestamps")
    defaults = CueLimits()
    return ExportOptions(
        speakers=speakers != "false",
        timestamps=timestamps == "true" or (timestamps is None and fmt == "docx"),
        limits=CueLimits(
            max_line_chars=given.get("max_line_chars", defaults.max_line_chars),
            max_lines=given.get("max_lines", defaults.max_lines),
            max_cue_seconds=given.get("max_cue_seconds", defaults.max_cue_seconds),
        ),
    )


@router.get(
    "/transcriptions/{transcription_id}/transcript",
    response_model=TranscriptOut,
    summary="The transcript (JSON, with an ETag) or an export with ?format=",
    responses={
        **_STATE_RESPONSES,
        200: {
            "content": {media: {} for media in _EXPORT_TYPES.values()},
            "description": "The transcript, or the export in the asked format.",
        },
    },
)
async def get_transcript(
    transcription_id: TranscriptionId,
    core: CoreDep,
    user: CurrentUser,
    format: Annotated[ExportFormat | None, Query(description="Export format.")] = None,
    revision: Annotated[
        int | None, Query(ge=0, description="Read an earlier revision (default: current).")
    ] = None,
    speakers: Annotated[Flag | None, Query(description="Show speakers (default true).")] = None,
    timestamps: Annotated[
        Flag | None, Query(description="txt: start time before each paragraph.")
    ] = None,
    max_line_chars: Annotated[
        int | None, Query(ge=10, le=200, description="srt/vtt: characters per line (42).")
    ] = None,
    max_lines: Annotated[int | None, Query(ge=1, le=10, description="srt/vtt: lines (2).")] = None,
    max_cue_seconds: Annotated[
        float | None, Query(ge=1.0, le=60.0, description="srt/vtt: cue length (7).")
    ] = None,
) -> Response:
    layout = {
        "max_line_chars": max_line_chars,
        "max_lines": max_lines,
        "max_cue_seconds": max_cue_seconds,
    }
    options = _export_options(format, speakers, timestamps, layout)
    if format is None:
        document = await run_in_threadpool(
            core.transcripts.document, user.user_id, transcription_id, revision
        )
        return _document_response(document)
    content = await run_in_threadpool(
        core.transcripts.export, user.user_id, transcription_id, format, options, revision
    )
    disposition = "attachment" if format == "docx" else "inline"
    return Response(
        content=content,
        media_type=_EXPORT_TYPES[format],
        headers={"Content-Disposition": f'{disposition}; filename="{transcription_id}.{format}"'},
    )


@router.patch(
    "/transcriptions/{transcription_id}/transcript",
    response_model=TranscriptOut,
    summary="Correct segments (text and/or speaker): a new revision; needs If-Match",
    responses={
        **_STATE_RESPONSES,
        412: {"description": "The transcript changed since it was read (stale If-Match)."},
        428: {"description": "If-Match is missing."},
    },
)
async def patch_transcript(
    transcription_id: TranscriptionId,
    body: TranscriptPatch,
    core: CoreDep,
    user: CurrentUser,
    if_match: Annotated[str | None, Header(description="The transcript's ETag.")] = None,
) -> Response:
    edits = [SegmentEdit(id=s.id, text=s.text, speaker=s.speaker) for s in body.segments]
    document = await run_in_threadpool(
        lambda: core.transcripts.edit(user.user_id, transcription_id, edits, if_match=if_match)
    )
    return _document_response(document)


@router.get(
    "/transcriptions/{transcription_id}/transcript/revisions",
    response_model=RevisionList,
    summary="Revisions of the transcript (0 is the engine's output)",
    responses=_STATE_RESPONSES,
)
async def list_revisions(
    transcription_id: TranscriptionId, core: CoreDep, user: CurrentUser
) -> RevisionList:
    rows = await run_in_threadpool(core.transcripts.revisions, user.user_id, transcription_id)
    last = rows[-1].revision if rows else 0
    return RevisionList(
        items=[
            RevisionOut(
                revision=row.revision,
                author_id=row.author_id,
                created_at=rfc3339(row.created_at),
                reverted_from=row.reverted_from,
                current=row.revision == last,
            )
            for row in rows
        ]
    )


@router.post(
    "/transcriptions/{transcription_id}/transcript:revert",
    response_model=TranscriptOut,
    summary="Bring back revision 0 (default) or an earlier revision, as a new revision",
    responses={**_STATE_RESPONSES, 412: {"description": "Stale If-Match (when sent)."}},
)
async def revert_transcript(
    transcription_id: TranscriptionId,
    core: CoreDep,
    user: CurrentUser,
    body: Annotated[RevertIn | None, Body()] = None,
    if_match: Annotated[str | None, Header(description="The transcript's ETag.")] = None,
) -> Response:
    target = body.revision if body is not None else 0
    document = await run_in_threadpool(
        lambda: core.transcripts.revert(user.user_id, transcription_id, target, if_match=if_match)
    )
    return _document_response(document)


@router.get(
    "/transcriptions/{transcription_id}/speakers",
    response_model=SpeakerList,
    summary="The transcript's speakers: label, name and talk time",
    responses=_STATE_RESPONSES,
)
async def get_speakers(
    transcription_id: TranscriptionId, core: CoreDep, user: CurrentUser
) -> SpeakerList:
    items = await run_in_threadpool(core.transcripts.speakers, user.user_id, transcription_id)
    return _speakers(items)


@router.patch(
    "/transcriptions/{transcription_id}/speakers",
    response_model=SpeakerList,
    summary='Name speakers: {"SPEAKER_00": "Alice", "SPEAKER_01": null}',
    responses=_STATE_RESPONSES,
)
async def patch_speakers(
    transcription_id: TranscriptionId,
    core: CoreDep,
    user: CurrentUser,
    body: Annotated[dict[str, str | None], Body()],
) -> SpeakerList:
    items = await run_in_threadpool(
        core.transcripts.name_speakers, user.user_id, transcription_id, body
    )
    return _speakers(items)
