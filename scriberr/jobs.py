"""The job vocabulary every layer shares (SPEC §3): statuses, stages and their progress ranges,
job options, attempt outcomes and the shape of job events. Defined here once; no other module
spells a status, stage, option or event type as a bare string.

Job options: `JobOptions` is a frozen dataclass whose fields carry their own `OptionSpec`
(type, bounds, description). Everything else is derived from those fields: the type checks of a
request or profile (`clean_partial`), the resolution of layers over the defaults
(`JobOptions.from_request`), the stored form (`to_stored` / `from_stored`) and the API schema
(`scriberr.api.job_schemas`). A new option is one new field here plus the engine code that uses
it. Checks against the model catalog happen in exactly one place, `JobOptions.check_catalog`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal, Protocol

# -- statuses and stages ---------------------------------------------------------------------


class JobStatus(StrEnum):
    """The status of a transcription job (stored as its value)."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL_STATUSES: frozenset[JobStatus] = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED}
)
ACTIVE_STATUSES: frozenset[JobStatus] = frozenset({JobStatus.QUEUED, JobStatus.PROCESSING})


def is_terminal(status: str) -> bool:
    return status in TERMINAL_STATUSES


class Stage(StrEnum):
    """The progress stage stored on a job (`progress_stage`)."""

    QUEUED = "queued"
    PREPARING = "preparing"
    TRANSCRIBING = "transcribing"
    DIARIZING = "diarizing"
    MERGING = "merging"
    SAVING = "saving"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"
    RECOVERED = "recovered"


@dataclass(frozen=True)
class ProgressRange:
    """Where a stage's progress starts and ends (equal for a stage that does not advance)."""

    start: float
    end: float

    def at(self, fraction: float) -> float:
        """The progress `fraction` (0-1, clamped) of the way through the stage."""
        bounded = min(1.0, max(0.0, float(fraction)))
        return self.start + (self.end - self.start) * bounded


# SPEC §3. `failed` and `canceled` keep the progress the job had, so they have no range.
STAGE_PROGRESS: Mapping[Stage, ProgressRange] = MappingProxyType(
    {
        Stage.QUEUED: ProgressRange(0.0, 0.0),
        Stage.PREPARING: ProgressRange(0.05, 0.05),
        Stage.TRANSCRIBING: ProgressRange(0.20, 0.70),
        Stage.DIARIZING: ProgressRange(0.70, 0.85),
        Stage.MERGING: ProgressRange(0.85, 0.85),
        Stage.SAVING: ProgressRange(0.95, 0.95),
        Stage.COMPLETED: ProgressRange(1.0, 1.0),
        Stage.RECOVERED: ProgressRange(0.0, 0.0),
    }
)


def stage_start(stage: Stage) -> float:
    return STAGE_PROGRESS[stage].start


class AttemptOutcome(StrEnum):
    """How one processing attempt ended (what the orchestrator reports to the worker service).

    `canceled`: a user canceled it (the row is already `canceled`); `requeued`: interrupted by
    shutdown, back to `queued`; `lost`: this worker no longer owns the row (nothing written)."""

    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"
    REQUEUED = "requeued"
    LOST = "lost"


class Origin(StrEnum):
    """Where a file (and so its transcriptions) came from. Files made through the
    OpenAI-compatible `/v1` routes stay out of the default library listing and are deleted after
    `SCRIBERR_OPENAI_RETENTION`."""

    LIBRARY = "library"
    OPENAI = "openai"


ALL_ORIGINS = "all"


def origins_from_filter(raw: str | None) -> tuple[Origin, ...] | None:
    """A listing's `origin` filter: unset → the library only; `all` → None (no filter).
    Raises ValueError for anything else."""
    value = (raw or Origin.LIBRARY).strip().lower()
    if value == ALL_ORIGINS:
        return None
    return (Origin(value),)


class FileStatus(StrEnum):
    """The status of an uploaded or imported audio file."""

    UPLOADED = "uploaded"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


# -- events ------------------------------------------------------------------------------------


