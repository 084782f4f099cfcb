"""Pydantic models shared by the transcription and profile routes (job options).

`JobOptionsIn` is derived from the option fields of `scriberr.jobs.JobOptions` (their types,
bounds and descriptions), so a new job option appears in the API without touching this module.
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


if TYPE_CHECKING:
    JobOptionsIn = BaseModel
else:
    JobOptionsIn = _job_options_model()
