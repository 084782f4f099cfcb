"""Pydantic models shared by the transcription and profile routes (job options, and profiles'
upstream `pipeline` shape).

`JobOptionsIn` is derived from the option fields of `scriberr.jobs.JobOptions` (their types,
bounds and descriptions), so a new job option appears in the API without touching this module.
`ProfileOptionsIn` adds upstream Scriberr's `pipeline` (mapped by `services.pipeline`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, create_model

from scriberr.jobs import OptionSpec, option_specs


def _annotation(spec: OptionSpec) -> Any:
    if spec.kind == "bool":
        return StrictBool | None
    if spec.kind == "int":
        return StrictInt | None
    if spec.kind == "float":
        return StrictFloat | StrictInt | None
    if spec.choices:
        return Literal[spec.choices] | None
    return str | None


def _field(spec: OptionSpec) -> Any:
    bounds: dict[str, Any] = {}
    if spec.minimum is not None:
        bounds["ge"] = spec.minimum
    if spec.maximum is not None:
        bounds["le"] = spec.maximum
    if spec.max_length is not None:
        bounds["max_length"] = spec.max_length
    if spec.description:
        bounds["description"] = spec.description
    return Field(default=None, **bounds)


def _job_options_model() -> type[BaseModel]:
    """Job options as a request or profile gives them; every key optional (unset = inherit)."""
    definitions: dict[str, Any] = {
        name: (_annotation(spec), _field(spec)) for name, spec, _default in option_specs()
    }
    model: type[BaseModel] = create_model(
        "JobOptionsIn",
        __config__=ConfigDict(extra="forbid", protected_namespaces=()),
        __doc__="Job options as a request or profile gives them; every key is optional "
        "(unset = inherit).",
        **definitions,
    )
    return model


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


def _profile_options_model(base: type[BaseModel]) -> type[BaseModel]:
    """Profile options: flat keys, upstream's `pipeline`, or both (they must agree)."""
    pipeline = Field(
        default=None,
        max_length=8,
        description="Upstream Scriberr's shape: `[{kind, provider, model, options}]`; a "
        "`diarization` step turns diarization on.",
    )
    model: type[BaseModel] = create_model(
        "ProfileOptionsIn",
        __base__=base,
        __doc__="Profile options: flat job options, upstream Scriberr's `pipeline`, or both "
        "(they must agree).",
        pipeline=(list[PipelineStepIn] | None, pipeline),
    )
    return model


if TYPE_CHECKING:
    JobOptionsIn = BaseModel
    ProfileOptionsIn = BaseModel
else:
    JobOptionsIn = _job_options_model()
    ProfileOptionsIn = _profile_options_model(JobOptionsIn)