class EventType(StrEnum):
    TRANSCRIPTION_QUEUED = "transcription.queued"
    TRANSCRIPTION_PROGRESS = "transcription.progress"
    TRANSCRIPTION_COMPLETED = "transcription.completed"
    TRANSCRIPTION_FAILED = "transcription.failed"
    TRANSCRIPTION_CANCELED = "transcription.canceled"
    TRANSCRIPTION_UPDATED = "transcription.updated"
    # The worker running a `processing` job went silent (its process's heartbeat is older than
    # the worker timeout, or the process is gone): `{id, status, progress, stage, stalled: true}`.
    # Sent once, by whichever process notices first; when the worker is heard from again a
    # `transcription.progress` with `stalled: false` follows, and recovery's `queued` /
    # `recovered` progress event ends it too (`stall_event`).
    TRANSCRIPTION_STALLED = "transcription.stalled"
    # A transcript segment decoded while the job runs: `{id, index, segment}`.
    TRANSCRIPTION_SEGMENT = "transcription.segment"
    FILE_READY = "file.ready"
    FILE_FAILED = "file.failed"
    # Model downloads (admins; on the requester's global stream, see services.models).
    MODEL_DOWNLOAD_PROGRESS = "model.download.progress"
    MODEL_DOWNLOAD_COMPLETED = "model.download.completed"
    MODEL_DOWNLOAD_FAILED = "model.download.failed"


TERMINAL_EVENTS: Mapping[JobStatus, EventType] = MappingProxyType(
    {
        JobStatus.COMPLETED: EventType.TRANSCRIPTION_COMPLETED,
        JobStatus.FAILED: EventType.TRANSCRIPTION_FAILED,
        JobStatus.CANCELED: EventType.TRANSCRIPTION_CANCELED,
    }
)
# Events that carry a job's state (`id, status, progress, stage`, plus `error` on failure and
# `stalled` on stall changes).
STATE_EVENTS: frozenset[EventType] = frozenset(
    {EventType.TRANSCRIPTION_PROGRESS, EventType.TRANSCRIPTION_STALLED, *TERMINAL_EVENTS.values()}
)
# The key of a job event's data saying whether its worker went silent (only on stall changes).
STALLED_KEY = "stalled"
JOB_EVENT_KEYS: tuple[str, ...] = ("id", "status", "progress", "stage")


def state_event_type(status: str) -> EventType:
    """The event announcing a job in `status`: its terminal event, else `progress`."""
    return TERMINAL_EVENTS.get(JobStatus(status), EventType.TRANSCRIPTION_PROGRESS)


def job_event_data(
    job_id: str, status: str, progress: float, stage: str, *, error: str | None = None
) -> dict[str, Any]:
    """The data of every transcription event: `{id, status, progress, stage}` (+ `error`)."""
    data: dict[str, Any] = {
        "id": job_id,
        "status": str(status),
        "progress": round(float(progress), 4),
        "stage": str(stage),
    }
    if error is not None:
        data["error"] = error
    return data


def segment_event_data(job_id: str, index: int, segment: Mapping[str, Any]) -> dict[str, Any]:
    """The data of a `transcription.segment` event: `{id, index, segment}`, where `segment` is
    `{id, start, end, text, words}` (`transcript.partial_segment`) and `index` counts from 0 in
    decoding order within the attempt."""
    return {"id": job_id, "index": int(index), "segment": dict(segment)}


@dataclass(frozen=True)
class JobEvent:
    """One transcription event: its type and its data (`job_event_data`)."""

    type: EventType
    job_id: str
    data: dict[str, Any]


def job_event(
    job_id: str,
    status: str,
    progress: float,
    stage: str,
    *,
    error: str | None = None,
    type: EventType | None = None,
) -> JobEvent:
    """The event for a job now in `status`: by default its terminal event, else `progress`."""
    return JobEvent(
        type or state_event_type(status),
        job_id,
        job_event_data(job_id, status, progress, stage, error=error),
    )


