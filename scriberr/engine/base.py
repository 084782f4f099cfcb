"""The provider interface every speech engine implements, and the plain types that cross it.

Nothing from a speech library appears here: providers convert their library's results into these
dataclasses before returning, so engine-library types never leave the engine package.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from scriberr.jobs import JobOptions, Task

ModelKind = Literal["transcription", "diarization"]

# Called with the fraction (0.0 to 1.0) of the current step that is done.
ProgressCallback = Callable[[float], None]


class CancelToken:
    """Set by the worker when a job is canceled; engines check it or watch it to stop work."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def canceled(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        """Block up to `timeout` seconds; True once canceled."""
        return self._event.wait(timeout)

    def raise_if_canceled(self) -> None:
        if self._event.is_set():
            raise JobCanceled()


class JobCanceled(Exception):
    """Raised by a provider when its work stopped because the job was canceled."""


class EngineError(Exception):
    """A failure whose message is safe to show a user: no paths, tokens or native output.

    `code` is a short machine-readable reason (`model_unavailable`, `audio_decode`, …).
    """

    code = "engine_error"

    def __init__(self, public_message: str) -> None:
        super().__init__(public_message)
        self.public_message = public_message


class ModelUnavailableError(EngineError):
    code = "model_unavailable"


class AudioDecodeError(EngineError):
    code = "audio_decode"


class InvalidOptionsError(EngineError):
    """The request asks for something the model cannot do (e.g. translate on an English-only model)."""

    code = "invalid_options"


class EngineCrashedError(EngineError):
    code = "engine_crashed"


class ModelInstallError(EngineError):
    """A download or import that did not install the model (the cache is left as it was)."""

    code = "model_install"


@dataclass(frozen=True)
class ModelInfo:
    id: str
    name: str
    provider: str
    kind: ModelKind
    installed: bool
    default: bool
    capabilities: tuple[str, ...]
    languages: tuple[str, ...]
    size_mb: int


@dataclass(frozen=True)
class Capabilities:
    provider: str
    device: str
    transcription_models: tuple[ModelInfo, ...]
    diarization_models: tuple[ModelInfo, ...]


@dataclass(frozen=True)
class PreparedAudio:
    """Audio normalised to 16 kHz mono, written once per job for every later step to read."""

    path: Path
    duration: float
    sample_rate: int = 16000


def _from_job(request_type: type[Any], options: JobOptions, **overrides: Any) -> Any:
    """An engine request holding every job option its fields name (same name, same value), so
    a new job option reaches the engine by adding the field here."""
    names = {item.name for item in fields(request_type)} - set(overrides)
    return request_type(
        **{name: getattr(options, name) for name in names if hasattr(options, name)}, **overrides
    )


@dataclass(frozen=True)
class TranscriptionOptions:
    model: str
    language: str | None = None  # None = detect
    task: Task = "transcribe"
    prompt: str | None = None
    hotwords: str | None = None
    beam_size: int | None = None
    temperature: float | None = None
    vad: bool = True
    vad_min_silence_ms: int | None = None
    condition_on_previous_text: bool = True

    @classmethod
    def from_job(cls, options: JobOptions) -> TranscriptionOptions:
        language = None if options.detected_language else options.language
        result: TranscriptionOptions = _from_job(cls, options, language=language)
        return result


DEFAULT_DIARIZATION_MODEL = "diarization-default"


@dataclass(frozen=True)
class DiarizationOptions:
    model: str = DEFAULT_DIARIZATION_MODEL  # the job's `model` names its transcription model
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None

    @classmethod
    def from_job(cls, options: JobOptions) -> DiarizationOptions:
        result: DiarizationOptions = _from_job(cls, options, model=DEFAULT_DIARIZATION_MODEL)
        return result


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str
    probability: float | None = None


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    # Decoder confidence where the engine gives it (Whisper: mean token log-probability, the
    # probability of "no speech", and the gzip compression ratio of the text).
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    compression_ratio: float | None = None


# Called with each partial segment (its index in this attempt, from 0) as soon as it is decoded.
SegmentCallback = Callable[[int, Segment], None]


@dataclass(frozen=True)
class TranscriptionOutput:
    text: str
    language: str | None
    duration: float
    segments: tuple[Segment, ...] = ()
    words: tuple[Word, ...] = ()
    model: str = ""


@dataclass(frozen=True)
class SpeakerTurn:
    start: float
    end: float
    speaker: str


@dataclass(frozen=True)
class DiarizationOutput:
    turns: tuple[SpeakerTurn, ...] = field(default_factory=tuple)
    model: str = DEFAULT_DIARIZATION_MODEL


@runtime_checkable
class SpeechProvider(Protocol):
    """What the orchestrator needs from an engine. Implementations must be thread-safe.

    Every long call takes a `progress` callback (fraction of that step) and a `cancel` token; on
    cancel a provider raises `JobCanceled` promptly (within 2 s). Public failures are `EngineError`.
    """

    name: str

    def capabilities(self) -> Capabilities: ...

    def preload(self) -> None:
        """Start loading the models configured to be ready before the first job (in the
        background: returns at once; never downloads). Calling it again does nothing."""
        ...

    def prepare_audio(self, source: Path, destination: Path, cancel: CancelToken) -> PreparedAudio:
        """Decode any accepted input and write it to `destination` as 16 kHz mono audio."""
        ...

    def transcribe(
        self,
        audio: PreparedAudio,
        options: TranscriptionOptions,
        progress: ProgressCallback,
        cancel: CancelToken,
        on_segment: SegmentCallback | None = None,
    ) -> TranscriptionOutput:
        """Transcribe; when `on_segment` is given, each segment is also handed to it, in order,
        as soon as it is decoded (the same segments, in the same order, as the output's)."""
        ...

    def diarize(
        self,
        audio: PreparedAudio,
        options: DiarizationOptions,
        progress: ProgressCallback,
        cancel: CancelToken,
    ) -> DiarizationOutput: ...

    def close(self) -> None: ...


# Called with (bytes done, bytes in all) while a model downloads.
DownloadProgressCallback = Callable[[int, int], None]


@runtime_checkable
class ModelInstaller(Protocol):
    """A provider whose models can be fetched into, imported into and removed from its cache.

    Failures are `ModelInstallError` (public reason) or `ModelUnavailableError` (unknown model);
    a failed or canceled install leaves the cache as it was.
    """

    def download_model(
        self, model_id: str, progress: DownloadProgressCallback, cancel: CancelToken
    ) -> None: ...

    def import_model(self, model_id: str, directory: Path, cancel: CancelToken) -> None: ...

    def remove_model(self, model_id: str) -> bool: ...
