"""Job options: validation of partial option sets and their resolution into the stored form.

Precedence (highest first): the request's options, the named profile, the user's default
profile, then the configuration defaults (`SPEECH_ENGINE_DEFAULT_MODEL`, language `auto`, task
`transcribe`, no diarization). The resolved dict has exactly `OPTION_KEYS` and is what the
orchestrator reads from `transcriptions.options`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from scriberr.services.errors import InvalidRequest, Unprocessable

OPTION_KEYS: tuple[str, ...] = (
    "model",
    "language",
    "task",
    "diarization",
    "num_speakers",
    "min_speakers",
    "max_speakers",
    "prompt",
)
TASKS: tuple[str, ...] = ("transcribe", "translate")
_SPEAKER_KEYS = ("num_speakers", "min_speakers", "max_speakers")
MAX_SPEAKERS = 50
MAX_PROMPT_CHARS = 4000


class ModelLike(Protocol):
    """The parts of `engine.base.ModelInfo` option validation needs."""

    @property
    def id(self) -> str: ...

    @property
    def capabilities(self) -> tuple[str, ...]: ...

    @property
    def languages(self) -> tuple[str, ...]: ...


class ModelCatalog(Protocol):
    """The parts of `engine.registry.ProviderRegistry` option validation needs."""

    def transcription_models(self) -> Sequence[Any]: ...


@dataclass(frozen=True)
class OptionDefaults:
    model: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "language": "auto",
            "task": "transcribe",
            "diarization": False,
            "num_speakers": None,
            "min_speakers": None,
            "max_speakers": None,
            "prompt": None,
        }


def clean_partial(raw: Mapping[str, Any] | None, *, prefix: str = "options") -> dict[str, Any]:
    """Type-check a partial option set (request or profile); drops keys whose value is None.

    Raises `InvalidRequest` naming the field (`options.language`) for an unknown key or a value
    of the wrong type.
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidRequest("options must be a JSON object", field=prefix or None)
    cleaned: dict[str, Any] = {}
    for key, value in raw.items():
        field = _field(prefix, key)
        if key not in OPTION_KEYS:
            raise InvalidRequest(f"unknown option '{key}'", field=field)
        if value is None:
            continue
        cleaned[key] = _check_type(key, value, field)
    return cleaned


def _check_type(key: str, value: Any, field: str) -> Any:
    if key in ("model", "language", "prompt"):
        if not isinstance(value, str):
            raise InvalidRequest(f"{key} must be a string", field=field)
        text = value.strip()
        if key == "prompt":
            if len(text) > MAX_PROMPT_CHARS:
                raise Unprocessable(
                    f"prompt is longer than {MAX_PROMPT_CHARS} characters", field=field
                )
            return text or None
        if not text:
            raise Unprocessable(f"{key} must not be empty", field=field)
        return text.lower() if key == "language" else text
    if key == "task":
        if not isinstance(value, str):
            raise InvalidRequest("task must be a string", field=field)
        if value not in TASKS:
            raise Unprocessable("task must be 'transcribe' or 'translate'", field=field)
        return value
    if key == "diarization":
        if not isinstance(value, bool):
            raise InvalidRequest("diarization must be true or false", field=field)
        return value
    # speaker counts
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"{key} must be an integer", field=field)
    if not 1 <= value <= MAX_SPEAKERS:
        raise Unprocessable(f"{key} must be between 1 and {MAX_SPEAKERS}", field=field)
    return value


def resolve(layers: Iterable[Mapping[str, Any]], defaults: OptionDefaults) -> dict[str, Any]:
    """Merge option layers given lowest precedence first over the defaults."""
    resolved = defaults.as_dict()
    for layer in layers:
        for key, value in layer.items():
            if key in OPTION_KEYS and value is not None:
                resolved[key] = value
    return resolved


def validate_resolved(
    options: Mapping[str, Any], catalog: ModelCatalog, *, prefix: str = "options"
) -> None:
    """Check a resolved option set against the model catalog and itself (422 naming the field)."""
    models = {model.id: model for model in catalog.transcription_models()}
    model = models.get(options["model"])
    if model is None:
        raise Unprocessable(f"unknown model '{options['model']}'", field=_field(prefix, "model"))
    language = options["language"]
    languages = tuple(getattr(model, "languages", ()) or ())
    if language != "auto" and languages and language not in languages:
        raise Unprocessable(
            f"model '{model.id}' does not support language '{language}'",
            field=_field(prefix, "language"),
        )
    if options["task"] == "translate" and not can_translate(model):
        reason = "is English-only and" if is_english_only(model) else ""
        raise Unprocessable(
            f"model '{model.id}' {reason} cannot translate".replace("  ", " "),
            field=_field(prefix, "task"),
        )
    minimum, maximum = options.get("min_speakers"), options.get("max_speakers")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise Unprocessable(
            "min_speakers must not be greater than max_speakers",
            field=_field(prefix, "min_speakers"),
        )
    count = options.get("num_speakers")
    if count is not None and (
        (minimum is not None and count < minimum) or (maximum is not None and count > maximum)
    ):
        raise Unprocessable(
            "num_speakers must lie between min_speakers and max_speakers",
            field=_field(prefix, "num_speakers"),
        )


def validate_partial_against_catalog(
    partial: Mapping[str, Any], catalog: ModelCatalog, defaults: OptionDefaults, *, prefix: str
) -> None:
    """Validate a stored preset (profile) on its own, filled up with the defaults."""
    validate_resolved(resolve([partial], defaults), catalog, prefix=prefix)


def _field(prefix: str, key: str) -> str:
    """`options.model` for API options; just `model` when the options are top-level fields."""
    return f"{prefix}.{key}" if prefix else key


def is_english_only(model: Any) -> bool:
    languages = tuple(getattr(model, "languages", ()) or ())
    return languages == ("en",) or str(model.id).endswith(".en")


def can_translate(model: Any) -> bool:
    """The catalog says so (`translate` capability); without capability data, any multilingual
    model is assumed to translate."""
    capabilities = tuple(getattr(model, "capabilities", ()) or ())
    if capabilities:
        return "translate" in capabilities
    return not is_english_only(model)