def stall_event(
    job_id: str, status: str, progress: float, stage: str, *, stalled: bool
) -> JobEvent:
    """`transcription.stalled` (`stalled: true`) when the job's worker went silent, or
    `transcription.progress` with `stalled: false` when it is heard from again."""
    data = job_event_data(job_id, status, progress, stage)
    data[STALLED_KEY] = stalled
    event_type = EventType.TRANSCRIPTION_STALLED if stalled else EventType.TRANSCRIPTION_PROGRESS
    return JobEvent(event_type, job_id, data)


def file_event_data(
    file_id: str,
    status: str,
    *,
    error: str | None = None,
    title: str | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """The data of `file.ready` (`{id, status, title, kind}`) and `file.failed`
    (`{id, status, error}`)."""
    data: dict[str, Any] = {"id": file_id, "status": str(status)}
    if error is not None:
        data["error"] = error
    if title is not None or kind is not None:
        data.update(title=title, kind=kind)
    return data


# -- job options --------------------------------------------------------------------------------

Task = Literal["transcribe", "translate"]
TASKS: tuple[str, ...] = ("transcribe", "translate")
DEFAULT_TASK: Task = "transcribe"
AUTO_LANGUAGE = "auto"
MAX_SPEAKERS = 50
MAX_PROMPT_CHARS = 4000
MAX_HOTWORDS_CHARS = 1000
OptionKind = Literal["str", "bool", "int", "float"]


@dataclass(frozen=True)
class OptionSpec:
    """How one option is typed and bounded; the API schema and every check derive from it."""

    kind: OptionKind
    description: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    lower: bool = False  # str: stored lower-cased
    blank_is_unset: bool = False  # str: "" means "not given" instead of an error


def _spec(kind: OptionKind, description: str = "", **bounds: Any) -> dict[str, OptionSpec]:
    """The dataclass-field metadata that makes a `JobOptions` field an option."""
    return {"option": OptionSpec(kind, description, **bounds)}


class OptionError(ValueError):
    """A bad option value. `malformed` (wrong type, unknown key) maps to 400, anything else
    (a well-typed value that is not acceptable) to 422; `field` names it (`options.task`)."""

    def __init__(self, message: str, *, field: str | None, malformed: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.malformed = malformed


class CatalogModel(Protocol):
    """The parts of `engine.base.ModelInfo` option checks need."""

    @property
    def id(self) -> str: ...

    @property
    def capabilities(self) -> tuple[str, ...]: ...

    @property
    def languages(self) -> tuple[str, ...]: ...


class ModelCatalog(Protocol):
    """The part of `engine.registry.ProviderRegistry` option checks need."""

    def transcription_models(self) -> Sequence[CatalogModel]: ...


@dataclass(frozen=True)
class JobOptions:
    """The resolved options of one job, as stored on `transcriptions.options`."""

    model: str = field(
        metadata=_spec("str", "Catalog model ID, e.g. `whisper-tiny.en`.", max_length=100)
    )
    language: str = field(
        default=AUTO_LANGUAGE,
        metadata=_spec("str", "Language code such as `en`, or `auto`.", max_length=16, lower=True),
    )
    task: Task = field(default=DEFAULT_TASK, metadata=_spec("str", choices=TASKS))
    diarization: bool = field(default=False, metadata=_spec("bool"))
    num_speakers: int | None = field(
        default=None, metadata=_spec("int", minimum=1, maximum=MAX_SPEAKERS)
    )
    min_speakers: int | None = field(
        default=None, metadata=_spec("int", minimum=1, maximum=MAX_SPEAKERS)
    )
    max_speakers: int | None = field(
        default=None, metadata=_spec("int", minimum=1, maximum=MAX_SPEAKERS)
    )
    prompt: str | None = field(
        default=None,
        metadata=_spec("str", max_length=MAX_PROMPT_CHARS, blank_is_unset=True),
    )
    # Decoding controls (faster-whisper's names); None = the engine's default.
    hotwords: str | None = field(
        default=None,
        metadata=_spec(
            "str",
            "Words and names to favour while decoding, e.g. `Kubernetes, Scriberr`.",
            max_length=MAX_HOTWORDS_CHARS,
            blank_is_unset=True,
        ),
    )
    beam_size: int | None = field(
        default=None,
        metadata=_spec("int", "Beam search width (engine default 5).", minimum=1, maximum=10),
    )
    temperature: float | None = field(
        default=None,
        metadata=_spec(
            "float",
            "Sampling temperature; unset = the engine's fallback schedule from 0 to 1.",
            minimum=0.0,
            maximum=1.0,
        ),
    )
    vad: bool = field(
        default=True, metadata=_spec("bool", "Skip silence with voice activity detection.")
    )
    vad_min_silence_ms: int | None = field(
        default=None,
        metadata=_spec(
            "int",
            "Shortest silence (ms) that splits speech when `vad` is on (engine default 2000).",
            minimum=100,
            maximum=10_000,
        ),
    )
    condition_on_previous_text: bool = field(
        default=True,
        metadata=_spec("bool", "Feed the previous window's text to the next one as context."),
    )

    # -- constructors ---------------------------------------------------------------------------

    @classmethod
    def defaults(cls, model: str) -> JobOptions:
        """The configuration defaults (`SPEECH_ENGINE_DEFAULT_MODEL`, everything else unset)."""
        return cls(model=model)

    @classmethod
    def from_request(
        cls,
        request: Mapping[str, Any] | None,
        *,
        defaults: JobOptions,
        catalog: ModelCatalog,
        layers: Iterable[Mapping[str, Any]] = (),
        prefix: str = "options",
    ) -> JobOptions:
        """Type-check the request's options, put them over `layers` (stored presets, lowest
        precedence first) over `defaults`, and check the result against the catalog.

        Raises `OptionError` naming the field (`options.language`, or `language` with
        `prefix=""`)."""
        request_layer = clean_partial(request, prefix=prefix)
        resolved = defaults.merged(*layers, request_layer)
        resolved.check_catalog(catalog, prefix=prefix)
        return resolved

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any] | None, defaults: JobOptions) -> JobOptions:
        """Read stored options leniently: a missing or unreadable key takes its default."""
        values: dict[str, Any] = {}
        for item in fields(cls):
            spec: OptionSpec = item.metadata["option"]
            value = _lenient((stored or {}).get(item.name), spec)
            if value is not None:
                values[item.name] = value
        return replace(defaults, **values)

    def merged(self, *layers: Mapping[str, Any]) -> JobOptions:
        """These options with each layer's set (non-None, known) keys put over them in turn."""
        names = option_names()
        values: dict[str, Any] = {}
        for layer in layers:
            values.update(
                {key: value for key, value in layer.items() if key in names and value is not None}
            )
        return replace(self, **values)

    def to_stored(self) -> dict[str, Any]:
        """The stored form: every option key, unset ones as None."""
        return asdict(self)

    @property
    def detected_language(self) -> bool:
        return self.language == AUTO_LANGUAGE

    # -- the one catalog check ------------------------------------------------------------------

    def check_catalog(self, catalog: ModelCatalog, *, prefix: str = "options") -> None:
        """Check the model exists and can do what is asked, and the speaker counts agree."""
        models = {model.id: model for model in catalog.transcription_models()}
        model = models.get(self.model)
        if model is None:
            raise OptionError(f"unknown model '{self.model}'", field=_field(prefix, "model"))
        languages = tuple(model.languages or ())
        if not self.detected_language and languages and self.language not in languages:
            raise OptionError(
                f"model '{model.id}' does not support language '{self.language}'",
                field=_field(prefix, "language"),
            )
        if self.task == "translate" and not can_translate(model):
            reason = " is English-only and" if is_english_only(model) else ""
            raise OptionError(
                f"model '{model.id}'{reason} cannot translate", field=_field(prefix, "task")
            )
        low, high, count = self.min_speakers, self.max_speakers, self.num_speakers
        if low is not None and high is not None and low > high:
            raise OptionError(
                "min_speakers must not be greater than max_speakers",
                field=_field(prefix, "min_speakers"),
            )
        if count is not None and (
            (low is not None and count < low) or (high is not None and count > high)
        ):
            raise OptionError(
                "num_speakers must lie between min_speakers and max_speakers",
                field=_field(prefix, "num_speakers"),
            )


