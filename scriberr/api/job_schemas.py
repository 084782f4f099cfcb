"""Pydantic models shared by the transcription and profile routes (job options, and profiles'
upstream `pipeline` shape)."""

from __future__ import annotations

from typing import Any, Literal

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


class PipelineStepIn(BaseModel):
    """One step of upstream Scriberr's profile pipeline (see `services.pipeline`)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    kind: Literal["transcription", "diarization"]
    provider: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=100)
    model_family: str | None = Field(
        default=None, max_length=100, description="Accepted for upstream clients; ignored."
    )
    options: dict[str, Any] | None = Field(
        default=None,
        description="transcription: `language`, `task`, `prompt`; diarization: "
        "`num_speakers`, `min_speakers`, `max_speakers`.",
    )


class ProfileOptionsIn(JobOptionsIn):
    """Profile options: flat keys, upstream's `pipeline`, or both (they must agree)."""

    pipeline: list[PipelineStepIn] | None = Field(
        default=None,
        max_length=8,
        description="Upstream Scriberr's shape: `[{kind, provider, model, options}]`; a "
        "`diarization` step turns diarization on.",
    )
