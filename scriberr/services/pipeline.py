"""Upstream Scriberr's profile shape: `options.pipeline` steps mapped to and from our flat job
options, and the per-model parameter schema that tells upstream's profile editor which step
options exist.

A pipeline is `[{kind, provider?, model?, options?}]`:
- the `transcription` step carries `model` and the options `language`, `task`, `prompt` and the
  decoding controls (`hotwords`, `beam_size`, `temperature`, `vad`, `vad_min_silence_ms`,
  `condition_on_previous_text`);
- a `diarization` step turns diarization on and carries `num_speakers`, `min_speakers`,
  `max_speakers`; without one, diarization is off.

Reading a pipeline checks every step and names the offending one in the error field
(`options.pipeline[1].kind`, `options.pipeline[0].options.language`). Flat keys given next to a
pipeline must agree with it. Profiles are stored flat; `to_pipeline` derives the pipeline view.
Every option name, type and bound comes from `scriberr.jobs.JobOptions`: step options are
type-checked by its `clean_partial`, and the parameter schema is built from its `OptionSpec`s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from scriberr.jobs import (
    AUTO_LANGUAGE,
    TASKS,
    OptionError,
    OptionSpec,
    can_translate,
    clean_partial,
    option_specs,
)
from scriberr.services.errors import Unprocessable, option_error

TRANSCRIPTION = "transcription"
DIARIZATION = "diarization"
STEP_KINDS: tuple[str, ...] = (TRANSCRIPTION, DIARIZATION)
STEP_OPTION_KEYS: dict[str, tuple[str, ...]] = {
    TRANSCRIPTION: (
        "language",
        "task",
        "prompt",
        "hotwords",
        "beam_size",
        "temperature",
        "vad",
        "vad_min_silence_ms",
        "condition_on_previous_text",
    ),
    DIARIZATION: ("num_speakers", "min_speakers", "max_speakers"),
}
PIPELINE_KEY = "pipeline"
MAX_STEPS = 8
# The flat option a step's presence decides (a diarization step = diarization on).
_STEP_SWITCH = "diarization"


def mapped_option_names() -> frozenset[str]:
    """Every `JobOptions` field a pipeline sets (all of them must exist there)."""
    return frozenset({_STEP_SWITCH, "model", *(k for v in STEP_OPTION_KEYS.values() for k in v)})


class CatalogModel(Protocol):
    """The parts of `engine.base.ModelInfo` this module reads."""

    @property
    def id(self) -> str: ...

    @property
    def provider(self) -> str: ...

    @property
    def default(self) -> bool: ...

    @property
    def capabilities(self) -> tuple[str, ...]: ...

    @property
    def languages(self) -> tuple[str, ...]: ...


class StepCatalog(Protocol):
    """The parts of `engine.registry.ProviderRegistry` this module reads (a `jobs.ModelCatalog`
    with diarization models too)."""

    def transcription_models(self) -> Sequence[CatalogModel]: ...

    def diarization_models(self) -> Sequence[CatalogModel]: ...


@dataclass(frozen=True)
class PipelineOptions:
    """A pipeline read into flat options, and where each flat key came from (for errors)."""

    options: dict[str, Any]
    fields: dict[str, str] = field(default_factory=dict)  # flat key -> pipeline field

    def field_for(self, flat_field: str | None) -> str | None:
        """`options.language` → `options.pipeline[0].options.language` when the pipeline set it."""
        if flat_field is None or not flat_field.startswith("options."):
            return flat_field
        return self.fields.get(flat_field.removeprefix("options."), flat_field)


def _step_field(index: int, *parts: str) -> str:
    return ".".join((f"options.{PIPELINE_KEY}[{index}]", *parts))


def _text(value: Any, field_name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Unprocessable("must be a string", field=field_name)
    return value.strip() or None


def _pick_model(
    models: Sequence[CatalogModel], index: int, kind: str, provider: str | None, model: str | None
) -> CatalogModel | None:
    if model is not None:
        found = next((m for m in models if m.id == model), None)
        if found is None:
            raise Unprocessable(
                f"unknown {kind} model '{model}'", field=_step_field(index, "model")
            )
        if provider is not None and provider != found.provider:
            raise Unprocessable(
                f"model '{model}' is served by provider '{found.provider}', not '{provider}'",
                field=_step_field(index, "provider"),
            )
        return found
    if provider is not None and all(m.provider != provider for m in models):
        raise Unprocessable(
            f"no {kind} provider named '{provider}'", field=_step_field(index, "provider")
        )
    return None


def _step_options(index: int, kind: str, raw: Any) -> dict[str, Any]:
    prefix = _step_field(index, "options")
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise Unprocessable("step options must be a JSON object", field=prefix)
    allowed = STEP_OPTION_KEYS[kind]
    for key in raw:
        if key not in allowed:
            raise Unprocessable(
                f"a {kind} step takes the options {', '.join(allowed)}; not '{key}'",
                field=f"{prefix}.{key}",
            )
    try:
        return clean_partial(raw, prefix=prefix)
    except OptionError as error:  # a bad step is a bad pipeline: 422
        raise Unprocessable(error.message, field=error.field) from None


def from_pipeline(steps: Any, catalog: StepCatalog) -> PipelineOptions:
    """Read upstream's pipeline into partial flat options (raises 422 naming the step)."""
    if not isinstance(steps, Sequence) or isinstance(steps, str | bytes):
        raise Unprocessable("pipeline must be a list of steps", field=f"options.{PIPELINE_KEY}")
    if len(steps) > MAX_STEPS:
        raise Unprocessable(
            f"a pipeline has at most {MAX_STEPS} steps", field=f"options.{PIPELINE_KEY}"
        )
    flat: dict[str, Any] = {_STEP_SWITCH: False}
    origin: dict[str, str] = {}
    seen: set[str] = set()
    for index, step in enumerate(steps):
        if not isinstance(step, Mapping):
            raise Unprocessable("a step must be a JSON object", field=_step_field(index))
        kind = step.get("kind")
        if kind not in STEP_KINDS:
            raise Unprocessable(
                f"step kind must be one of {', '.join(STEP_KINDS)}",
                field=_step_field(index, "kind"),
            )
        if kind in seen:
            raise Unprocessable(
                f"only one {kind} step is allowed", field=_step_field(index, "kind")
            )
        if kind == TRANSCRIPTION and seen:
            raise Unprocessable(
                "the transcription step must come first", field=_step_field(index, "kind")
            )
        seen.add(kind)
        provider = _text(step.get("provider"), _step_field(index, "provider"))
        model_id = _text(step.get("model"), _step_field(index, "model"))
        if kind == TRANSCRIPTION:
            models = catalog.transcription_models()
        else:
            models = catalog.diarization_models()
        model = _pick_model(models, index, kind, provider, model_id)
        values = _step_options(index, kind, step.get("options"))
        if kind == TRANSCRIPTION and model is not None:
            flat["model"] = model.id
            origin["model"] = _step_field(index, "model")
        if kind == DIARIZATION:
            flat[_STEP_SWITCH] = True
            origin[_STEP_SWITCH] = _step_field(index, "kind")
        for key, value in values.items():
            flat[key] = value
            origin[key] = _step_field(index, "options", key)
    return PipelineOptions(options=flat, fields=origin)


