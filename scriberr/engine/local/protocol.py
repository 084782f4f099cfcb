"""Messages between the server process and an engine process (pickled over a multiprocessing pipe).

Requests go parent → child; the child answers with any number of `Progress`, `PartialSegment`
and `LogLine` messages and then exactly one `Done`, `Failed` or `Canceled`. Only plain dataclasses from here and `engine.base`
cross the pipe, never speech-library objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scriberr.engine.base import DiarizationOptions, Segment, TranscriptionOptions
from scriberr.engine.catalog import ModelLocation


@dataclass(frozen=True)
class EngineSettings:
    """Fixed for the life of an engine process."""

    device: str
    compute_type: str
    threads: int
    max_loaded: int


@dataclass(frozen=True)
class PrepareRequest:
    source: Path
    destination: Path


@dataclass(frozen=True)
class TranscribeRequest:
    audio: Path
    location: ModelLocation
    options: TranscriptionOptions  # `language` resolved (None = detect)
    stream_segments: bool = False  # send each segment as a `PartialSegment` as it is decoded


@dataclass(frozen=True)
class DiarizeRequest:
    audio: Path
    options: DiarizationOptions


@dataclass(frozen=True)
class PreloadRequest:
    """Load these models now, before a job needs them; answered with the IDs that loaded or, for
    the diarizer, are loading in the background (a job needing it waits for that load)."""

    whisper: tuple[ModelLocation, ...]
    diarization: bool


@dataclass(frozen=True)
class VerifyModelRequest:
    """Load the Whisper model in `directory` once to prove it works (then drop it)."""

    directory: Path
    multilingual: bool | None


@dataclass(frozen=True)
class StatsRequest:
    """Ask the engine process for its resource use (benchmarks, diagnostics)."""


@dataclass(frozen=True)
class EngineStats:
    pid: int
    peak_rss_mb: float
    loaded_models: tuple[str, ...]
    model_loads: int  # models loaded since the process started (preloaded ones included)
    loading_models: tuple[str, ...] = ()  # still loading in the background (the preload's)


Request = (
    PrepareRequest
    | TranscribeRequest
    | DiarizeRequest
    | PreloadRequest
    | StatsRequest
    | VerifyModelRequest
)


@dataclass(frozen=True)
class Progress:
    fraction: float


@dataclass(frozen=True)
class PartialSegment:
    """A transcript segment decoded while a `TranscribeRequest` runs (index from 0, in order)."""

    index: int
    segment: Segment


@dataclass(frozen=True)
class LogLine:
    level: int
    message: str


@dataclass(frozen=True)
class Done:
    result: object


@dataclass(frozen=True)
class Failed:
    code: str
    public_message: str


@dataclass(frozen=True)
class Canceled:
    pass
