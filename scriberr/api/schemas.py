"""Pydantic models shared by several route modules (the error envelope, simple statuses)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema

from scriberr.clock import rfc3339

# RFC 3339 UTC (`2026-04-25T18:00:00.000Z`), also for the naive datetimes SQLite returns.
UtcDateTime = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None
    request_id: str | None = None


class ErrorEnvelope(BaseModel):
    error: ErrorDetail


class StrictModel(BaseModel):
    """Request bodies: unknown fields are rejected, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorEnvelope, "description": "Invalid request"},
    401: {"model": ErrorEnvelope, "description": "Missing or invalid credentials"},
    404: {"model": ErrorEnvelope, "description": "Not found"},
    422: {"model": ErrorEnvelope, "description": "Unprocessable request"},
}