def read_profile_options(raw: Mapping[str, Any] | None, catalog: StepCatalog) -> PipelineOptions:
    """Profile options as a client sent them — flat keys, `pipeline`, or both — into partial flat
    options. Flat keys next to a pipeline must agree with what the pipeline sets."""
    if raw is None:
        return PipelineOptions(options={})
    flat_raw = raw
    if isinstance(raw, Mapping):
        flat_raw = {key: value for key, value in raw.items() if key != PIPELINE_KEY}
    try:
        flat = clean_partial(flat_raw, prefix="options")
    except OptionError as error:
        raise option_error(error) from None
    if not isinstance(raw, Mapping):
        return PipelineOptions(options=flat)
    if raw.get(PIPELINE_KEY) is None:
        return PipelineOptions(options=flat)
    read = from_pipeline(raw[PIPELINE_KEY], catalog)
    for key, value in flat.items():
        if key in read.options and read.options[key] != value:
            raise Unprocessable(
                f"options.{key} disagrees with {read.fields.get(key, 'options.pipeline')}",
                field=f"options.{key}",
            )
    return PipelineOptions(options={**flat, **read.options}, fields=read.fields)


def to_pipeline(flat: Mapping[str, Any], catalog: StepCatalog) -> list[dict[str, Any]]:
    """The pipeline view of stored (partial, flat) options."""
    transcription: dict[str, Any] = {"kind": TRANSCRIPTION}
    model_id = flat.get("model")
    if model_id:
        model = next((m for m in catalog.transcription_models() if m.id == model_id), None)
        if model is not None:
            transcription["provider"] = model.provider
        transcription["model"] = model_id
    transcription["options"] = _present(flat, STEP_OPTION_KEYS[TRANSCRIPTION])
    steps = [transcription]
    if flat.get(_STEP_SWITCH):
        diarization: dict[str, Any] = {"kind": DIARIZATION}
        model = _default_of(catalog.diarization_models())
        if model is not None:
            diarization["provider"] = model.provider
            diarization["model"] = model.id
        diarization["options"] = _present(flat, STEP_OPTION_KEYS[DIARIZATION])
        steps.append(diarization)
    return steps


