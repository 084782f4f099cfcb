"""SQL for a transcript as a document: its revisions, its speaker names, and re-indexing it for
search when a revision is saved.

Revision 0 is the engine's output in `transcriptions.transcript` and is never written here. A save
(an edit or a revert) appends revision n+1 only when the current revision is still the one the
caller read (checked inside the write transaction, so two editors cannot both win), and replaces
the transcript's segment rows in `search_segments` in the same transaction. Every query is scoped
by `user_id`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from scriberr.clock import utcnow
from scriberr.persistence.database import Database
from scriberr.persistence.models import (
    SearchSegment,
    SpeakerName,
    Transcription,
    TranscriptRevision,
)


@dataclass(frozen=True)
class StoredTranscript:
    """The current (or a requested) revision of a completed transcription, with its names."""

    revision: int
    current_revision: int
    transcript_json: str | None
    names: dict[str, str]


@dataclass(frozen=True)
class RevisionRecord:
    revision: int
    author_id: str | None
    created_at: datetime | None
    reverted_from: int | None


class StaleRevision(Exception):
    """The transcript changed since the caller read it."""


class TranscriptRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def read(
        self, user_id: str, transcription_id: str, revision: int | None = None
    ) -> StoredTranscript | None:
        """The asked revision (default: the current one); None for an unknown/foreign job or a
        revision that does not exist."""
        with self._db.session() as session:
            row = session.execute(
                select(Transcription.transcript).where(
                    Transcription.id == transcription_id, Transcription.user_id == user_id
                )
            ).first()
            if row is None:
                return None
            engine_json: str | None = row[0]
            current = _current_revision(session, transcription_id)
            wanted = current if revision is None else revision
            if wanted < 0 or wanted > current:
                return None
            document = engine_json
            if wanted > 0:
                document = session.scalar(
                    select(TranscriptRevision.transcript).where(
                        TranscriptRevision.transcription_id == transcription_id,
                        TranscriptRevision.revision == wanted,
                    )
                )
            return StoredTranscript(
                revision=wanted,
                current_revision=current,
                transcript_json=document,
                names=_names(session, transcription_id),
            )

    def revisions(self, user_id: str, transcription_id: str) -> list[RevisionRecord] | None:
        """Revision 0 (the engine's, dated by the job's completion) and every saved one."""
        with self._db.session() as session:
            completed_at = session.execute(
                select(Transcription.completed_at).where(
                    Transcription.id == transcription_id, Transcription.user_id == user_id
                )
            ).first()
            if completed_at is None:
                return None
            rows = session.execute(
                select(
                    TranscriptRevision.revision,
                    TranscriptRevision.author_id,
                    TranscriptRevision.created_at,
                    TranscriptRevision.reverted_from,
                )
                .where(TranscriptRevision.transcription_id == transcription_id)
                .order_by(TranscriptRevision.revision)
            ).all()
        first = RevisionRecord(0, None, completed_at[0], None)
        return [first, *(RevisionRecord(r[0], r[1], r[2], r[3]) for r in rows)]

    def save(
        self,
        user_id: str,
        transcription_id: str,
        *,
        expected_revision: int,
        transcript: Mapping[str, Any],
        author_id: str,
        reverted_from: int | None = None,
    ) -> int:
        """Append the next revision and re-index; `StaleRevision` when the current revision is
        no longer `expected_revision`. Returns the new revision number."""
        with self._db.write_session() as session:
            owner = session.scalar(
                select(Transcription.user_id).where(Transcription.id == transcription_id)
            )
            if owner != user_id:
                raise StaleRevision()
            current = _current_revision(session, transcription_id)
            if current != expected_revision:
                raise StaleRevision()
            session.execute(
                insert(TranscriptRevision).values(
                    transcription_id=transcription_id,
                    revision=current + 1,
                    author_id=author_id,
                    reverted_from=reverted_from,
                    transcript=json.dumps(transcript, ensure_ascii=False),
                    created_at=utcnow(),
                )
            )
            _reindex_segments(session, transcription_id, user_id, transcript)
            return current + 1

    def set_names(
        self, user_id: str, transcription_id: str, changes: Mapping[str, str | None]
    ) -> dict[str, str] | None:
        """Name (or with None un-name) speaker labels; the names after the change, or None for
        an unknown/foreign job."""
        with self._db.write_session() as session:
            owner = session.scalar(
                select(Transcription.user_id).where(Transcription.id == transcription_id)
            )
            if owner != user_id:
                return None
            labels = list(changes)
            session.execute(
                delete(SpeakerName).where(
                    SpeakerName.transcription_id == transcription_id,
                    SpeakerName.label.in_(labels),
                )
            )
            now = utcnow()
            rows = [
                {
                    "transcription_id": transcription_id,
                    "label": label,
                    "name": name,
                    "updated_at": now,
                }
                for label, name in changes.items()
                if name is not None
            ]
            if rows:
                session.execute(insert(SpeakerName), rows)
            return _names(session, transcription_id)


def _current_revision(session: Session, transcription_id: str) -> int:
    value = session.scalar(
        select(func.max(TranscriptRevision.revision)).where(
            TranscriptRevision.transcription_id == transcription_id
        )
    )
    return int(value or 0)


def _names(session: Session, transcription_id: str) -> dict[str, str]:
    rows = session.execute(
        select(SpeakerName.label, SpeakerName.name).where(
            SpeakerName.transcription_id == transcription_id
        )
    ).all()
    return {row[0]: row[1] for row in rows}


def _reindex_segments(
    session: Session, transcription_id: str, user_id: str, transcript: Mapping[str, Any]
) -> None:
    """Replace the transcript's segment rows (not its title row) in the search index."""
    session.execute(
        delete(SearchSegment).where(
            SearchSegment.transcription_id == transcription_id,
            SearchSegment.segment_id.is_not(None),
        )
    )
    rows = [
        {
            "transcription_id": transcription_id,
            "user_id": user_id,
            "segment_id": str(segment.get("id")),
            "start": float(segment.get("start", 0.0)),
            "text": str(segment.get("text") or ""),
        }
        for segment in transcript.get("segments") or []
        if isinstance(segment, Mapping) and str(segment.get("text") or "").strip()
    ]
    if rows:
        session.execute(insert(SearchSegment), rows)
