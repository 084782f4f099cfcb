"""SQLAlchemy 2 table models: the durable state of users, files, jobs, executions and settings.

Column names are the contract with the Alembic migrations in `migrations/versions`; change them
only together with a new migration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from scriberr.clock import utcnow
from scriberr.jobs import Stage


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # Bumped on password change, logout-all and disable: access and stream tokens carry it, so
    # older sessions stop working at once.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    role: Mapped[str] = mapped_column(String(16), default="member", server_default="member")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LoginFailure(Base):
    """One failed password check, keyed by `account:<name>` or `client:<address>`; the login
    throttle counts recent rows (shared by every process and host on the database)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "failed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200))
    failed_at: Mapped[datetime] = mapped_column(default=utcnow)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    family_id: Mapped[str] = mapped_column(String(40), index=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    preview: Mapped[str] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(default=utcnow, onupdate=utcnow)


class AudioFile(Base):
    __tablename__ = "files"
    __table_args__ = (
        Index("ix_files_user_created", "user_id", "created_at"),
        Index("ix_files_origin_created", "origin", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(16))  # audio | video | youtube
    status: Mapped[str] = mapped_column(String(16))  # uploaded | processing | ready | failed
    mime_type: Mapped[str | None] = mapped_column(String(100))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    original_filename: Mapped[str | None] = mapped_column(String(500))
    # Relative to the data dir; internal only, never in a response.
    storage_path: Mapped[str | None] = mapped_column(String(1000))
    source_url: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(String(16), default="library", server_default="library")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Transcription(Base):
    """One transcription job; also the queue row the workers claim."""

    __tablename__ = "transcriptions"
    __table_args__ = (
        Index("ix_transcriptions_claim", "status", "queued_at", "created_at", "id"),
        Index("ix_transcriptions_lease", "status", "claim_expires_at"),
        Index("ix_transcriptions_user_created", "user_id", "created_at"),
        Index("ix_transcriptions_user_updated", "user_id", "updated_at"),
        Index("ix_transcriptions_user_started", "user_id", "started_at"),
        Index("ix_transcriptions_queued_user", "status", "user_id", "queued_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(40), index=True)
    file_id: Mapped[str | None] = mapped_column(String(40), index=True)
    title: Mapped[str | None] = mapped_column(String(500))
    profile_id: Mapped[str | None] = mapped_column(String(40))
    source_transcription_id: Mapped[str | None] = mapped_column(String(40))
    # Resolved request options (model, language, task, diarization, speaker counts, prompt).
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16))  # a `jobs.JobStatus` value
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    progress_stage: Mapped[str] = mapped_column(String(32), default=Stage.QUEUED.value)
    language: Mapped[str | None] = mapped_column(String(16))
    diarization: Mapped[bool] = mapped_column(Boolean, default=False)
    # Canonical transcript JSON; deferred so listing and reading jobs never load it by accident.
    transcript: Mapped[str | None] = mapped_column(Text, deferred=True)
    error: Mapped[str | None] = mapped_column(Text)  # sanitised
    queued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    canceled_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claim_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Execution(Base):
    """One processing attempt of a transcription."""

    __tablename__ = "executions"
    __table_args__ = (Index("ix_executions_transcription", "transcription_id", "started_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    transcription_id: Mapped[str] = mapped_column(
        ForeignKey("transcriptions.id", ondelete="CASCADE")
    )
    user_id: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))  # processing|completed|failed|canceled
    worker_id: Mapped[str | None] = mapped_column(String(80))
    provider: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(80))
    request_options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    canceled_at: Mapped[datetime | None]
    processing_duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)  # sanitised
    output_path: Mapped[str | None] = mapped_column(String(1000))  # internal only


class JobLog(Base):
    """Sanitised, public per-job log lines (the logs route)."""

    __tablename__ = "job_logs"
    __table_args__ = (Index("ix_job_logs_transcription", "transcription_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transcription_id: Mapped[str] = mapped_column(
        ForeignKey("transcriptions.id", ondelete="CASCADE")
    )
    execution_id: Mapped[str | None] = mapped_column(String(40))
    level: Mapped[str] = mapped_column(String(10), default="info")
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TranscriptionSegment(Base):
    """A partial segment of the running attempt (live transcripts); removed when the attempt
    ends, since the stored transcript is then the source of truth."""

    __tablename__ = "transcription_segments"

    transcription_id: Mapped[str] = mapped_column(
        ForeignKey("transcriptions.id", ondelete="CASCADE"), primary_key=True
    )
    index: Mapped[int] = mapped_column("index", Integer, primary_key=True)
    execution_id: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class WorkerProcess(Base):
    """Heartbeat of every process that runs workers, so others can tell live owners from dead."""

    __tablename__ = "worker_processes"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Why this process cannot take jobs right now (e.g. it can neither read nor fetch audio);
    # None while it is healthy. Set by `WorkerRegistry.set_health`.
    unhealthy_reason: Mapped[str | None] = mapped_column(Text, default=None)


class WorkerKey(Base):
    """A credential a remote `scriberr worker` uses to fetch job audio from the server (and
    nothing else). Only the SHA-256 hash of the key is stored; the key is shown once."""

    __tablename__ = "worker_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    preview: Mapped[str] = mapped_column(String(32))
    created_by: Mapped[str | None] = mapped_column(String(40))  # a user id; None from the CLI
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Profile(Base):
    __tablename__ = "profiles"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_profiles_user_name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class UserSettings(Base):
    __tablename__ = "settings"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    auto_transcription_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    default_profile_id: Mapped[str | None] = mapped_column(String(40))
    local_only: Mapped[bool] = mapped_column(Boolean, default=True)
    max_upload_size_mb: Mapped[int | None] = mapped_column(Integer)
    # Upstream frontend's "rename from the transcript" switch: kept, reported false until titles
    # can be generated.
    auto_rename_enabled: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IdempotencyRecord(Base):
    """First response to a create-like request, replayed for the same `Idempotency-Key`."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("user_id", "key", "route", name="uq_idempotency_user_key_route"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(255))
    route: Mapped[str] = mapped_column(String(255))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(100), default="application/json")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TranscriptRevision(Base):
    """A saved correction of a transcript (revision 1, 2, …); revision 0 is the engine's output
    in `transcriptions.transcript`. A revert is a new revision copying an earlier one."""

    __tablename__ = "transcript_revisions"
    __table_args__ = (
        UniqueConstraint("transcription_id", "revision", name="uq_transcript_revision"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transcription_id: Mapped[str] = mapped_column(
        ForeignKey("transcriptions.id", ondelete="CASCADE")
    )
    revision: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[str | None] = mapped_column(String(40))
    reverted_from: Mapped[int | None] = mapped_column(Integer)
    transcript: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SpeakerName(Base):
    """What the user called one speaker label of one transcription."""

    __tablename__ = "speaker_names"

    transcription_id: Mapped[str] = mapped_column(
        ForeignKey("transcriptions.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SearchSegment(Base):
    """Full-text index rows: one per segment of the current revision of a completed transcript,
    plus one title row (`segment_id` NULL). The text index itself (SQLite FTS5 `search_fts`,
    PostgreSQL `tsv` + GIN) and the triggers that keep this table current live in migration
    0004; see `persistence.search_repository`."""

    __tablename__ = "search_segments"
    __table_args__ = (
        Index("ix_search_segments_transcription", "transcription_id"),
        Index("ix_search_segments_user", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transcription_id: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[str] = mapped_column(String(40))
    segment_id: Mapped[str | None] = mapped_column(String(40))
    start: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
