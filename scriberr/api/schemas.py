"""Pydantic models shared by several route modules (the error envelope, simple statuses)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema

from scriberr.clock import rfc3339

# RFC 3339 UTC (`2026-04-25T18:00:00.000Z`), also for the naive datetimes SQLite returns.
UtcDateTime = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


def multipart_upload_body(**fields: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI `openapi_extra` for a streamed multipart upload: a required binary `file` part plus
    `fields` (routes read the body themselves, so FastAPI cannot infer it)."""
    properties = {"file": {"type": "string", "format": "binary"}, **fields}
    schema = {"type": "object", "required": ["file"], "properties": properties}
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }


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


ORIGIN_HELP = (
    "`library` (default): files and jobs made in Scriberr; `openai`: those made through the "
    "OpenAI-compatible `/v1` routes (deleted after `SCRIBERR_OPENAI_RETENTION`); `all`."
)