def option_specs() -> tuple[tuple[str, OptionSpec, Any], ...]:
    """(name, spec, default) of every option, in stored order (default None when required)."""
    return tuple(
        (item.name, item.metadata["option"], None if item.default is MISSING else item.default)
        for item in fields(JobOptions)
    )


def option_names() -> frozenset[str]:
    return frozenset(item.name for item in fields(JobOptions))


def clean_partial(raw: Mapping[str, Any] | None, *, prefix: str = "options") -> dict[str, Any]:
    """Type-check a partial option set (a request's or a profile's); unset (None) keys dropped.

    Raises `OptionError` naming the field for an unknown key or a bad value."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise OptionError("options must be a JSON object", field=prefix or None, malformed=True)
    specs = {name: spec for name, spec, _default in option_specs()}
    cleaned: dict[str, Any] = {}
    for key, value in raw.items():
        name = _field(prefix, key)
        spec = specs.get(key)
        if spec is None:
            raise OptionError(f"unknown option '{key}'", field=name, malformed=True)
        if value is None:
            continue
        checked = _checked(key, value, spec, name)
        if checked is not None:
            cleaned[key] = checked
    return cleaned


def _checked(key: str, value: Any, spec: OptionSpec, name: str) -> Any:
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise OptionError(f"{key} must be true or false", field=name, malformed=True)
        return value
    if spec.kind in ("int", "float"):
        return _number(key, value, spec, name)
    if not isinstance(value, str):
        raise OptionError(f"{key} must be a string", field=name, malformed=True)
    text = value.strip()
    if spec.choices:
        if text not in spec.choices:
            allowed = " or ".join(f"'{choice}'" for choice in spec.choices)
            raise OptionError(f"{key} must be {allowed}", field=name)
        return text
    if spec.max_length is not None and len(text) > spec.max_length:
        raise OptionError(f"{key} is longer than {spec.max_length} characters", field=name)
    if not text:
        if spec.blank_is_unset:
            return None
        raise OptionError(f"{key} must not be empty", field=name)
    return text.lower() if spec.lower else text


def _number(key: str, value: Any, spec: OptionSpec, name: str) -> int | float:
    wrong_type = isinstance(value, bool) or not isinstance(
        value, int if spec.kind == "int" else int | float
    )
    if wrong_type:
        kind = "an integer" if spec.kind == "int" else "a number"
        raise OptionError(f"{key} must be {kind}", field=name, malformed=True)
    low, high = spec.minimum, spec.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        raise OptionError(f"{key} must be between {_num(low)} and {_num(high)}", field=name)
    return value if spec.kind == "int" else float(value)


def _num(bound: float | None) -> str:
    if bound is None:
        return "any"
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _lenient(value: Any, spec: OptionSpec) -> Any:
    """A stored value as its option type, or None when it is missing or unreadable."""
    if value is None:
        return None
    if spec.kind == "bool":
        return bool(value)
    if spec.kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return int(value) if spec.kind == "int" else float(value)
    text = str(value)
    if spec.choices and text not in spec.choices:
        return None
    return text or None


def _field(prefix: str, key: str) -> str:
    """`options.model` for API options; just `model` when the options are top-level fields."""
    return f"{prefix}.{key}" if prefix else key


def is_english_only(model: CatalogModel) -> bool:
    return tuple(model.languages or ()) == ("en",) or str(model.id).endswith(".en")


def can_translate(model: CatalogModel) -> bool:
    """The catalog says so (`translate` capability); without capability data, any multilingual
    model is assumed to translate."""
    capabilities = tuple(model.capabilities or ())
    if capabilities:
        return "translate" in capabilities
    return not is_english_only(model)


# -- worker processes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerProcessView:
    """One worker process of the cluster as admins see it (`/api/v1/admin/workers`)."""

    id: str
    host: str  # plain host name
    pid: int  # in the process's own pid namespace
    started_at: datetime
    heartbeat_at: datetime
    alive: bool  # judged like queue recovery judges owners (`queue.liveness`)
    dead_at: datetime | None  # when it was marked dead or stopped; pruned a retention later
    running_jobs: tuple[str, ...]  # ids of the `processing` jobs it holds
    unhealthy_reason: str | None = None
