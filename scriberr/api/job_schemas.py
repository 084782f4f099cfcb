"""Pydantic models shared by the transcription and profile routes (job options)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt


class JobOptionsIn(BaseModel):
    """Job options as a request or profile gives them; every key is optional (unset = inherit)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str | None = Field(
        default=None, max_length=100, description="Catalog model ID, e.g. `whisper-tiny.en`."
    )
    language: str | None = Field(
        default=None, max_length=16, description="Language code such as `en`, or `auto`."
    )
    task: Literal["transcribe", "translate"] | None = None
    diarization: StrictBool | None = None
    num_speakers: StrictInt | None = Field(default=None, ge=1, le=50)
    min_speakers: StrictInt | None = Field(default=None, ge=1, le=50)
    max_speakers: StrictInt | None = Field(default=None, ge=1, le=50)
    prompt: str | None = Field(default=None, max_length=4000)
