"""A completed job's transcript as a document people work with (SPEC §4, §7): reading the current
or an earlier revision, exports, speaker names, corrections with revisions, and revert.

Rules kept here:
- Every read renders the current revision with the user's speaker names in `speakers`; `speaker`
  keys stay labels. Naming never re-runs the engine and never creates a revision.
- The ETag names the current revision and the names (`"r<revision>-<hash>"`); a correction must
  send it in `If-Match` (428 without, 412 when stale). The check is repeated inside the write
  transaction, so two editors can never both save on top of the same revision.
- A correction changes segments' text and/or speaker. A segment whose text changed gets new words
  laid over its time span in proportion to their length (no engine confidence on them); a
  speaker-only change keeps the words' times and moves them to the new speaker. Edited segments
  carry `edited: true`; the transcript's `text` becomes the segments' texts joined.
- A revert saves an earlier revision's document again, unchanged, as the next revision.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scriberr.jobs import JobStatus
from scriberr.persistence.transcript_repository import (
    RevisionRecord,
    StaleRevision,
    TranscriptRepository,
)
from scriberr.persistence.transcription_repository import TranscriptionRepository
from scriberr.services.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Unprocessable,
)
from scriberr.transcript import ExportOptions, export, parse_stored
from scriberr.transcript.layout import retime, words_by_segment

MAX_SEGMENT_TEXT = 10_000
MAX_NAME = 200
_LABEL = re.compile(r"^SPEAKER_\d{2,3}$")


@dataclass(frozen=True)
class Document:
    transcription_id: str
    transcript: dict[str, Any]
    revision: int
    current_revision: int
    etag: str


@dataclass(frozen=True)
class SpeakerInfo:
    label: str
    name: str | None
    talk_seconds: float


@dataclass(frozen=True)
class SegmentEdit:
    id: str
    text: str | None = None
    speaker: str | None = None


def make_etag(revision: int, names: Mapping[str, str]) -> str:
    digest = hashlib.sha256(json.dumps(sorted(names.items())).encode()).hexdigest()[:12]
    return f'"r{revision}-{digest}"'


def _labels(transcript: Mapping[str, Any]) -> list[str]:
    found: set[str] = set()
    for item in transcript.get("speakers") or []:
        if isinstance(item, Mapping) and isinstance(item.get("label"), str):
            found.add(item["label"])
    for key in ("segments", "words", "speaker_turns"):
        for item in transcript.get(key) or []:
            if isinstance(item, Mapping) and isinstance(item.get("speaker"), str):
                found.add(item["speaker"])
    return sorted(found)


def _with_names(transcript: dict[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    labels = _labels(transcript)
    if labels:
        transcript["speakers"] = [{"label": label, "name": names.get(label)} for label in labels]
    return transcript


class TranscriptService:
    def __init__(
        self, *, transcriptions: TranscriptionRepository, documents: TranscriptRepository
    ) -> None:
        self._jobs = transcriptions
        self._documents = documents

    # ------------------------------------------------------------------ reads

    def document(
        self, user_id: str, transcription_id: str, revision: int | None = None
    ) -> Document:
        """The current revision (or `revision`) with names; 404 unknown, 409 before completion."""
        record = self._jobs.get(user_id, transcription_id)
        if record is None:
            raise NotFound("transcription not found")
        if record.status != JobStatus.COMPLETED:
            raise Conflict(f"transcription is {record.status}; the transcript is not available")
        stored = self._documents.read(user_id, transcription_id, revision)
        if stored is None:
            if revision is not None:
                raise NotFound("revision not found", field="revision")
            raise NotFound("transcription not found")
        transcript = parse_stored(stored.transcript_json)
        if transcript.get("language") is None and record.language:
            transcript["language"] = record.language
        return Document(
            transcription_id=transcription_id,
            transcript=_with_names(transcript, stored.names),
            revision=stored.revision,
            current_revision=stored.current_revision,
            etag=make_etag(stored.current_revision, stored.names),
        )

    def transcript(self, user_id: str, transcription_id: str) -> dict[str, Any]:
        return self.document(user_id, transcription_id).transcript

    def export(
        self,
        user_id: str,
        transcription_id: str,
        fmt: str,
        options: ExportOptions,
        revision: int | None = None,
    ) -> bytes:
        document = self.document(user_id, transcription_id, revision)
        record = self._jobs.get(user_id, transcription_id)
        title = record.title if record is not None else None
        created = record.completed_at if record is not None else None
        return export(
            document.transcript,
            fmt,
            ExportOptions(
                speakers=options.speakers,
                timestamps=options.timestamps,
                limits=options.limits,
                title=title,
                created_at=created,
                uri=transcription_id,
            ),
        )

    # --------------------------------------------------------------- speakers

    def speakers(self, user_id: str, transcription_id: str) -> list[SpeakerInfo]:
        transcript = self.document(user_id, transcription_id).transcript
        talk: dict[str, float] = {}
        timed = transcript.get("speaker_turns") or transcript.get("segments") or []
        for item in timed:
            label = item.get("speaker")
            if isinstance(label, str):
                span = float(item.get("end", 0.0)) - float(item.get("start", 0.0))
                talk[label] = talk.get(label, 0.0) + max(0.0, span)
        return [
            SpeakerInfo(
                label=item["label"],
                name=item.get("name"),
                talk_seconds=round(talk.get(item["label"], 0.0), 3),
            )
            for item in transcript.get("speakers") or []
        ]

    def name_speakers(
        self, user_id: str, transcription_id: str, changes: Mapping[str, Any]
    ) -> list[SpeakerInfo]:
        """`{"SPEAKER_00": "Alice", "SPEAKER_01": null}`: name or un-name labels."""
        labels = set(_labels(self.document(user_id, transcription_id).transcript))
        if not changes:
            raise InvalidRequest("give at least one speaker label to name")
        cleaned: dict[str, str | None] = {}
        for label, name in changes.items():
            if label not in labels:
                raise Unprocessable(f"unknown speaker label {label!r}", field=label)
            if name is not None and not isinstance(name, str):
                raise Unprocessable("a name must be a string or null", field=label)
            text = " ".join(name.split()) if isinstance(name, str) else ""
            if len(text) > MAX_NAME:
                raise Unprocessable(f"a name is at most {MAX_NAME} characters", field=label)
            cleaned[label] = text or None
        if self._documents.set_names(user_id, transcription_id, cleaned) is None:
            raise NotFound("transcription not found")
        return self.speakers(user_id, transcription_id)

    # ------------------------------------------------------------ corrections

    def edit(
        self,
        user_id: str,
        transcription_id: str,
        edits: Sequence[SegmentEdit],
        *,
        if_match: str | None,
    ) -> Document:
        current = self.document(user_id, transcription_id)
        _check_precondition(if_match, current.etag, required=True)
        if not edits:
            raise Unprocessable("give at least one segment to change", field="segments")
        transcript = apply_edits(current.transcript, edits)
        return self._save(user_id, transcription_id, current, transcript, None)

    def revisions(self, user_id: str, transcription_id: str) -> list[RevisionRecord]:
        self.document(user_id, transcription_id)
        rows = self._documents.revisions(user_id, transcription_id)
        if rows is None:
            raise NotFound("transcription not found")
        return rows

    def revert(
        self,
        user_id: str,
        transcription_id: str,
        revision: int,
        *,
        if_match: str | None,
    ) -> Document:
        current = self.document(user_id, transcription_id)
        _check_precondition(if_match, current.etag, required=False)
        if revision >= current.current_revision:
            raise Unprocessable(
                f"revision must be earlier than the current revision ({current.current_revision})",
                field="revision",
            )
        target = self.document(user_id, transcription_id, revision)
        return self._save(user_id, transcription_id, current, target.transcript, revision)

    def _save(
        self,
        user_id: str,
        transcription_id: str,
        current: Document,
        transcript: dict[str, Any],
        reverted_from: int | None,
    ) -> Document:
        stored = {k: v for k, v in transcript.items() if k != "speakers"}
        if "speakers" in transcript:  # names live apart from revisions; keep labels only
            stored["speakers"] = [
                {"label": item["label"], "name": None} for item in transcript["speakers"]
            ]
        try:
            self._documents.save(
                user_id,
                transcription_id,
                expected_revision=current.current_revision,
                transcript=stored,
                author_id=user_id,
                reverted_from=reverted_from,
            )
        except StaleRevision:
            raise PreconditionFailed(
                "the transcript changed since it was read; reload it and apply the change again"
            ) from None
        return self.document(user_id, transcription_id)


def _check_precondition(if_match: str | None, etag: str, *, required: bool) -> None:
    if if_match is None or not if_match.strip():
        if required:
            raise PreconditionRequired(
                "send the transcript's ETag in If-Match to change it", field="If-Match"
            )
        return
    offered = [tag.strip().removeprefix("W/") for tag in if_match.split(",")]
    if "*" not in offered and etag not in offered:
        raise PreconditionFailed(
            "the transcript changed since it was read; reload it and apply the change again",
            field="If-Match",
        )


def apply_edits(transcript: Mapping[str, Any], edits: Sequence[SegmentEdit]) -> dict[str, Any]:
    """A new transcript dict with `edits` applied (see the module docstring)."""
    document = copy.deepcopy(dict(transcript))
    segments: list[dict[str, Any]] = document.get("segments") or []
    by_id = {segment.get("id"): index for index, segment in enumerate(segments)}
    words: list[dict[str, Any]] = document.get("words") or []
    groups = words_by_segment(segments, words)
    labels = set(_labels(document))
    replaced: set[int] = set()
    added: list[dict[str, Any]] = []
    seen: set[str] = set()
    for position, edit in enumerate(edits):
        field = f"segments[{position}]"
        if edit.id not in by_id:
            raise Unprocessable(f"unknown segment {edit.id!r}", field=f"{field}.id")
        if edit.id in seen:
            raise Unprocessable(f"segment {edit.id!r} is given twice", field=f"{field}.id")
        seen.add(edit.id)
        index = by_id[edit.id]
        segment = segments[index]
        if edit.speaker is not None:
            if edit.speaker not in labels and not _LABEL.match(edit.speaker):
                raise Unprocessable(
                    "speaker must be a label such as SPEAKER_00", field=f"{field}.speaker"
                )
            segment["speaker"] = edit.speaker
            for word in groups[index]:
                word["speaker"] = edit.speaker
        if edit.text is not None:
            text = " ".join(edit.text.split())
            if not text:
                raise Unprocessable("text must not be empty", field=f"{field}.text")
            if len(text) > MAX_SEGMENT_TEXT:
                raise Unprocessable(
                    f"text is at most {MAX_SEGMENT_TEXT} characters", field=f"{field}.text"
                )
            if text != segment.get("text"):
                segment["text"] = text
                replaced.update(id(word) for word in groups[index])
                for token in retime(text, float(segment["start"]), float(segment["end"])):
                    word = {"start": token.start, "end": token.end, "word": token.text}
                    if isinstance(segment.get("speaker"), str):
                        word["speaker"] = segment["speaker"]
                    added.append(word)
        segment["edited"] = True
    kept = [word for word in words if id(word) not in replaced]
    document["words"] = sorted([*kept, *added], key=lambda w: (float(w["start"]), float(w["end"])))
    document["segments"] = segments
    document["text"] = " ".join(str(s.get("text") or "") for s in segments).strip()
    all_labels = _labels(document)
    if all_labels:
        document["speakers"] = [{"label": label, "name": None} for label in all_labels]
    return document