def with_pipeline(flat: Mapping[str, Any], catalog: StepCatalog) -> dict[str, Any]:
    """Stored options as profiles return them: the flat keys plus `pipeline`."""
    return {**flat, PIPELINE_KEY: to_pipeline(flat, catalog)}


def _present(flat: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {key: flat[key] for key in keys if flat.get(key) is not None}


def _default_of(models: Sequence[CatalogModel]) -> CatalogModel | None:
    return next((m for m in models if m.default), None) or (models[0] if models else None)


# -- model cards (upstream's `GET /api/v1/models` item shape) -------------------------------------

CAPABILITY_NAMES: tuple[str, ...] = (
    "transcription",
    "diarization",
    "speaker_identification",
    "translation",
    "word_timestamps",
    "segment_timestamps",
    "token_timestamps",
    "streaming",
    "custom_vocabulary",
    "initial_prompt",
    "language_detection",
    "speaker_embeddings",
)


def capability_map(model: CatalogModel, kind: str) -> dict[str, bool]:
    """Our catalog's capability list as upstream's map of booleans (every name present)."""
    listed = set(model.capabilities)
    transcribes = kind == TRANSCRIPTION
    found = {
        "transcription": transcribes,
        "diarization": kind == DIARIZATION,
        "translation": transcribes and can_translate(model),
        "word_timestamps": transcribes,
        "segment_timestamps": transcribes,
        "initial_prompt": transcribes,
        "language_detection": transcribes and "language_detection" in listed,
    }
    return {name: found.get(name, False) for name in CAPABILITY_NAMES}


_LABELS = {
    "language": "Language",
    "task": "Task",
    "prompt": "Initial prompt",
    "hotwords": "Hotwords",
    "beam_size": "Beam size",
    "temperature": "Temperature",
    "vad": "Skip silence (VAD)",
    "vad_min_silence_ms": "Minimum silence (ms)",
    "condition_on_previous_text": "Use previous text as context",
    "num_speakers": "Number of speakers",
    "min_speakers": "Minimum speakers",
    "max_speakers": "Maximum speakers",
}
_DESCRIPTOR_TYPES = {"bool": "boolean", "int": "integer", "float": "number", "str": "string"}
_ALWAYS_SHOWN = frozenset({"language", "task"})  # the rest sit under "Advanced"


def _option_defaults() -> dict[str, tuple[OptionSpec, Any]]:
    return {name: (spec, default) for name, spec, default in option_specs()}


def _descriptor(key: str, kind: str) -> dict[str, Any]:
    """Upstream's parameter descriptor for one option, from its `OptionSpec`."""
    spec, default = _option_defaults()[key]
    descriptor: dict[str, Any] = {
        "key": key,
        "label": _LABELS.get(key, key.replace("_", " ").capitalize()),
        "type": _DESCRIPTOR_TYPES[spec.kind],
        "scope": "model"
        if kind == DIARIZATION
        else ("vad" if key.startswith("vad") else "decoding"),
    }
    if spec.minimum is not None:
        descriptor["min"] = spec.minimum
    if spec.maximum is not None:
        descriptor["max"] = spec.maximum
    if spec.kind in ("int", "float"):
        descriptor["step"] = 1 if spec.kind == "int" else 0.1
    if default is not None:
        descriptor["default"] = default
    if key not in _ALWAYS_SHOWN and kind == TRANSCRIPTION:
        descriptor["advanced"] = True
    if key.startswith("vad_"):
        descriptor["visible_when"] = [{"parameter": "vad", "operator": "equals", "value": True}]
    return descriptor


def parameter_schema(model: CatalogModel, kind: str) -> list[dict[str, Any]]:
    """The step options this model takes, in upstream's descriptor shape: keys, types, bounds
    and defaults from `JobOptions`' `OptionSpec`s; `language` choices from the model, `task`
    only when the model can translate."""
    schema = []
    for key in STEP_OPTION_KEYS[kind]:
        if key == "task" and not can_translate(model):
            continue
        descriptor = _descriptor(key, kind)
        if key == "language":
            descriptor["type"] = "enum"
            descriptor["options"] = [{"value": AUTO_LANGUAGE, "label": "Detect automatically"}] + [
                {"value": code, "label": code} for code in model.languages
            ]
        elif key == "task":
            labels = {"transcribe": "Transcribe", "translate": "Translate to English"}
            descriptor["type"] = "enum"
            descriptor["options"] = [{"value": task, "label": labels[task]} for task in TASKS]
        schema.append(descriptor)
    return schema
